// Package auth turns a bearer token into a Principal and guards routes.
//
// A Verifier checks one kind of token (auth/hs256 for HS256 JWTs signed with
// the Better Auth secret; more kinds plug in the same way). Two Fiber
// middlewares use it and can be swapped independently:
//
//	auth.New(auth.Config{Verifier: v})  // 401 unless a valid bearer token
//	auth.RequireOwner("user_id")         // 403 unless the URL user is the token user
package auth

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"time"
)

// Principal is the authenticated caller.
type Principal struct {
	// UserID is the token's user claim, exactly as issued: compared byte for
	// byte, never folded, trimmed or unescaped.
	UserID string
	// Verifier names the verifier that accepted the token, for logs.
	Verifier string
	// Expires is when the credential stops being valid (a JWT's exp, a
	// session's expiry); zero when unknown. An event stream ends then.
	Expires time.Time
	// Scoped records that the credential carried a scope claim, and Scopes
	// what it granted. A credential without one (an app's own token, a
	// session) may do everything its user may.
	Scoped bool
	Scopes []string
}

// The scopes of CONTRACT.md: reading tasks, and changing them.
const (
	ScopeRead  = "tasks:read"
	ScopeWrite = "tasks:write"
)

// Allows reports whether the principal's credential grants scope.
func (p Principal) Allows(scope string) bool {
	return !p.Scoped || slices.Contains(p.Scopes, scope)
}

// Verifier checks a bearer token. Errors must wrap ErrInvalidToken or
// ErrTokenExpired (401), or ErrUnavailable (503) when the verifier cannot
// decide right now. They must never include the token or its claims.
type Verifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

// Readier is an optional Verifier capability: a verifier that depends on
// something outside the process (a key set, an auth server) reports whether
// it can verify tokens now. /readyz shows it.
type Readier interface {
	Ready(ctx context.Context) error
}

// Closer is an optional Verifier capability: a verifier with background work
// (a key refresher, a cache janitor) stops it in Close.
type Closer interface {
	Close()
}

// Sentinel errors; the API's error handler maps them to CONTRACT.md.
var (
	// ErrUnauthenticated: no Authorization header, or not a Bearer one.
	ErrUnauthenticated = errors.New("auth: not authenticated")
	// ErrInvalidToken: the token is malformed, forged, or fails a claim check.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrTokenExpired: the token was valid but its exp has passed.
	ErrTokenExpired = errors.New("auth: token has expired")
	// ErrForbidden: the authenticated user is not the owner named in the URL.
	ErrForbidden = errors.New("auth: not authorized to access these tasks")
	// ErrCrossSite: a cookie-authenticated change from an origin that is not
	// allowed (CSRF); a 403.
	ErrCrossSite = errors.New("auth: cross-site request refused")
	// ErrUnavailable: the verifier cannot reach what it needs to decide.
	ErrUnavailable = errors.New("auth: verifier unavailable")
	// ErrInsufficientScope: the credential carries scopes, and not the one
	// the request needs (a ScopeError says which); a 403.
	ErrInsufficientScope = errors.New("auth: insufficient scope")
)

// ScopeError is ErrInsufficientScope for a request that needs Scope.
type ScopeError struct{ Scope string }

func (e *ScopeError) Error() string { return "auth: insufficient scope: " + e.Scope + " is needed" }
func (e *ScopeError) Unwrap() error { return ErrInsufficientScope }

type resourceKey struct{}

// WithResource tells the verifiers which resource (this server's URL, as
// OAuth access tokens name it in aud) a request is made to.
func WithResource(ctx context.Context, resource string) context.Context {
	return context.WithValue(ctx, resourceKey{}, resource)
}

// ResourceFrom is the resource WithResource set, "" when none.
func ResourceFrom(ctx context.Context) string {
	r, _ := ctx.Value(resourceKey{}).(string)
	return r
}

// MaxTokenLen bounds the bearer token we are willing to parse. Real Better
// Auth tokens are well under 2 KiB.
const MaxTokenLen = 8 << 10

// Origin is scheme://host[:port] of a URL (what Better Auth puts in iss and
// aud, and what a browser sends as Origin), or "" when raw has none.
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
