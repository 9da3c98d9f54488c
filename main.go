// Command taskbolt is the task API of Better Auth todo apps as one binary over
// one bbolt file. main only wires: config → store → verifiers → api → listen →
// shutdown. Everything else lives in api/, auth/ and store/.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"

	"taskbolt/api"
	"taskbolt/api/metrics"
	"taskbolt/auth"
	"taskbolt/auth/hs256"
	"taskbolt/auth/jwks"
	"taskbolt/auth/session"
	"taskbolt/store"
	"taskbolt/store/bolt"
	"taskbolt/store/dump"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var quiet quietError
		if !errors.As(err, &quiet) {
			fmt.Fprintln(os.Stderr, "taskbolt:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ error }

// quietError fails with exit status 1 and prints nothing (healthcheck).
type quietError struct{ error }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

const usage = `taskbolt — the Better Auth todo API as one binary and one data file.

Usage:
  taskbolt [serve] [flags]           run the server (the default command)
  taskbolt token --sub USER          print a token for USER, signed with BETTER_AUTH_SECRET
  taskbolt backup FILE               write a consistent snapshot of the database to FILE (hot, while serving)
  taskbolt restore FILE [--force]    replace the database with a backup (server stopped)
  taskbolt export [--user U]         print every task (or U's) as JSON
  taskbolt import FILE               load an export or seed file (idempotent; keeps ids and timestamps)
  taskbolt healthcheck [URL]         exit 0 when the server answers /healthz (for container HEALTHCHECK)
  taskbolt version                   print the version

Run "taskbolt COMMAND --help" for a command's flags. Configuration comes from
the environment and ./.env (the environment wins; flags win over both); see
README.md for every setting.
`

// commands are the subcommands, by name.
var commands = map[string]func(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error{
	"serve":       serve,
	"token":       token,
	"backup":      backup,
	"restore":     restore,
	"export":      export,
	"import":      importCmd,
	"healthcheck": healthcheck,
	"version": func(_ context.Context, _, _ []string, stdout, _ io.Writer) error {
		fmt.Fprintln(stdout, "taskbolt", version)
		return nil
	},
}

// run is the whole program; main and the end-to-end tests call it.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", name)}
	}
	err := cmd(ctx, args, environ, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // --help printed the command's usage
	}
	return err
}

// flags returns a flag set for a command whose --help shows what it does.
func flags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: taskbolt %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, keeping flag.ErrHelp recognisable and other mistakes
// usage errors. Flags may come before or after the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// config is every setting, parsed once from the environment.
type config struct {
	Secret               string        `env:"BETTER_AUTH_SECRET"`
	Host                 string        `env:"HOST" envDefault:"0.0.0.0"`
	Port                 int           `env:"PORT" envDefault:"8000"`
	DatabaseURL          string        `env:"DATABASE_URL" envDefault:"./taskbolt.db"`
	CORSOrigins          []string      `env:"CORS_ORIGINS" envDefault:"http://localhost:3000" envSeparator:","`
	JWTLeeway            time.Duration `env:"JWT_LEEWAY" envDefault:"30s"`
	JWTIssuer            string        `env:"JWT_ISSUER"`
	JWTAudience          string        `env:"JWT_AUDIENCE"`
	BodyLimit            int           `env:"BODY_LIMIT" envDefault:"1048576"`
	LogLevel             string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat            string        `env:"LOG_FORMAT" envDefault:"text"`
	ShutdownTimeout      time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`
	AdminToken           string        `env:"ADMIN_TOKEN"`
	Metrics              bool          `env:"METRICS"`
	MetricsAddr          string        `env:"METRICS_ADDR"`
	BetterAuthURL        string        `env:"BETTER_AUTH_URL"`
	JWKSURL              string        `env:"BETTER_AUTH_JWKS_URL"`
	SessionIntrospection bool          `env:"AUTH_SESSION_INTROSPECTION"`
	Verifiers            []string      `env:"AUTH_VERIFIERS" envSeparator:","`
	JWTAlgorithms        []string      `env:"JWT_ALGORITHMS" envDefault:"EdDSA,ES256,ES512,RS256,PS256" envSeparator:","`
	JWTUserClaim         string        `env:"JWT_USER_CLAIM" envDefault:"sub"`
	JWTMaxLifetime       time.Duration `env:"JWT_MAX_LIFETIME" envDefault:"24h"`
	JWTCacheSize         int           `env:"JWT_CACHE_SIZE" envDefault:"10000"`
	JWKSRefreshInterval  time.Duration `env:"JWKS_REFRESH_INTERVAL" envDefault:"5m"`
	SessionCacheTTL      time.Duration `env:"AUTH_SESSION_CACHE_TTL" envDefault:"30s"`
	SessionTimeout       time.Duration `env:"AUTH_SESSION_TIMEOUT" envDefault:"2s"`
	RateLimitPerIP       int           `env:"RATE_LIMIT_PER_IP" envDefault:"0"`
	RateLimitPerUser     int           `env:"RATE_LIMIT_PER_USER" envDefault:"0"`
	RateLimitWindow      time.Duration `env:"RATE_LIMIT_WINDOW" envDefault:"1m"`
}

// envFile is read for settings the environment does not set. TASKBOLT_ENV_FILE
// names another file; set to empty, it reads none.
func envFile(environ map[string]string) string {
	if f, ok := environ["TASKBOLT_ENV_FILE"]; ok {
		return f
	}
	return ".env"
}

// loadConfig parses the environment over the .env file. It never logs values.
func loadConfig(environ []string) (config, map[string]string, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	if path := envFile(vars); path != "" {
		fileVars, err := godotenv.Read(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return config{}, nil, fmt.Errorf("read %s: %w", path, err)
		}
		for k, v := range fileVars {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
	}
	var cfg config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		return config{}, nil, explainParseError(err)
	}
	return cfg, vars, cfg.validate()
}

// explainParseError names the variable, not the Go field, of a value that
// does not parse; it never repeats the value, which may be a secret.
func explainParseError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("configuration: %w", err)
	}
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			errs = append(errs, e)
			continue
		}
		f, _ := reflect.TypeFor[config]().FieldByName(pe.Name)
		errs = append(errs, fmt.Errorf("%s: not a valid %s", f.Tag.Get("env"), pe.Type))
	}
	return fmt.Errorf("configuration: %w", errors.Join(errs...))
}

func (c config) validate() error {
	var errs []error
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT %d is not a port number", c.Port))
	}
	if c.RateLimitPerIP < 0 || c.RateLimitPerUser < 0 || c.RateLimitWindow <= 0 {
		errs = append(errs, errors.New("RATE_LIMIT_PER_IP and RATE_LIMIT_PER_USER must be >= 0 (0 is off), RATE_LIMIT_WINDOW > 0"))
	}
	if c.AdminToken != "" && len(c.AdminToken) < api.MinAdminTokenLen {
		errs = append(errs, fmt.Errorf("ADMIN_TOKEN must be at least %d characters (openssl rand -hex 16)", api.MinAdminTokenLen))
	}
	if c.BodyLimit <= 0 {
		errs = append(errs, errors.New("BODY_LIMIT must be a positive number of bytes"))
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		errs = append(errs, fmt.Errorf("JWT_LEEWAY %v must be between 0 and 5m", c.JWTLeeway))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	for _, name := range c.Verifiers {
		if _, ok := verifiers[name]; !ok {
			errs = append(errs, fmt.Errorf("AUTH_VERIFIERS: unknown verifier %q; known: %s", name, strings.Join(slices.Sorted(maps.Keys(verifiers)), ", ")))
		}
	}
	if c.SessionCacheTTL <= 0 || c.SessionTimeout <= 0 || c.JWKSRefreshInterval <= 0 || c.JWTMaxLifetime <= 0 {
		errs = append(errs, errors.New("AUTH_SESSION_CACHE_TTL, AUTH_SESSION_TIMEOUT, JWKS_REFRESH_INTERVAL and JWT_MAX_LIFETIME must be positive"))
	}
	if c.BetterAuthURL != "" && originOf(c.BetterAuthURL) == "" {
		errs = append(errs, fmt.Errorf("BETTER_AUTH_URL %q is not an absolute URL (like http://localhost:3000)", c.BetterAuthURL))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT %q: want text or json", c.LogFormat))
	}
	if _, _, err := parseDatabaseURL(c.DatabaseURL); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// stores are the store implementations, by DATABASE_URL scheme.
var stores = map[string]func(path string) (store.Store, error){
	"bolt": func(path string) (store.Store, error) { return bolt.Open(path, bolt.Options{}) },
}

// parseDatabaseURL splits DATABASE_URL into a store name and its location.
// A plain path means bolt.
func parseDatabaseURL(u string) (scheme, location string, err error) {
	scheme, location, found := strings.Cut(u, "://")
	if !found {
		scheme, location = "bolt", u
	}
	if _, ok := stores[scheme]; !ok {
		return "", "", fmt.Errorf("DATABASE_URL scheme %q is not supported; known: %s", scheme, strings.Join(slices.Sorted(maps.Keys(stores)), ", "))
	}
	if location == "" {
		return "", "", errors.New("DATABASE_URL names no file")
	}
	return scheme, location, nil
}

// secretError explains what to do about a missing or weak secret.
func secretError(secret string) error {
	if secret == "" {
		return errors.New("BETTER_AUTH_SECRET is not set. Set it to the same secret your Better Auth app uses " +
			"(at least 32 bytes; make one with: openssl rand -base64 32), in the environment or in ./.env. " +
			"For a local trial, `make run` creates a development secret for you")
	}
	return fmt.Errorf("BETTER_AUTH_SECRET is %d bytes; it must be at least %d (make one with: openssl rand -base64 32)", len(secret), hs256.MinSecretLen)
}

// verifiers are the token verifiers, by name. Each returns the verifier and
// a line for the start-up log saying where its keys come from (never a secret).
var verifiers = map[string]func(cfg config, log *slog.Logger, m *metrics.Metrics) (auth.Verifier, string, error){
	hs256.Name: func(cfg config, _ *slog.Logger, _ *metrics.Metrics) (auth.Verifier, string, error) {
		v, err := hs256.New(hs256.Config{Secret: []byte(cfg.Secret), Leeway: cfg.JWTLeeway,
			Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, UserClaim: cfg.JWTUserClaim, MaxLifetime: cfg.JWTMaxLifetime, CacheSize: cfg.jwtCacheSize()})
		if errors.Is(err, hs256.ErrWeakSecret) {
			return nil, "", secretError(cfg.Secret)
		}
		return v, "HS256 with BETTER_AUTH_SECRET", err
	},
	jwks.Name: func(cfg config, log *slog.Logger, m *metrics.Metrics) (auth.Verifier, string, error) {
		url := cfg.jwksURL()
		if url == "" {
			return nil, "", errors.New("the jwks verifier needs BETTER_AUTH_URL or BETTER_AUTH_JWKS_URL")
		}
		iss, aud := cfg.JWTIssuer, cfg.JWTAudience
		if origin := originOf(cfg.BetterAuthURL); origin != "" {
			iss, aud = cmp.Or(iss, origin), cmp.Or(aud, origin)
		}
		v, err := jwks.New(jwks.Config{URL: url, Algorithms: cfg.JWTAlgorithms, Issuer: iss, Audience: aud,
			Leeway: cfg.JWTLeeway, UserClaim: cfg.JWTUserClaim, MaxLifetime: cfg.JWTMaxLifetime, CacheSize: cfg.jwtCacheSize(),
			RefreshInterval: cfg.JWKSRefreshInterval, Logger: log, OnFetch: m.KeyFetchHook()})
		return v, fmt.Sprintf("%s from %s, iss %q, aud %q", strings.Join(cfg.JWTAlgorithms, "/"), url, iss, aud), err
	},
	session.Name: func(cfg config, _ *slog.Logger, _ *metrics.Metrics) (auth.Verifier, string, error) {
		if cfg.BetterAuthURL == "" {
			return nil, "", errors.New("the session verifier needs BETTER_AUTH_URL")
		}
		url := betterAuthEndpoint(cfg.BetterAuthURL, "get-session")
		v, err := session.New(session.Config{URL: url, CacheTTL: cfg.SessionCacheTTL, Timeout: cfg.SessionTimeout})
		return v, fmt.Sprintf("session tokens resolved at %s, cached %v", url, cfg.SessionCacheTTL), err
	},
}

// jwtCacheSize maps JWT_CACHE_SIZE (0 = off) to the verifiers' setting
// (negative = off).
func (c config) jwtCacheSize() int {
	if c.JWTCacheSize <= 0 {
		return -1
	}
	return c.JWTCacheSize
}

func (c config) jwksURL() string {
	if c.JWKSURL != "" {
		return c.JWKSURL
	}
	if c.BetterAuthURL == "" {
		return ""
	}
	return betterAuthEndpoint(c.BetterAuthURL, "jwks")
}

// betterAuthEndpoint is the URL of one of Better Auth's endpoints. Better
// Auth serves them under /api/auth of its base URL; a BETTER_AUTH_URL that
// already ends in /api/auth is taken as that path.
func betterAuthEndpoint(base, name string) string {
	base = strings.TrimRight(base, "/")
	if !strings.HasSuffix(base, "/api/auth") {
		base += "/api/auth"
	}
	return base + "/" + name
}

// originOf is scheme://host[:port] of a URL: what Better Auth puts in iss and aud.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// enabledVerifiers is AUTH_VERIFIERS, or what the other settings turn on:
// a secret turns on hs256, BETTER_AUTH_URL jwks, AUTH_SESSION_INTROSPECTION session.
func (c config) enabledVerifiers() ([]string, error) {
	if len(c.Verifiers) > 0 {
		return c.Verifiers, nil // names checked by validate
	}
	var on []string
	if c.Secret != "" {
		on = append(on, hs256.Name)
	}
	if c.jwksURL() != "" {
		on = append(on, jwks.Name)
	}
	if c.SessionIntrospection {
		on = append(on, session.Name)
	}
	if len(on) == 0 {
		return nil, secretError("")
	}
	return on, nil
}

// newVerifier builds the dispatching verifier from the enabled ones and
// returns a function that stops their background work.
func newVerifier(cfg config, log *slog.Logger, m *metrics.Metrics) (auth.Verifier, func(), error) {
	names, err := cfg.enabledVerifiers()
	if err != nil {
		return nil, nil, err
	}
	d := auth.Dispatch{Asymmetric: cfg.JWTAlgorithms}
	var closers []func()
	for _, name := range names {
		v, where, err := verifiers[name](cfg, log, m)
		if err != nil {
			return nil, nil, err
		}
		log.Info("verifier on", "name", name, "keys", where)
		if c, ok := v.(interface{ Close() }); ok {
			closers = append(closers, c.Close)
		}
		switch name {
		case hs256.Name:
			d.HS256 = v
		case jwks.Name:
			d.JWKS = v
		case session.Name:
			d.Session = v
		}
	}
	return d, func() {
		for _, c := range closers {
			c()
		}
	}, nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("serve", "[serve] [flags]", stderr)
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
		m = metrics.New(cfg.dbLocation())
	}
	verifier, stopVerifiers, err := newVerifier(cfg, log, m)
	if err != nil {
		return err
	}
	defer stopVerifiers()
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close() // runs after the server has drained, below
	if *seed != "" {
		n, err := importFile(ctx, st, *seed, nil)
		if err != nil {
			return fmt.Errorf("--seed: %w", err)
		}
		log.Info("seeded", "file", *seed, "tasks", n)
	}

	apiCfg := api.Config{
		Store: st, Verifier: verifier, Logger: log, Version: version,
		BodyLimit: cfg.BodyLimit, CORSOrigins: cfg.CORSOrigins, AdminToken: cfg.AdminToken,
		RateLimit: api.RateLimit{PerIP: cfg.RateLimitPerIP, PerUser: cfg.RateLimitPerUser, Window: cfg.RateLimitWindow},
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
	log.Info("taskbolt started", "version", version, "url", baseURL, "database", cfg.dbLocation(),
		"cors_origins", strings.Join(cfg.CORSOrigins, ","), "admin", cfg.AdminToken != "")
	if *readyFile != "" {
		if err := bolt.WriteFileAtomic(*readyFile, func(w io.Writer) error { _, err := fmt.Fprintln(w, baseURL); return err }); err != nil {
			ln.Close()
			return fmt.Errorf("--ready-file: %w", err)
		}
	}
	fmt.Fprintln(stdout, "listening on "+baseURL) // the one machine-readable line: after the ready file exists
	if *dev && cfg.Secret != "" {
		printDemo(stdout, cfg, baseURL)
	}

	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
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

// openStore opens the store DATABASE_URL names.
func openStore(cfg config) (store.Store, error) {
	scheme, location, err := parseDatabaseURL(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	return stores[scheme](location)
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

// claimFlags collects repeated --claim k=v; a value that is valid JSON is
// used as JSON (numbers, booleans, objects), anything else as a string.
type claimFlags map[string]any

func (c claimFlags) String() string { return "" }
func (c claimFlags) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	var parsed any
	if json.Unmarshal([]byte(v), &parsed) == nil {
		c[k] = parsed
	} else {
		c[k] = v
	}
	return nil
}

func token(_ context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("token", "token --sub USER [--ttl 1h] [--claim key=value]...", stderr)
	sub := fs.String("sub", "", "the user id to put in the token's sub claim (required)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid (at most JWT_MAX_LIFETIME)")
	extra := claimFlags{}
	fs.Var(extra, "claim", "an extra claim, key=value (repeatable; JSON values allowed)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if !store.ValidUserID(*sub) {
		return usageError{errors.New("token: --sub must be 1-128 visible ASCII characters without '/'")}
	}
	cfg, _, err := loadConfig(environ)
	if err != nil {
		return err
	}
	if *ttl <= 0 || *ttl > cfg.JWTMaxLifetime {
		return usageError{fmt.Errorf("token: --ttl must be positive and at most JWT_MAX_LIFETIME (%v), or taskbolt refuses the token", cfg.JWTMaxLifetime)}
	}
	if len(cfg.Secret) < hs256.MinSecretLen {
		return secretError(cfg.Secret)
	}
	claims := hs256.Claims(*sub, *ttl, cfg.JWTIssuer, cfg.JWTAudience, time.Now())
	for k, v := range extra {
		claims[k] = v
	}
	tok, err := hs256.Sign([]byte(cfg.Secret), claims)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// backup writes a consistent snapshot to FILE: straight from the database
// file when nobody holds it, else from the running server's /admin/backup.
func backup(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("backup", "backup FILE [--url http://127.0.0.1:8000]", stderr)
	serverURL := fs.String("url", "", "the running server, when it holds the file (default http://127.0.0.1:$PORT); needs ADMIN_TOKEN")
	file, cfg, err := oneFileArg(fs, args, environ, "output FILE")
	if err != nil {
		return err
	}
	n, err := bolt.Backup(cfg.dbLocation(), file)
	if errors.Is(err, store.ErrLocked) {
		n, err = backupFromServer(ctx, cmp.Or(*serverURL, localURL(cfg)), cfg.AdminToken, file)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stderr, "backup: wrote %d bytes to %s\n", n, file)
	return nil
}

// oneFileArg parses the arguments of a command that takes exactly one FILE,
// and loads the configuration.
func oneFileArg(fs *flag.FlagSet, args, environ []string, what string) (string, config, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", config{}, err
	}
	if len(pos) != 1 {
		return "", config{}, usageError{fmt.Errorf("%s: name one %s", fs.Name(), what)}
	}
	cfg, _, err := loadConfig(environ)
	return pos[0], cfg, err
}

// dbLocation is the store's location in DATABASE_URL, which loadConfig has
// validated.
func (c config) dbLocation() string {
	_, location, _ := parseDatabaseURL(c.DatabaseURL)
	return location
}

func localURL(cfg config) string {
	host := cfg.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port))
}

func backupFromServer(ctx context.Context, serverURL, adminToken, out string) (int64, error) {
	if adminToken == "" {
		return 0, errors.New("the database is held by a running server; set ADMIN_TOKEN (the server's) to back it up through " + serverURL + "/admin/backup")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(serverURL, "/")+"/admin/backup", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s/admin/backup answered %s", serverURL, resp.Status)
	}
	var n int64
	err = bolt.WriteFileAtomic(out, func(w io.Writer) error {
		n, err = io.Copy(w, resp.Body)
		return err
	})
	if err != nil {
		return n, err
	}
	// A stream cut short must not pass for a backup.
	check, err := bolt.Open(out, bolt.Options{ReadOnly: true})
	if err != nil {
		os.Remove(out)
		return n, fmt.Errorf("the downloaded snapshot is not a whole database: %w", err)
	}
	return n, check.Close()
}

func restore(_ context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("restore", "restore FILE [--force]", stderr)
	force := fs.Bool("force", false, "replace an existing database")
	file, cfg, err := oneFileArg(fs, args, environ, "backup FILE")
	if err != nil {
		return err
	}
	if err := bolt.Restore(file, cfg.dbLocation(), *force); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stderr, "restore: %s now holds the data of %s\n", cfg.dbLocation(), file)
	return nil
}

func export(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("export", "export [--user USER] [--out FILE]", stderr)
	user := fs.String("user", "", "only this user's tasks")
	out := fs.String("out", "", "write to FILE instead of standard output")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadConfig(environ)
	if err != nil {
		return err
	}
	st, err := openOffline(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	d, ok := st.(store.Dumper)
	if !ok {
		return errors.New("export: this store cannot export")
	}
	progress := progressTo(stderr, "exported")
	write := func(w io.Writer) error {
		n, err := dump.Export(ctx, d, w, *user, progress)
		progress(-n)
		return err
	}
	if *out != "" {
		return bolt.WriteFileAtomic(*out, write)
	}
	return write(stdout)
}

func importCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("import", "import FILE", stderr)
	file, cfg, err := oneFileArg(fs, args, environ, "FILE (an export or a seed file)")
	if err != nil {
		return err
	}
	st, err := openOffline(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	progress := progressTo(stderr, "imported")
	n, err := importFile(ctx, st, file, progress)
	progress(-n)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}

// importFile loads an export or seed file into st.
func importFile(ctx context.Context, st store.Store, path string, progress func(int)) (int, error) {
	l, ok := st.(store.Loader)
	if !ok {
		return 0, errors.New("this store cannot import")
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	doc, err := dump.Read(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return dump.Import(ctx, l, doc, progress)
}

// openOffline opens the store for export and import, which need the file to
// themselves, and explains a locked one.
func openOffline(cfg config) (store.Store, error) {
	st, err := openStore(cfg)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w: export and import work on a stopped server's file (for a hot copy, use `taskbolt backup`)", err)
	}
	return st, err
}

// progressTo reports running counts on a terminal, and nothing when w is a
// pipe or a file. A negative count is the final one.
func progressTo(w io.Writer, verb string) func(int) {
	f, ok := w.(*os.File)
	if !ok {
		return func(int) {}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return func(int) {}
	}
	last := time.Time{}
	return func(n int) {
		if n < 0 {
			fmt.Fprintf(f, "\r%s %d tasks\n", verb, -n)
			return
		}
		if time.Since(last) > 100*time.Millisecond {
			fmt.Fprintf(f, "\r%s %d tasks…", verb, n)
			last = time.Now()
		}
	}
}

// healthcheck exits 0 when URL (default: this host's /healthz) answers 200;
// it prints nothing, for HEALTHCHECK in images that have no curl.
func healthcheck(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("healthcheck", "healthcheck [URL]", stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	target := ""
	if len(pos) > 0 {
		target = pos[0]
	} else {
		cfg, _, err := loadConfig(environ)
		if err != nil {
			return quietError{err}
		}
		target = localURL(cfg) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return quietError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return quietError{err}
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return quietError{fmt.Errorf("%s answered %s", target, resp.Status)}
	}
	return nil
}
