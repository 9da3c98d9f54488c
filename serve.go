package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/api/agent"
	"github.com/taskbolt/taskbolt/api/metrics"
	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/atomicfile"
)

// serveGCPercent is the collector's GOGC for a process that serves, unless
// GOGC is set (main sets it, so that servers started in one process by tests
// leave the process's setting alone). Go's default, 100, collects each time
// the heap doubles; a server's live heap is a few megabytes, so under load
// that was every few hundred requests, and collecting cost a create a fifth
// of its time. At 400 a create of an indexed user takes 15-20 % less CPU and
// a list 10 % less, for 10-25 MB more peak RSS under load (README
// "Configuration", GOGC).
const serveGCPercent = 400

// collectLessOften gives a serving process serveGCPercent, unless GOGC
// says otherwise.
func collectLessOften() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

func serve(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("serve", stderr)
	dev := fs.Bool("dev", false, "development mode: create a development secret in ./.env when none is set, and print a demo token")
	ephemeral := fs.Bool("ephemeral", false, "keep the data in a temporary file removed on exit (test fixtures)")
	readyFile := fs.String("ready-file", "", "once serving, write the base URL to this file")
	seed := fs.String("seed", "", "load this export or seed file at start (see README)")
	overrides := envFlags(fs, map[string]string{"host": "HOST", "port": "PORT", "db": "DATABASE_URL", "log-level": "LOG_LEVEL"})
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, vars, err := loadConfig(append(environ, overrides()...))
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if *ephemeral {
		dir, err := os.MkdirTemp("", "taskbolt-ephemeral-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir) // after the store is closed: defers run last-in first-out
		cfg.DatabaseURL = filepath.Join(dir, "taskbolt.db")
	}
	if *dev && cfg.Secret == "" && cfg.BetterAuthURL == "" {
		if cfg.Secret, err = createDevSecret(envFile(vars)); err != nil {
			return err
		}
		log.Warn("DEVELOPMENT SECRET CREATED: BETTER_AUTH_SECRET was not set, so a random one was written to " + envFile(vars) +
			". It is for local development only: in production set BETTER_AUTH_SECRET to your Better Auth app's secret.")
	}
	var m *metrics.Metrics
	if cfg.Metrics || cfg.MetricsAddr != "" {
		m = metrics.New()
	}
	verifier, sources, stopVerifiers, err := newVerifier(cfg, log, m)
	if err != nil {
		return err
	}
	defer stopVerifiers()
	st, err := openStore(ctx, cfg, openOptions{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close() // runs after the server has drained, below
	if sz, ok := st.(store.Sizer); ok && m != nil {
		m.WatchStoreSize(sz.Size)
	}
	if p, ok := st.(store.Pooler); ok && m != nil {
		m.WatchPool(p.PoolStats)
	}
	if *seed != "" {
		n, err := importFile(ctx, st, *seed, nil)
		if err != nil {
			return fmt.Errorf("--seed: %w", err)
		}
		log.Info("seeded", "file", *seed, "tasks", n)
	}

	apiCfg := api.Config{
		Store: st, Verifier: verifier, Sources: sources, Done: ctx.Done(), IdempotencyTTL: cfg.IdempotencyTTL, Heartbeat: cfg.EventsHeartbeat, StallTimeout: cfg.StreamStallTimeout, Logger: log, Version: version,
		BodyLimit: cfg.BodyLimit, CORSOrigins: cfg.CORSOrigins, AdminToken: cfg.AdminToken,
		RateLimit: api.RateLimit{PerIP: cfg.RateLimitPerIP, PerUser: cfg.RateLimitPerUser, Window: cfg.RateLimitWindow},
	}
	if mcpOn := cfg.MCP; mcpOn != nil && *mcpOn || mcpOn == nil && *dev {
		apiCfg.MCP = &api.MCPConfig{Resource: cfg.MCPResource, AuthorizationServers: cfg.authorizationServers()}
	}
	apiCfg.Chat = &api.ChatConfig{Timeout: cfg.ChatTimeout, RateLimit: cfg.ChatRateLimit}
	if cfg.chatConfigured() {
		apiCfg.Chat.Agent = agent.New(agent.Config{BaseURL: cfg.OpenAIBaseURL, APIKey: cfg.OpenAIAPIKey, Model: cfg.ChatModel,
			HistoryTokens: cfg.ChatHistoryTokens})
	} else {
		log.Info("chat is not configured: POST /api/{user_id}/chat answers 501; set OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server")
	}
	if m != nil {
		apiCfg.Observer = m
		if cfg.Metrics && cfg.MetricsAddr == "" {
			apiCfg.MetricsHandler = m.Handler()
		}
	}
	app := api.New(apiCfg)
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, m, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	baseURL := "http://" + displayAddr(ln.Addr())
	log.Info("taskbolt started", "version", version, "url", baseURL, "database", cfg.describeDatabase(),
		"cors_origins", strings.Join(cfg.CORSOrigins, ","), "admin", cfg.AdminToken != "", "mcp", apiCfg.MCP != nil,
		"chat", chatState(cfg))
	if *readyFile != "" {
		if err := atomicfile.Write(*readyFile, func(w io.Writer) error { _, err := fmt.Fprintln(w, baseURL); return err }, nil); err != nil {
			ln.Close()
			return fmt.Errorf("--ready-file: %w", err)
		}
	}
	fmt.Fprintln(stdout, "listening on "+baseURL) // the one machine-readable line: after the ready file exists
	if *dev && cfg.Secret != "" {
		printDemo(stdout, cfg, baseURL)
	}

	stopBackground := background(ctx, st, log)
	defer stopBackground()
	served := make(chan error, 1)
	go func() { served <- api.Serve(app, ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	if err := app.ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil {
		log.Warn("shutdown: requests still in flight were cut off", "err", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	log.Info("stopped")
	return nil
}

// serveMetrics serves /metrics on its own address (METRICS_ADDR), so that it
// can stay off the public port.
func serveMetrics(addr string, m *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Info("metrics served", "url", "http://"+displayAddr(ln.Addr())+"/metrics")
	return func() { srv.Close() }, nil
}

// envFlags defines a string flag for each setting in names (flag -> variable)
// and returns the NAME=value overrides of the flags that were given.
func envFlags(fs *flag.FlagSet, names map[string]string) func() []string {
	values := map[string]*string{}
	for flagName, envName := range names {
		values[flagName] = fs.String(flagName, "", "overrides "+envName)
	}
	return func() []string {
		var out []string
		fs.Visit(func(f *flag.Flag) {
			if envName, ok := names[f.Name]; ok {
				out = append(out, envName+"="+*values[f.Name])
			}
		})
		return out
	}
}

// displayAddr turns a listener address into one a client can dial.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}

// createDevSecret appends a random BETTER_AUTH_SECRET to the .env file.
func createDevSecret(path string) (string, error) {
	if path == "" {
		path = ".env"
	}
	b := make([]byte, 32)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("create development secret: %w", err)
	}
	defer f.Close()
	line := "# Development secret created by `taskbolt serve --dev`. Replace it with your Better Auth secret in production.\n" +
		"BETTER_AUTH_SECRET=" + secret + "\n"
	if _, err := f.WriteString(line); err != nil {
		return "", fmt.Errorf("create development secret: %w", err)
	}
	return secret, f.Close()
}

const demoUser = "demo-user"

func printDemo(w io.Writer, cfg config, url string) {
	tok, err := hs256.Sign([]byte(cfg.Secret), hs256.Claims(demoUser, 24*time.Hour, cfg.JWTIssuer, cfg.JWTAudience, time.Now()))
	if err != nil {
		return
	}
	fmt.Fprintf(w, "\nTry it (a token for %q, valid 24h):\n\n  curl -H 'Authorization: Bearer %s' %s/api/%s/tasks\n\n"+
		"  curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{\"title\":\"Buy milk\"}' %s/api/%s/tasks\n\n",
		demoUser, tok, url, demoUser, tok, url, demoUser)
}

// background runs the store's periodic work until ctx ends or stop is
// called: firing due reminders every second (CONTRACT: within 5 s; with
// replicas each sweeps, and each reminder still fires once) and dropping
// expired idempotency records every 10 minutes.
func background(ctx context.Context, st store.Store, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	every := func(d time.Duration, work func(now time.Time)) {
		wg.Go(func() {
			t := time.NewTicker(d)
			defer t.Stop()
			work(time.Now())
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-t.C:
					work(now)
				}
			}
		})
	}
	if r, ok := st.(store.Reminders); ok {
		every(time.Second, func(now time.Time) {
			for {
				n, err := r.FireReminders(ctx, now, 500)
				if err != nil {
					if ctx.Err() == nil {
						log.Warn("reminders: the sweep failed; it runs again in a second", "err", err)
					}
					return
				}
				if n < 500 {
					return
				}
			}
		})
	}
	if sw, ok := st.(store.IdempotencySweeper); ok {
		every(10*time.Minute, func(now time.Time) {
			if n, err := sw.SweepIdempotency(ctx, now); err != nil && ctx.Err() == nil {
				log.Warn("idempotency: the sweep failed", "err", err)
			} else if n > 0 {
				log.Debug("idempotency: expired records dropped", "count", n)
			}
		})
	}
	return func() { cancel(); wg.Wait() }
}

// chatState is how the start line describes chat: off, or the model and
// where it is served.
func chatState(cfg config) string {
	if !cfg.chatConfigured() {
		return "off"
	}
	where := "api.openai.com"
	if cfg.OpenAIBaseURL != "" {
		if u, err := url.Parse(cfg.OpenAIBaseURL); err == nil {
			where = u.Host // never the key, nor a URL's user info
		}
	}
	return cfg.ChatModel + " at " + where
}
