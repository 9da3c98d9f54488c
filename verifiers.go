package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"

	"taskbolt/api/metrics"
	"taskbolt/auth"
	"taskbolt/auth/hs256"
	"taskbolt/auth/jwks"
	"taskbolt/auth/session"
)

// verifierKind is one kind of token verifier: which tokens are its (match)
// and how to build it. build returns the verifier and a line for the
// start-up log saying where its keys come from (never a secret).
type verifierKind struct {
	match func(cfg config) func(auth.Token) bool
	build func(cfg config, log *slog.Logger, m *metrics.Metrics) (auth.Verifier, string, error)
}

// verifiers are the token verifiers, by name. Adding one is an entry here
// plus its package; the dispatcher routes each token to the kind whose match
// takes it (the kinds must not overlap).
var verifiers = map[string]verifierKind{
	hs256.Name:   {func(config) func(auth.Token) bool { return auth.JWTAlgs("HS256") }, buildHS256},
	jwks.Name:    {func(cfg config) func(auth.Token) bool { return auth.JWTAlgs(cfg.JWTAlgorithms...) }, buildJWKS},
	session.Name: {func(config) func(auth.Token) bool { return auth.Opaque }, buildSession},
}

func buildHS256(cfg config, _ *slog.Logger, _ *metrics.Metrics) (auth.Verifier, string, error) {
	v, err := hs256.New(hs256.Config{Secret: []byte(cfg.Secret), Leeway: cfg.JWTLeeway,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, UserClaim: cfg.JWTUserClaim, MaxLifetime: cfg.JWTMaxLifetime, CacheSize: cfg.jwtCacheSize()})
	if errors.Is(err, hs256.ErrWeakSecret) {
		return nil, "", secretError(cfg.Secret)
	}
	return v, "HS256 with BETTER_AUTH_SECRET", err
}

func buildJWKS(cfg config, log *slog.Logger, m *metrics.Metrics) (auth.Verifier, string, error) {
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
}

func buildSession(cfg config, _ *slog.Logger, _ *metrics.Metrics) (auth.Verifier, string, error) {
	if cfg.BetterAuthURL == "" {
		return nil, "", errors.New("the session verifier needs BETTER_AUTH_URL")
	}
	url := betterAuthEndpoint(cfg.BetterAuthURL, "get-session")
	v, err := session.New(session.Config{URL: url, CacheTTL: cfg.SessionCacheTTL, Timeout: cfg.SessionTimeout})
	return v, fmt.Sprintf("session tokens resolved at %s, cached %v", url, cfg.SessionCacheTTL), err
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
	// A route for every kind, the ones that are off without a verifier: their
	// tokens are then refused as "the X verifier is off", not as unknown.
	var d auth.Dispatch
	var closers []func()
	for _, name := range slices.Sorted(maps.Keys(verifiers)) {
		kind := verifiers[name]
		route := auth.Route{Name: name, Match: kind.match(cfg)}
		if slices.Contains(names, name) {
			v, where, err := kind.build(cfg, log, m)
			if err != nil {
				return nil, nil, err
			}
			log.Info("verifier on", "name", name, "keys", where)
			if c, ok := v.(auth.Closer); ok {
				closers = append(closers, c.Close)
			}
			route.Verifier = v
		}
		d.Routes = append(d.Routes, route)
	}
	return d, func() {
		for _, c := range closers {
			c()
		}
	}, nil
}
