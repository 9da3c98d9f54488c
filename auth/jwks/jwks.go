// Package jwks verifies the asymmetric JWTs of Better Auth's jwt() plugin
// against the key set it publishes at {BETTER_AUTH_URL}/api/auth/jwks.
//
// Keys come from github.com/MicahParks/keyfunc/v3 (over jwkset), which caches
// them, refreshes them periodically and refetches on an unknown kid. This
// package bounds that: a request never waits more than RequestWait for keys,
// refetches are rate-limited, and an unreachable JWKS is reported (503 and
// /readyz) instead of rejecting valid tokens as forged.
package jwks

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/jwtauth"
)

// Name is the verifier's name in configuration and logs.
const Name = "jwks"

// Algorithms are the asymmetric algorithms Better Auth's jwt() plugin can
// sign with. HMAC algorithms can never be allowed here: a public key must
// never serve as an HMAC secret.
var Algorithms = []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"}

// Config configures a Verifier.
type Config struct {
	// URL is the JWKS endpoint. Required.
	URL string
	// Algorithms allowed; a subset of Algorithms. Default all of them.
	Algorithms []string
	// Issuer and Audience; Better Auth sets both to its base URL's origin.
	Issuer, Audience string
	Leeway           time.Duration
	UserClaim        string
	MaxLifetime      time.Duration // default 24h
	CacheSize        int           // verified tokens remembered (see jwtauth.Config)
	// RefreshInterval is how often keys are refetched in the background.
	// Default 5 minutes.
	RefreshInterval time.Duration
	// RequestWait bounds how long one request may wait for a refetch when it
	// carries an unknown kid. Default 2s.
	RequestWait time.Duration
	// Client fetches the key set. Default: an http.Client with a 5s timeout.
	Client *http.Client
	Logger *slog.Logger
	// OnFetch, when set, is told the outcome of every key set fetch (metrics).
	OnFetch func(err error)
}

// Verifier is an auth.Verifier and auth.Readier for JWKS-signed tokens.
type Verifier struct {
	*jwtauth.Verifier
	keys    keyfunc.Keyfunc
	claims  jwtauth.Config // how tokens are checked, for ForAudience
	fetches *fetchLog
	wait    time.Duration
	stop    context.CancelFunc
}

// New starts fetching keys and returns at once: an unreachable JWKS is not a
// start-up error (Ready reports it, and the keys arrive when it comes back).
func New(cfg Config) (*Verifier, error) {
	if cfg.URL == "" {
		return nil, errors.New("jwks: no URL")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = Algorithms
	}
	for _, a := range cfg.Algorithms {
		if !slices.Contains(Algorithms, a) {
			return nil, fmt.Errorf("jwks: algorithm %q is not allowed; choose from %s", a, strings.Join(Algorithms, ", "))
		}
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 5 * time.Minute
	}
	if cfg.RequestWait <= 0 {
		cfg.RequestWait = 2 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	fetches := &fetchLog{onFetch: cfg.OnFetch}
	client := *cfg.Client
	client.Transport = &recordingTransport{next: transportOf(cfg.Client), log: fetches}

	ctx, stop := context.WithCancel(context.Background())
	no := false
	keys, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.URL}, keyfunc.Override{
		Client:          &client,
		HTTPTimeout:     client.Timeout,
		RefreshInterval: cfg.RefreshInterval,
		// One refetch per second at most for unknown kids, however many
		// forged kids arrive; a waiting request gives up after RequestWait.
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(time.Second), 1),
		RateLimitWaitMax:          cfg.RequestWait,
		NoErrorReturnFirstHTTPReq: &no,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				cfg.Logger.Warn("jwks: refresh failed; keeping the keys already fetched", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		// The first fetch failed: start anyway with an empty set, refreshed
		// on the interval and on the first token that arrives.
		cfg.Logger.Warn("jwks: key set unreachable at start-up; /readyz reports it until it answers", "url", cfg.URL, "err", err)
		yes := true
		keys, err = keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.URL}, keyfunc.Override{
			Client: &client, HTTPTimeout: client.Timeout, RefreshInterval: cfg.RefreshInterval,
			RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Second), 1), RateLimitWaitMax: cfg.RequestWait,
			NoErrorReturnFirstHTTPReq: &yes,
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("jwks: %w", err)
		}
	}
	v := &Verifier{keys: keys, fetches: fetches, wait: cfg.RequestWait, stop: stop}
	v.claims = jwtauth.Config{
		Name: Name, Methods: cfg.Algorithms, Leeway: cfg.Leeway,
		Issuer: cfg.Issuer, Audience: cfg.Audience, UserClaim: cfg.UserClaim, MaxLifetime: cfg.MaxLifetime,
		CacheSize: cfg.CacheSize,
		Keyfunc:   v.keyfunc,
		KeyError:  v.keyError,
		KeyValid:  v.keyValid,
	}
	v.Verifier = jwtauth.New(v.claims)
	return v, nil
}

