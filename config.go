package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/hs256"
)

// config is every setting, parsed once from the environment.
type config struct {
	// Secret is the current secret: BETTER_AUTH_SECRET, or the first entry
	// of BETTER_AUTH_SECRETS when that is set (see useVersionedSecrets).
	Secret                   string        `env:"BETTER_AUTH_SECRET"`
	VersionedSecrets         string        `env:"BETTER_AUTH_SECRETS"`
	Host                     string        `env:"HOST" envDefault:"0.0.0.0"`
	Port                     int           `env:"PORT" envDefault:"8000"`
	DatabaseURL              string        `env:"DATABASE_URL" envDefault:"./taskbolt.db"`
	DatabasePoolSize         int           `env:"DATABASE_POOL_SIZE" envDefault:"16"`
	DatabaseConnectTimeout   time.Duration `env:"DATABASE_CONNECT_TIMEOUT" envDefault:"5s"`
	DatabaseStatementTimeout time.Duration `env:"DATABASE_STATEMENT_TIMEOUT" envDefault:"5s"`
	CORSOrigins              []string      `env:"CORS_ORIGINS" envDefault:"http://localhost:3000" envSeparator:","`
	JWTLeeway                time.Duration `env:"JWT_LEEWAY" envDefault:"30s"`
	JWTIssuer                string        `env:"JWT_ISSUER"`
	JWTAudience              string        `env:"JWT_AUDIENCE"`
	BodyLimit                int           `env:"BODY_LIMIT" envDefault:"1048576"`
	LogLevel                 string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat                string        `env:"LOG_FORMAT" envDefault:"text"`
	ShutdownTimeout          time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`
	AdminToken               string        `env:"ADMIN_TOKEN"`
	Metrics                  bool          `env:"METRICS"`
	MetricsAddr              string        `env:"METRICS_ADDR"`
	MCP                      *bool         `env:"MCP"` // unset: on with --dev only
	MCPResource              string        `env:"MCP_RESOURCE"`
	OpenAIBaseURL            string        `env:"OPENAI_BASE_URL"`
	OpenAIAPIKey             string        `env:"OPENAI_API_KEY"`
	ChatModel                string        `env:"CHAT_MODEL" envDefault:"gpt-4o-mini"`
	ChatTimeout              time.Duration `env:"CHAT_TIMEOUT" envDefault:"60s"`
	ChatRateLimit            int           `env:"CHAT_RATE_LIMIT" envDefault:"20"`
	ChatHistoryTokens        int           `env:"CHAT_HISTORY_TOKENS" envDefault:"6000"`
	BetterAuthURL            string        `env:"BETTER_AUTH_URL"`
	JWKSURL                  string        `env:"BETTER_AUTH_JWKS_URL"`
	SessionIntrospection     bool          `env:"AUTH_SESSION_INTROSPECTION"`
	Verifiers                []string      `env:"AUTH_VERIFIERS" envSeparator:","`
	AuthCookies              bool          `env:"AUTH_COOKIES"`
	CookiePrefix             string        `env:"BETTER_AUTH_COOKIE_PREFIX" envDefault:"better-auth"`
	JWTAlgorithms            []string      `env:"JWT_ALGORITHMS" envDefault:"EdDSA,ES256,ES512,RS256,PS256" envSeparator:","`
	JWTUserClaim             string        `env:"JWT_USER_CLAIM" envDefault:"sub"`
	JWTMaxLifetime           time.Duration `env:"JWT_MAX_LIFETIME" envDefault:"24h"`
	JWTCacheSize             int           `env:"JWT_CACHE_SIZE" envDefault:"10000"`
	JWKSRefreshInterval      time.Duration `env:"JWKS_REFRESH_INTERVAL" envDefault:"5m"`
	SessionCacheTTL          time.Duration `env:"AUTH_SESSION_CACHE_TTL" envDefault:"30s"`
	SessionTimeout           time.Duration `env:"AUTH_SESSION_TIMEOUT" envDefault:"2s"`
	RateLimitPerIP           int           `env:"RATE_LIMIT_PER_IP" envDefault:"0"`
	RateLimitPerUser         int           `env:"RATE_LIMIT_PER_USER" envDefault:"0"`
	RateLimitWindow          time.Duration `env:"RATE_LIMIT_WINDOW" envDefault:"1m"`
	IdempotencyTTL           time.Duration `env:"IDEMPOTENCY_TTL" envDefault:"24h"`
	EventsHeartbeat          time.Duration `env:"EVENTS_HEARTBEAT" envDefault:"15s"`
	StreamStallTimeout       time.Duration `env:"STREAM_STALL_TIMEOUT" envDefault:"30s"`

	// previousSecrets still verify what they signed: the later entries of
	// BETTER_AUTH_SECRETS, then BETTER_AUTH_SECRET as the legacy fallback.
	previousSecrets []string
}

// chatConfigured: an OpenAI key, or the URL of an OpenAI-compatible
// server (a local one needs no key).
func (c config) chatConfigured() bool { return c.OpenAIAPIKey != "" || c.OpenAIBaseURL != "" }

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
	if err := cfg.useVersionedSecrets(); err != nil {
		return cfg, vars, errors.Join(err, cfg.validate())
	}
	return cfg, vars, cfg.validate()
}

// useVersionedSecrets reads BETTER_AUTH_SECRETS as Better Auth 1.7 does:
// comma-separated "<version>:<secret>" entries, current first (it signs);
// every entry, and BETTER_AUTH_SECRET as the legacy fallback, still
// verifies. So a secret can be rotated without signing anyone out: add the
// new version first, and drop the old one once its sessions have ended.
// Errors name the entry, never its secret.
func (c *config) useVersionedSecrets() error {
	if strings.TrimSpace(c.VersionedSecrets) == "" {
		return nil
	}
	legacy := c.Secret
	seen := map[uint64]bool{}
	var values []string
	for i, entry := range strings.Split(c.VersionedSecrets, ",") {
		version, value, ok := strings.Cut(strings.TrimSpace(entry), ":")
		v, err := strconv.ParseUint(strings.TrimSpace(version), 10, 31)
		value = strings.TrimSpace(value)
		switch {
		case !ok:
			return fmt.Errorf("BETTER_AUTH_SECRETS entry %d is not <version>:<secret> (like 2:new-secret,1:old-secret)", i+1)
		case err != nil:
			return fmt.Errorf("BETTER_AUTH_SECRETS entry %d: the version must be a non-negative integer", i+1)
		case seen[v]:
			return fmt.Errorf("BETTER_AUTH_SECRETS: version %d appears twice", v)
		case len(value) < hs256.MinSecretLen:
			return fmt.Errorf("BETTER_AUTH_SECRETS: the secret of version %d is %d bytes; each must be at least %d (make one with: openssl rand -base64 32)", v, len(value), hs256.MinSecretLen)
		}
		seen[v] = true
		values = append(values, value)
	}
	c.Secret, c.previousSecrets = values[0], values[1:]
	if legacy != "" && !slices.Contains(values, legacy) {
		if len(legacy) < hs256.MinSecretLen {
			return secretError(legacy)
		}
		c.previousSecrets = append(c.previousSecrets, legacy)
	}
	return nil
}

// secretBytes is every secret that verifies, current first.
func (c config) secretBytes() [][]byte {
	out := [][]byte{[]byte(c.Secret)}
	for _, s := range c.previousSecrets {
		out = append(out, []byte(s))
	}
	return out
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
	if c.IdempotencyTTL <= 0 {
		errs = append(errs, errors.New("IDEMPOTENCY_TTL must be positive"))
	}
	if c.StreamStallTimeout < time.Second {
		errs = append(errs, fmt.Errorf("STREAM_STALL_TIMEOUT %v must be at least 1s", c.StreamStallTimeout))
	}
	if c.EventsHeartbeat < time.Second || c.EventsHeartbeat > 5*time.Minute {
		errs = append(errs, fmt.Errorf("EVENTS_HEARTBEAT %v must be between 1s and 5m (proxies close a stream that is quiet for longer)", c.EventsHeartbeat))
	}
	if c.ChatTimeout < time.Second || c.ChatTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("CHAT_TIMEOUT %v must be between 1s and 10m", c.ChatTimeout))
	}
	if c.ChatRateLimit < 0 {
		errs = append(errs, errors.New("CHAT_RATE_LIMIT must be >= 0 turns a minute (0 is no limit)"))
	}
	if c.ChatHistoryTokens < 500 {
		errs = append(errs, fmt.Errorf("CHAT_HISTORY_TOKENS %d must be at least 500", c.ChatHistoryTokens))
	}
	if c.OpenAIBaseURL != "" {
		if u, err := url.Parse(c.OpenAIBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("OPENAI_BASE_URL %q is not an http(s) URL, like http://127.0.0.1:11434/v1", c.OpenAIBaseURL))
		}
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
	if c.BetterAuthURL != "" && auth.Origin(c.BetterAuthURL) == "" {
		errs = append(errs, fmt.Errorf("BETTER_AUTH_URL %q is not an absolute URL (like http://localhost:3000)", c.BetterAuthURL))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT %q: want text or json", c.LogFormat))
	}
	if c.DatabasePoolSize < 1 || c.DatabaseConnectTimeout <= 0 || c.DatabaseStatementTimeout < 0 {
		errs = append(errs, errors.New("DATABASE_POOL_SIZE must be at least 1, DATABASE_CONNECT_TIMEOUT positive, DATABASE_STATEMENT_TIMEOUT 0 (none) or more"))
	}
	if _, err := parseDatabaseURL(c.DatabaseURL); err != nil {
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

// secretError explains what to do about a missing or weak secret.
func secretError(secret string) error {
	if secret == "" {
		return errors.New("BETTER_AUTH_SECRET is not set. Set it to the same secret your Better Auth app uses " +
			"(at least 32 bytes; make one with: openssl rand -base64 32), in the environment or in ./.env. " +
			"For a local trial, `make run` creates a development secret for you")
	}
	return fmt.Errorf("BETTER_AUTH_SECRET is %d bytes; it must be at least %d (make one with: openssl rand -base64 32)", len(secret), hs256.MinSecretLen)
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// localURL is this host's server, from HOST and PORT: where the commands
// that talk to a running server look for it.
func localURL(cfg config) string {
	host := cfg.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port))
}

// authorizationServers are the issuers the MCP endpoint's metadata names
// for clients to get tokens from: Better Auth's OAuth provider.
func (c config) authorizationServers() []string {
	if c.JWTIssuer == "" && c.BetterAuthURL == "" {
		return nil
	}
	return []string{c.oauthIssuer()}
}
