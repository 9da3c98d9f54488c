// Command taskbolt is the task API of Better Auth todo apps as one binary over
// one bbolt file. main only wires: config → store → verifiers → api → listen →
// shutdown. Everything else lives in api/, auth/ and store/.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"

	"taskbolt/api"
	"taskbolt/auth"
	"taskbolt/auth/hs256"
	"taskbolt/store"
	"taskbolt/store/bolt"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "taskbolt:", err)
		}
		os.Exit(exitCode(err))
	}
}

type usageError struct{ error }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

const usage = `taskbolt — the Better Auth todo API as one binary and one data file.

Usage:
  taskbolt [serve] [--dev]          run the server (default)
  taskbolt token --sub USER [--ttl 1h]
                                    print an HS256 token for USER, signed with BETTER_AUTH_SECRET
  taskbolt version                  print the version

Configuration comes from the environment and from ./.env (the environment
wins); see README.md for every setting.
`

// run is the whole program; main and the end-to-end tests call it.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, environ, stdout, stderr)
	case "token":
		return token(args, environ, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "taskbolt", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Errorf("unknown command %q", cmd)}
}

// config is every setting, parsed once from the environment.
type config struct {
	Secret           string        `env:"BETTER_AUTH_SECRET"`
	Host             string        `env:"HOST" envDefault:"0.0.0.0"`
	Port             int           `env:"PORT" envDefault:"8000"`
	DatabaseURL      string        `env:"DATABASE_URL" envDefault:"./taskbolt.db"`
	CORSOrigins      []string      `env:"CORS_ORIGINS" envDefault:"http://localhost:3000" envSeparator:","`
	JWTLeeway        time.Duration `env:"JWT_LEEWAY" envDefault:"30s"`
	JWTIssuer        string        `env:"JWT_ISSUER"`
	JWTAudience      string        `env:"JWT_AUDIENCE"`
	BodyLimit        int           `env:"BODY_LIMIT" envDefault:"1048576"`
	LogLevel         string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat        string        `env:"LOG_FORMAT" envDefault:"text"`
	ShutdownTimeout  time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`
	RateLimitPerIP   int           `env:"RATE_LIMIT_PER_IP" envDefault:"0"`
	RateLimitPerUser int           `env:"RATE_LIMIT_PER_USER" envDefault:"0"`
	RateLimitWindow  time.Duration `env:"RATE_LIMIT_WINDOW" envDefault:"1m"`
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
	if c.BodyLimit <= 0 {
		errs = append(errs, errors.New("BODY_LIMIT must be a positive number of bytes"))
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		errs = append(errs, fmt.Errorf("JWT_LEEWAY %v must be between 0 and 5m", c.JWTLeeway))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
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
		return "", "", fmt.Errorf("DATABASE_URL scheme %q is not supported; known: %s", scheme, strings.Join(knownStores(), ", "))
	}
	if location == "" {
		return "", "", errors.New("DATABASE_URL names no file")
	}
	return scheme, location, nil
}

func knownStores() []string {
	names := make([]string, 0, len(stores))
	for name := range stores {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
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

func newVerifier(cfg config) (auth.Verifier, error) {
	v, err := hs256.New(hs256.Config{Secret: []byte(cfg.Secret), Leeway: cfg.JWTLeeway, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience})
	if errors.Is(err, hs256.ErrWeakSecret) {
		return nil, secretError(cfg.Secret)
	}
	return v, err
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
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.Bool("dev", false, "development mode: create a development secret in ./.env when none is set, and print a demo token")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	cfg, vars, err := loadConfig(environ)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if *dev && cfg.Secret == "" {
		if cfg.Secret, err = createDevSecret(envFile(vars)); err != nil {
			return err
		}
		log.Warn("DEVELOPMENT SECRET CREATED: BETTER_AUTH_SECRET was not set, so a random one was written to " + envFile(vars) +
			". It is for local development only: in production set BETTER_AUTH_SECRET to your Better Auth app's secret.")
	}
	verifier, err := newVerifier(cfg)
	if err != nil {
		return err
	}
	scheme, location, _ := parseDatabaseURL(cfg.DatabaseURL)
	st, err := stores[scheme](location)
	if err != nil {
		return err
	}
	defer st.Close() // runs after the server has drained, below

	app := api.New(api.Config{
		Store: st, Verifier: verifier, Logger: log, Version: version,
		BodyLimit: cfg.BodyLimit, CORSOrigins: cfg.CORSOrigins,
		RateLimit: api.RateLimit{PerIP: cfg.RateLimitPerIP, PerUser: cfg.RateLimitPerUser, Window: cfg.RateLimitWindow},
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "http://" + displayAddr(ln.Addr())
	log.Info("taskbolt started", "version", version, "url", url, "store", scheme, "database", location,
		"verifiers", "hs256", "cors_origins", strings.Join(cfg.CORSOrigins, ","))
	fmt.Fprintln(stdout, "listening on "+url)
	if *dev {
		printDemo(stdout, cfg, url)
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

func token(args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "the user id to put in the token's sub claim (required)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *sub == "" || !store.ValidUserID(*sub) {
		return usageError{errors.New("token: --sub must be 1-128 visible ASCII characters without '/'")}
	}
	if *ttl <= 0 {
		return usageError{errors.New("token: --ttl must be positive")}
	}
	cfg, _, err := loadConfig(environ)
	if err != nil {
		return err
	}
	if len(cfg.Secret) < hs256.MinSecretLen {
		return secretError(cfg.Secret)
	}
	tok, err := hs256.Sign([]byte(cfg.Secret), hs256.Claims(*sub, *ttl, cfg.JWTIssuer, cfg.JWTAudience, time.Now()))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