// ForAudience is a verifier of another kind of token signed by the same keys
// (the jwt plugin's session-cache JWT, audience "better-auth:session-cache"):
// it shares this verifier's key set and checks aud, exp and sub, not iss.
// The two kinds never pass for each other: each requires its own audience.
// It only uses keys already fetched: a cookie cache is only a cache (the
// session_token decides without it), so an unknown kid in a cookie never
// costs a key set fetch, however many forged cookies arrive.
func (v *Verifier) ForAudience(name, audience string) *jwtauth.Verifier {
	c := v.claims
	c.Name, c.Audience, c.Issuer, c.UserClaim = name, audience, "", "sub"
	c.Keyfunc, c.KeyError = v.knownKey, nil
	return jwtauth.New(c)
}

// ForAccessTokens is a verifier of the OAuth access tokens Better Auth's
// OAuth provider plugin signs with the same keys: typ at+jwt, iss issuer,
// aud naming the resource the request is made to (jwtauth.Config
// AccessTokens), the user in sub and the grant in scope. An unknown kid may
// fetch the key set, as for the app's own tokens.
func (v *Verifier) ForAccessTokens(name, issuer string) *jwtauth.Verifier {
	c := v.claims
	c.Name, c.Issuer, c.Audience, c.UserClaim, c.AccessTokens = name, issuer, "", "sub", true
	return jwtauth.New(c)
}

// knownKey is keyfunc without a fetch: the key of the token's kid among the
// keys already fetched, or an error.
func (v *Verifier) knownKey(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid in the token header")
		}
		keys, err := v.keys.Storage().KeyReadAll(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			m := k.Marshal()
			if m.KID != kid {
				continue
			}
			if a := m.ALG.String(); a != "" && a != t.Method.Alg() {
				return nil, errors.New("the key's alg is not the token's")
			}
			key := k.Key()
			if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
				key = pk.Public()
			}
			return key, nil
		}
		return nil, errors.New("no key with this kid has been fetched")
	}
}

// keyfunc requires a kid (Better Auth always sends one) and bounds the time a
// request can spend fetching keys.
func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid == "" {
			return nil, errors.New("no kid in the token header")
		}
		ctx, cancel := context.WithTimeout(ctx, v.wait)
		defer cancel()
		return v.keys.KeyfuncCtx(ctx)(t)
	}
}

// keyValid reports whether kid is still in the key set, for tokens the
// verifier remembers: a key that left the JWKS ends its tokens at once.
func (v *Verifier) keyValid(ctx context.Context, kid string) bool {
	ctx, cancel := context.WithTimeout(ctx, v.wait)
	defer cancel()
	_, err := v.keys.Storage().KeyRead(ctx, kid)
	return err == nil
}

// keyError turns "key not found" into 503 when the key set could not be
// fetched: the token may be valid, and a 401 would sign the user out.
func (v *Verifier) keyError(error) error {
	if err := v.fetches.lastError(); err != nil {
		return fmt.Errorf("%w (%s): key set unreachable: %v", auth.ErrUnavailable, Name, err)
	}
	return nil
}

// Ready reports whether keys are loaded. When none are, it asks for a
// (rate-limited) refetch, so that polling /readyz also drives recovery.
func (v *Verifier) Ready(ctx context.Context) error {
	keys, err := v.keys.Storage().KeyReadAll(ctx)
	if err == nil && len(keys) > 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, v.wait)
	defer cancel()
	_, _ = v.keys.Storage().KeyRead(ctx, "readyz-probe") // an unknown kid triggers the refetch
	if keys, err := v.keys.Storage().KeyReadAll(ctx); err == nil && len(keys) > 0 {
		return nil
	}
	if err := v.fetches.lastError(); err != nil {
		return fmt.Errorf("jwks: no keys: %w", err)
	}
	return errors.New("jwks: the key set is empty")
}

// Close stops the background refresh.
func (v *Verifier) Close() { v.stop() }

// fetchLog remembers the outcome of the last key set fetch.
type fetchLog struct {
	mu      sync.Mutex
	err     error
	onFetch func(error)
}

func (f *fetchLog) record(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	if f.onFetch != nil {
		f.onFetch(err)
	}
}
func (f *fetchLog) lastError() error { f.mu.Lock(); defer f.mu.Unlock(); return f.err }

// recordingTransport notes whether each key set fetch worked.
type recordingTransport struct {
	next http.RoundTripper
	log  *fetchLog
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	switch {
	case err != nil:
		t.log.record(err)
	case resp.StatusCode != http.StatusOK:
		t.log.record(fmt.Errorf("GET %s: %s", r.URL.Redacted(), resp.Status))
	default:
		t.log.record(nil)
	}
	return resp, err
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}
