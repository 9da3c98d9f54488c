package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taskbolt/taskbolt/api/metrics"
	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/cookie"
	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/auth/jwks"
	"github.com/taskbolt/taskbolt/auth/jwtauth"
	"github.com/taskbolt/taskbolt/auth/session"
)

// verifierKind is one kind of credential verifier and how to build it. A
// bearer-token kind says which tokens are its (match); a kind that reads its
// own credential from the request (cookies) has a source instead. build
// returns the verifier and a line for the start-up log saying where its keys
// come from (never a secret); it sees the bearer kinds already built.
type verifierKind struct {
	match  func(cfg config) func(auth.Token) bool
	source func(v auth.Verifier) auth.Source
	build  func(cfg config, log *slog.Logger, m *metrics.Metrics, built map[string]auth.Verifier) (auth.Verifier, string, error)
}

// order puts bearer kinds before source kinds.
func (k verifierKind) order() int {
	if k.source != nil {
		return 1
	}
	return 0
}

// verifiers are the credential verifiers, by name. Adding one is an entry
// here plus its package; the dispatcher routes each bearer token to the kind
// whose match takes it (the kinds must not overlap), and sources are tried
// after the Authorization header (a bearer token wins).
var verifiers = map[string]verifierKind{
	hs256.Name:   {match: func(config) func(auth.Token) bool { return auth.JWTAlgs("HS256") }, build: buildHS256},
	jwks.Name:    {match: func(cfg config) func(auth.Token) bool { return auth.JWTAlgs(cfg.JWTAlgorithms...) }, build: buildJWKS},
	session.Name: {match: func(config) func(auth.Token) bool { return auth.Opaque }, build: buildSession},
	cookie.Name:  {source: func(v auth.Verifier) auth.Source { return v.(*cookie.Verifier).Source() }, build: buildCookie},
}

func buildHS256(cfg config, _ *slog.Logger, _ *metrics.Metrics, _ map[string]auth.Verifier) (auth.Verifier, string, error) {
	v, err := hs256.New(hs256.Config{Secret: []byte(cfg.Secret), Previous: cfg.secretBytes()[1:], Leeway: cfg.jwtLeeway(),
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, UserClaim: cfg.JWTUserClaim, MaxLifetime: cfg.JWTMaxLifetime, CacheSize: cfg.jwtCacheSize()})
	if errors.Is(err, hs256.ErrWeakSecret) {
		return nil, "", secretError(cfg.Secret)
	}
	return v, "HS256 with " + cfg.describeSecrets(), err
}

func buildJWKS(cfg config, log *slog.Logger, m *metrics.Metrics, _ map[string]auth.Verifier) (auth.Verifier, string, error) {
	url := cfg.jwksURL()
	if url == "" {
		return nil, "", errors.New("the jwks verifier needs BETTER_AUTH_URL or BETTER_AUTH_JWKS_URL")
	}
	iss, aud := cfg.JWTIssuer, cfg.JWTAudience
	if origin := auth.Origin(cfg.BetterAuthURL); origin != "" {
		iss, aud = cmp.Or(iss, origin), cmp.Or(aud, origin)
	}
	v, err := jwks.New(jwks.Config{URL: url, Algorithms: cfg.JWTAlgorithms, Issuer: iss, Audience: aud,
		Leeway: cfg.jwtLeeway(), UserClaim: cfg.JWTUserClaim, MaxLifetime: cfg.JWTMaxLifetime, CacheSize: cfg.jwtCacheSize(),
		RefreshInterval: cfg.JWKSRefreshInterval, Logger: log, OnFetch: m.KeyFetchHook()})
	return v, fmt.Sprintf("%s from %s, iss %q, aud %q", strings.Join(cfg.JWTAlgorithms, "/"), url, iss, aud), err
}

func buildSession(cfg config, _ *slog.Logger, _ *metrics.Metrics, _ map[string]auth.Verifier) (auth.Verifier, string, error) {
	if cfg.BetterAuthURL == "" {
		return nil, "", errors.New("the session verifier needs BETTER_AUTH_URL")
	}
	url := betterAuthEndpoint(cfg.BetterAuthURL, "get-session")
	v, err := session.New(session.Config{URL: url, CacheTTL: cfg.SessionCacheTTL, Timeout: cfg.SessionTimeout})
	return v, fmt.Sprintf("session tokens resolved at %s, cached %v", url, cfg.SessionCacheTTL), err
}

