// Package cookie authenticates requests by Better Auth's own session cookies,
// for apps that serve taskbolt under their own origin (a Next.js rewrite of
// /api/:user_id/tasks*): the browser sends the cookies, and the shared
// BETTER_AUTH_SECRET really does verify them.
//
// A request is authenticated by session_data (the cookie cache, in any of
// Better Auth's four formats: no call made) or else by session_token (HMAC
// checked here, then resolved by Better Auth's get-session, cached). A
// session_data that is missing, expired, forged or of an unknown format is
// ignored and session_token decides, as in Better Auth itself.
//
// Cookies ride along on every request a browser makes, including the ones
// another site triggers, so a cookie-authenticated change (POST, PUT, PATCH,
// DELETE) must come from an allowed origin (CSRF); see Verifier.Source.
// Never log a cookie: the compact and jwt formats hold the session token.
package cookie

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskbolt/taskbolt/auth"
)

// Name is the verifier's name in configuration and logs.
const Name = "cookie"

// DefaultPrefix is Better Auth's default cookiePrefix.
const DefaultPrefix = "better-auth"

// CacheAudience is the audience of the jwt plugin's session-cache JWT.
const CacheAudience = "better-auth:session-cache"

// Config configures a Verifier.
type Config struct {
	// Prefix is Better Auth's advanced.cookiePrefix. Default DefaultPrefix.
	Prefix string
	// Secrets are Better Auth's secrets, current first: they check the
	// compact and jwt cookie caches, decrypt the jwe one, and check
	// session_token's HMAC. With none, only the plugin's cache format and
	// get-session (which checks the HMAC itself) can authenticate.
	Secrets [][]byte
	// CacheJWT verifies the jwt plugin's session-cache JWT (the JWKS keys,
	// audience CacheAudience); nil ignores that format.
	CacheJWT auth.Verifier
	// Session resolves "name=value" of a session_token cookie through
	// get-session (a session verifier sending it as a Cookie); nil: only
	// session_data authenticates.
	Session auth.Verifier
	// Origins may make cookie-authenticated changes, besides the request's
	// own origin (CORS_ORIGINS).
	Origins []string
	// Leeway is the clock skew allowed on the JWT formats' exp.
	Leeway time.Duration
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// Verifier is an auth.Verifier of cookie credentials (the Cookie header that
// its Source found) and an auth.Readier.
type Verifier struct {
	cfg     Config
	names   names
	jweKeys [][]byte // one per secret
}

// New returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Secrets) == 0 && cfg.CacheJWT == nil && cfg.Session == nil {
		return nil, errors.New("cookie: nothing can verify a cookie: give it the secret, the JWKS, or get-session")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{cfg: cfg, names: namesFor(cfg.Prefix)}
	for _, s := range cfg.Secrets {
		key, err := jweKey(s)
		if err != nil {
			return nil, err
		}
		v.jweKeys = append(v.jweKeys, key)
	}
	return v, nil
}

// Source is where the cookie credential comes from: the request's Cookie
// header, reduced to Better Auth's two cookies. Put it after auth.FromHeader,
// so that a request with a bearer token is judged by that token.
func (v *Verifier) Source() auth.Source {
	return auth.Source{Name: Name, Find: v.find, Verifier: v, MaxLen: MaxDataLen + 1024}
}

func (v *Verifier) find(c *fiber.Ctx) (string, bool, error) {
	if len(c.Request().Header.Peek(fiber.HeaderAuthorization)) > 0 {
		return "", false, nil // Authorization wins, whatever its scheme: cookies are for requests without it
	}
	j := parseJar(string(c.Request().Header.Peek(fiber.HeaderCookie)), v.names)
	if j.empty() {
		return "", false, nil
	}
	if !safeMethod(c.Method()) && !v.allowedOrigin(c) {
		return "", false, fmt.Errorf("%w: a cookie-authenticated %s needs an allowed Origin or Referer", auth.ErrCrossSite, c.Method())
	}
	return j.String(), true, nil
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// allowedOrigin is the CSRF rule: the Origin header (else the Referer's
// origin) is one of Config.Origins or the request's own scheme and Host.
func (v *Verifier) allowedOrigin(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		origin = auth.Origin(c.Get(fiber.HeaderReferer))
	}
	if origin == "" || origin == "null" {
		return false
	}
	if slices.Contains(v.cfg.Origins, origin) {
		return true
	}
	return strings.EqualFold(origin, c.Protocol()+"://"+string(c.Request().Host()))
}

// Verify authenticates the cookies a Source found.
func (v *Verifier) Verify(ctx context.Context, cookies string) (auth.Principal, error) {
	p, err := v.verify(ctx, cookies)
	if err != nil {
		return auth.Principal{}, &auth.VerifyError{Verifier: Name, Err: err}
	}
	return p, nil
}

func (v *Verifier) verify(ctx context.Context, cookies string) (auth.Principal, error) {
	j := parseJar(cookies, v.names)
	var dataErr error
	if j.data != "" {
		user, exp, err := v.fromData(ctx, j.data)
		if err == nil {
			return auth.Principal{UserID: user, Verifier: Name, Expires: exp}, nil
		}
		dataErr = err // ignored when session_token decides
	}
	if j.token == "" || v.cfg.Session == nil {
		if dataErr == nil {
			dataErr = fmt.Errorf("%w (%s): no session_data and no way to resolve session_token", auth.ErrInvalidToken, Name)
		}
		return auth.Principal{}, dataErr
	}
	if err := v.checkTokenSignature(j.token); err != nil {
		return auth.Principal{}, err
	}
	p, err := v.cfg.Session.Verify(ctx, j.tokenName+"="+j.token)
	if err != nil {
		return auth.Principal{}, err
	}
	p.Verifier = Name
	return p, nil
}

// checkTokenSignature checks session_token's HMAC before anyone is asked
// about it, so forged cookies never reach Better Auth. Without a secret,
// Better Auth checks it.
func (v *Verifier) checkTokenSignature(value string) error {
	if len(v.cfg.Secrets) == 0 {
		return nil
	}
	decoded, err := url.PathUnescape(value) // keeps '+', as Better Auth does
	token, sig, ok := strings.Cut(decoded, ".")
	if err != nil || !ok {
		return fmt.Errorf("%w (%s): session_token is not signed", auth.ErrInvalidToken, Name)
	}
	if v.hmacMatches([]byte(token), sig, base64.StdEncoding) {
		return nil
	}
	return fmt.Errorf("%w (%s): session_token signature does not match", auth.ErrInvalidToken, Name)
}

// Ready reports whether get-session answers, when session_token needs it.
func (v *Verifier) Ready(ctx context.Context) error {
	if r, ok := v.cfg.Session.(auth.Readier); ok {
		return r.Ready(ctx)
	}
	return nil
}
