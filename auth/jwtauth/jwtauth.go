// Package jwtauth is the JWT checking shared by the hs256 and jwks verifiers:
// pinned algorithms, exp required, leeway, iss/aud when configured, and the
// user taken from one claim. The verifiers differ only in where keys come from.
package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/tokencache"
)

// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// NoLeeway is a Config.Leeway that allows no clock skew at all.
const NoLeeway time.Duration = -1

// Config configures a Verifier.
type Config struct {
	// Name is the verifier's name, for errors and logs.
	Name string
	// Methods are the only "alg" values accepted. Required.
	Methods []string
	// Leeway is the clock skew allowed. Default DefaultLeeway; NoLeeway (any
	// negative value) allows none.
	Leeway time.Duration
	// Issuer and Audience are checked only when set; tokens carrying iss
	// or aud pass when they are not set.
	Issuer   string
	Audience string
	// UserClaim names the claim holding the user id, "sub" by default; a
	// dotted path ("user.id") reaches into an object claim.
	UserClaim string
	// Keyfunc returns the key that verifies a token. Required.
	Keyfunc func(ctx context.Context) jwt.Keyfunc
	// KeyError maps an error of Keyfunc to the error Verify returns, so a
	// verifier can tell "no such key" (401) from "cannot fetch keys" (503).
	// Default: every key error is an invalid token.
	KeyError func(err error) error
	// MaxLifetime refuses tokens whose exp is further than this in the
	// future: a stolen token must not work for years. Default 24h.
	MaxLifetime time.Duration
	// Now is the clock; tests replace it. Default time.Now.
	Now func() time.Time
	// CacheSize bounds the cache of tokens that verified: a token's
	// signature is then checked once, not on every request (an Ed25519
	// check costs ~60µs). A cached token still ends at its exp. 0 means the
	// default, 10000; negative turns the cache off.
	CacheSize int
	// KeyValid, when set, is asked on a cache hit whether the key (kid) that
	// signed the token is still trusted: a key that left the key set ends its
	// tokens, cached or not.
	KeyValid func(ctx context.Context, kid string) bool
	// AccessTokens makes this a verifier of OAuth 2.0 access tokens (RFC
	// 9068): the header typ must be at+jwt, and aud must name the resource
	// the request is made to (auth.ResourceFrom), so a token for another
	// resource is refused. Without it a token typed at+jwt is refused: an
	// access token never passes for an app's own token. Its tokens are not
	// cached, as the resource is the request's.
	AccessTokens bool
}

// cacheTTL bounds how long a verified token is remembered, whatever its exp.
const cacheTTL = 5 * time.Minute

// verified is a cache entry: who the token is, and which key signed it.
type verified struct {
	principal auth.Principal
	kid       string
}

// DefaultMaxLifetime is the default Config.MaxLifetime. Better Auth's tokens
// live 15 minutes.
const DefaultMaxLifetime = 24 * time.Hour

// Verifier verifies JWTs.
type Verifier struct {
	cfg       Config
	parser    *jwt.Parser
	validator *jwt.Validator // the parser's claim checks, run before a key is looked up
	userClaim []string
	cache     *tokencache.Cache[verified] // nil when off
}

// New returns a Verifier.
func New(cfg Config) *Verifier {
	if len(cfg.Methods) == 0 || cfg.Keyfunc == nil {
		panic("jwtauth.New: Methods and Keyfunc are required")
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = "sub"
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v := &Verifier{cfg: cfg, parser: jwt.NewParser(opts...), validator: jwt.NewValidator(opts...), userClaim: strings.Split(cfg.UserClaim, ".")}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10000
	}
	if cfg.CacheSize > 0 && !cfg.AccessTokens {
		v.cache = tokencache.New[verified](cfg.CacheSize)
	}
	return v
}

// Verify checks signature, algorithm, exp (required), nbf, iat, iss and aud,
// and returns the user claim as the Principal. Errors never quote the token.
func (v *Verifier) Verify(ctx context.Context, token string) (auth.Principal, error) {
	if v.cache == nil {
		p, _, _, err := v.verify(ctx, token)
		return p, err
	}
	key := tokencache.Key(token)
	now := v.cfg.Now()
	if hit, ok := v.cache.Get(key, now); ok {
		if v.cfg.KeyValid == nil || v.cfg.KeyValid(ctx, hit.kid) {
			return hit.principal, nil
		}
		v.cache.Delete(key)
	}
	p, kid, exp, err := v.verify(ctx, token)
	if err != nil {
		return p, err
	}
	// Until exp (plus the leeway the check allows), so that an expired
	// token is re-checked and answered "expired", as without the cache.
	v.cache.Put(key, verified{principal: p, kid: kid}, minTime(exp.Add(v.cfg.Leeway), now.Add(cacheTTL)))
	return p, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// verify checks the token in full. It returns who the token is, the kid of
// the key that signed it, and its exp.
func (v *Verifier) verify(ctx context.Context, token string) (auth.Principal, string, time.Time, error) {
	fail := func(err error) (auth.Principal, string, time.Time, error) {
		return auth.Principal{}, "", time.Time{}, err
	}
	if err := checkStructure(token); err != nil {
		return fail(fmt.Errorf("%w (%s): %v", auth.ErrInvalidToken, v.cfg.Name, err))
	}
	// Everything that needs no key is checked before a key is looked up:
	// the algorithm (by the parser, before it calls the keyfunc; an alg it
	// does not know, "None" say, never reaches it), then the claims, the
	// user and the lifetime. So no forged or malformed token costs a key set
	// fetch, and only a failure of the real key lookup can be a KeyError.
	c := claims{userPath: v.userClaim}
	keyfunc, looked := v.cfg.Keyfunc(ctx), false
	tok, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if err := v.checkType(t); err != nil {
			return nil, err
		}
		if err := v.checkClaims(ctx, &c); err != nil {
			return nil, err
		}
		looked = true
		return keyfunc(t)
	})
	var local *localError
	if looked && errors.Is(err, jwt.ErrTokenUnverifiable) && v.cfg.KeyError != nil {
		if mapped := v.cfg.KeyError(err); mapped != nil {
			return fail(mapped)
		}
	}
	switch {
	case err == nil:
	case errors.As(err, &local):
		return fail(local.err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return fail(fmt.Errorf("%w (%s)", auth.ErrTokenExpired, v.cfg.Name))
	default:
		return fail(fmt.Errorf("%w (%s): %s", auth.ErrInvalidToken, v.cfg.Name, reason(err)))
	}
	exp := c.ExpiresAt.date().Time
	kid, _ := tok.Header["kid"].(string)
	p := auth.Principal{UserID: c.user, Verifier: v.cfg.Name, Expires: exp}
	if c.Scope != nil {
		p.Scoped, p.Scopes = true, strings.Fields(*c.Scope)
	}
	return p, kid, exp, nil
}