// buildCookie is cookie mode: session_data checked with the secret (and the
// JWKS for the jwt plugin's format, when the jwks verifier is on), else
// session_token resolved at get-session, sent as the cookie it came in.
func buildCookie(cfg config, _ *slog.Logger, _ *metrics.Metrics, built map[string]auth.Verifier) (auth.Verifier, string, error) {
	if cfg.BetterAuthURL == "" {
		return nil, "", errors.New("AUTH_COOKIES needs BETTER_AUTH_URL (session_token cookies are resolved at its get-session)")
	}
	c := cookie.Config{Prefix: cfg.CookiePrefix, Origins: cfg.CORSOrigins, Leeway: cfg.JWTLeeway}
	formats := []string{}
	if cfg.Secret != "" {
		if len(cfg.Secret) < hs256.MinSecretLen {
			return nil, "", secretError(cfg.Secret)
		}
		c.Secrets = cfg.secretBytes()
		formats = append(formats, "compact, jwt and jwe with "+cfg.describeSecrets())
	}
	if j, ok := built[jwks.Name].(*jwks.Verifier); ok {
		c.CacheJWT = j.ForAudience(cookie.Name, cookie.CacheAudience)
		formats = append(formats, "the jwt plugin's session-cache JWT with the JWKS")
	}
	url := betterAuthEndpoint(cfg.BetterAuthURL, "get-session")
	s, err := session.New(session.Config{URL: url, CacheTTL: cfg.SessionCacheTTL, Timeout: cfg.SessionTimeout,
		Credential: func(nameValue string) (string, string) { return "Cookie", nameValue }})
	if err != nil {
		return nil, "", err
	}
	c.Session = s
	v, err := cookie.New(c)
	if len(formats) == 0 {
		formats = append(formats, "none (set BETTER_AUTH_SECRET)")
	}
	return v, fmt.Sprintf("%s.session_data: %s; %s.session_token resolved at %s, cached %v; changes allowed from %s and the request's own origin",
		c.Prefix, strings.Join(formats, "; "), c.Prefix, url, cfg.SessionCacheTTL, strings.Join(cfg.CORSOrigins, ", ")), err
}

// describeSecrets says which secrets verify, for the start-up log (never
// the secrets).
func (c config) describeSecrets() string {
	if strings.TrimSpace(c.VersionedSecrets) == "" { // as useVersionedSecrets reads it
		return "BETTER_AUTH_SECRET"
	}
	return fmt.Sprintf("BETTER_AUTH_SECRETS (%d secrets: the current one and %d earlier)", len(c.secretBytes()), len(c.previousSecrets))
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

// jwtLeeway is JWT_LEEWAY for the JWT verifiers, whose zero Leeway means
// their default: JWT_LEEWAY=0 means none.
func (c config) jwtLeeway() time.Duration {
	if c.JWTLeeway == 0 {
		return jwtauth.NoLeeway
	}
	return c.JWTLeeway
}

// oauthName names the verifier of OAuth access tokens in logs and metrics.
const oauthName = "oauth"

// oauthIssuer is the iss of the access tokens Better Auth's OAuth provider
// signs: the jwt plugin's issuer when JWT_ISSUER names it, else Better
// Auth's base URL (its origin + /api/auth), which the plugin uses by default.
func (c config) oauthIssuer() string {
	if c.JWTIssuer != "" {
		return c.JWTIssuer
	}
	return strings.TrimSuffix(betterAuthEndpoint(c.BetterAuthURL, ""), "/")
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
	if c.AuthCookies {
		on = append(on, cookie.Name)
	}
	if len(on) == 0 {
		return nil, secretError("")
	}
	return on, nil
}

// newVerifier builds the enabled verifiers: the dispatcher for bearer tokens
// and the sources of the kinds that read their own credential (tried after
// the Authorization header). stop ends their background work.
func newVerifier(cfg config, log *slog.Logger, m *metrics.Metrics) (bearer auth.Verifier, sources []auth.Source, stop func(), err error) {
	names, err := cfg.enabledVerifiers()
	if err != nil {
		return nil, nil, nil, err
	}
	// Bearer kinds first (a source kind may build on them, as cookies on the
	// JWKS keys); each gets a route, the ones that are off without a
	// verifier: their tokens are then refused as "the X verifier is off".
	kinds := slices.SortedFunc(maps.Keys(verifiers), func(a, b string) int {
		return cmp.Or(cmp.Compare(verifiers[a].order(), verifiers[b].order()), cmp.Compare(a, b))
	})
	var d auth.Dispatch
	var closers []func()
	built := map[string]auth.Verifier{}
	for _, name := range kinds {
		kind := verifiers[name]
		var v auth.Verifier
		if slices.Contains(names, name) {
			var where string
			if v, where, err = kind.build(cfg, log, m, built); err != nil {
				return nil, nil, nil, err
			}
			log.Info("verifier on", "name", name, "keys", where)
			if c, ok := v.(auth.Closer); ok {
				closers = append(closers, c.Close)
			}
			built[name] = v
		}
		if j, ok := v.(*jwks.Verifier); ok {
			// OAuth access tokens, signed with the same keys, go to their own
			// verifier: typ at+jwt routes them, ahead of the app's tokens.
			iss := cfg.oauthIssuer()
			d.Routes = append(d.Routes, auth.Route{Name: oauthName, Match: auth.AccessTokens(cfg.JWTAlgorithms...), Verifier: j.ForAccessTokens(oauthName, iss)})
			log.Info("verifier on", "name", oauthName, "keys", "the jwks keys, iss "+strconv.Quote(iss)+", aud the MCP resource")
		}
		switch {
		case kind.source == nil:
			d.Routes = append(d.Routes, auth.Route{Name: name, Match: kind.match(cfg), Verifier: v})
		case v != nil:
			sources = append(sources, kind.source(v))
		}
	}
	return d, sources, func() {
		for _, c := range closers {
			c()
		}
	}, nil
}