// checkType checks the header typ: at+jwt for an access token verifier,
// anything else for the others.
func (v *Verifier) checkType(t *jwt.Token) error {
	typ, _ := t.Header["typ"].(string)
	switch access := auth.IsAccessTokenType(typ); {
	case v.cfg.AccessTokens && !access:
		return &localError{fmt.Errorf("%w (%s): not an access token (typ %q, want at+jwt)", auth.ErrInvalidToken, v.cfg.Name, typ)}
	case !v.cfg.AccessTokens && access:
		return &localError{fmt.Errorf("%w (%s): an OAuth access token (typ at+jwt) is not accepted here", auth.ErrInvalidToken, v.cfg.Name)}
	}
	return nil
}

// localError is a token refused by checkClaims, before any key was looked up.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }

// checkClaims checks what the claims alone decide: exp (required), nbf,
// iat, iss and aud as the parser would, then the user and the lifetime; a
// token bound to a key (cnf, as DPoP binds one) is refused, as it is
// presented without proof of that key; an access token must name the
// request's resource in aud.
func (v *Verifier) checkClaims(ctx context.Context, c *claims) error {
	if err := v.validator.Validate(c); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return &localError{fmt.Errorf("%w (%s)", auth.ErrTokenExpired, v.cfg.Name)}
		}
		return &localError{fmt.Errorf("%w (%s): %s", auth.ErrInvalidToken, v.cfg.Name, reason(err))}
	}
	if c.user == "" {
		return &localError{fmt.Errorf("%w (%s): no %s claim", auth.ErrInvalidToken, v.cfg.Name, v.cfg.UserClaim)}
	}
	if exp := c.ExpiresAt.date().Time; exp.Sub(v.cfg.Now()) > v.cfg.MaxLifetime+v.cfg.Leeway {
		return &localError{fmt.Errorf("%w (%s): exp more than %v in the future", auth.ErrInvalidToken, v.cfg.Name, v.cfg.MaxLifetime)}
	}
	if len(c.Confirmation) > 0 {
		return &localError{fmt.Errorf("%w (%s): a key-bound (cnf) token presented as a bearer token", auth.ErrInvalidToken, v.cfg.Name)}
	}
	if v.cfg.AccessTokens {
		resource := auth.ResourceFrom(ctx)
		if resource == "" || !slices.Contains(c.Audience, resource) {
			return &localError{fmt.Errorf("%w (%s): the token's audience is not this resource", auth.ErrInvalidToken, v.cfg.Name)}
		}
	}
	return nil
}

// reason names what failed without quoting any part of the token.
func reason(err error) string {
	for _, known := range []error{
		jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer,
		jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidClaims,
	} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	return "invalid"
}

// claims decodes the registered claims strictly (a non-string sub, iss or
// aud, or a time that is not a JSON number, fails) and the user claim.
type claims struct {
	registered
	userPath []string
	user     string
}

type registered struct {
	Subject   string           `json:"sub"`
	Issuer    string           `json:"iss"`
	Audience  jwt.ClaimStrings `json:"aud"`
	ExpiresAt *numericDate     `json:"exp"`
	NotBefore *numericDate     `json:"nbf"`
	IssuedAt  *numericDate     `json:"iat"`
	// Scope is the space-separated scopes an OAuth token grants (RFC
	// 9068), nil when it carries none; a scope that is not a string fails.
	Scope *string `json:"scope"`
	// Confirmation is cnf: the key a token is bound to (RFC 7800, DPoP).
	Confirmation json.RawMessage `json:"cnf"`
}

func (c *claims) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.registered); err != nil {
		return err
	}
	if len(c.userPath) == 1 && c.userPath[0] == "sub" {
		c.user = c.Subject
		return nil
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	var cur any = all
	for _, key := range c.userPath {
		obj, ok := cur.(map[string]any)
		if !ok {
			return errors.New("user claim not found")
		}
		cur = obj[key]
	}
	user, ok := cur.(string)
	if cur != nil && !ok {
		return errors.New("user claim is not a string")
	}
	c.user = user
	return nil
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.date(), nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.date(), nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.date(), nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

// numericDate is a JWT NumericDate that must be a JSON integer of seconds.
// jwt's own type also takes numeric strings and fractions; no issuer we serve
// sends either, so they can only be crafted.
type numericDate struct{ jwt.NumericDate }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	s := strings.TrimPrefix(string(b), "-")
	if s == "" || len(s) > 12 || strings.Trim(s, "0123456789") != "" {
		return errors.New("a time claim is not an integer number of seconds")
	}
	return d.NumericDate.UnmarshalJSON(b)
}

func (d *numericDate) date() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &d.NumericDate
}
