package auth

import (
	"cmp"
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// Config configures New.
type Config struct {
	// Next skips the middleware when it returns true.
	Next func(c *fiber.Ctx) bool
	// Verifier checks the tokens of sources that have no verifier of their
	// own (the Authorization header). Required.
	Verifier Verifier
	// Sources are where a request's credential is looked for, in order; the
	// first that finds one decides ("Bearer wins" is FromHeader first).
	// Default: FromHeader alone.
	Sources []Source
	// ValidUser checks a verified user id before it can reach anything that
	// stores by it (the store's rule: store.ValidUserID). Required.
	ValidUser func(userID string) bool
	// Context, when set, is the context verifiers get for a request
	// (WithResource); default the request's user context.
	Context func(c *fiber.Ctx) context.Context
}

// Source is one place a request can carry a credential, and who checks it.
type Source struct {
	// Name is for logs: "header", "cookie".
	Name string
	// Find returns the request's credential. found is false when the
	// request carries none here; err is an authentication error for one it
	// carries badly (or a request this source refuses outright).
	Find func(c *fiber.Ctx) (token string, found bool, err error)
	// Verifier checks what Find returns; nil means Config.Verifier.
	Verifier Verifier
	// MaxLen bounds the credential; longer ones are invalid unread.
	// Default MaxTokenLen.
	MaxLen int
}

// FromHeader reads `Authorization: Bearer <token>`. A request with no
// Authorization header, or another scheme, has no token here.
var FromHeader = Source{Name: "header", Find: func(c *fiber.Ctx) (string, bool, error) {
	token, ok := ParseBearer(c.Get(fiber.HeaderAuthorization))
	return token, ok, nil
}}

type principalKey struct{}

// New returns the authentication middleware. It reads the bearer token,
// verifies it, and stores the Principal for FromContext. On failure it returns
// one of this package's errors for the app's error handler to render; it
// never logs or echoes the token.
func New(config ...Config) fiber.Handler {
	var cfg Config
	if len(config) > 0 {
		cfg = config[0]
	}
	if cfg.Verifier == nil || cfg.ValidUser == nil {
		panic("auth.New: Config.Verifier and Config.ValidUser are required")
	}
	if len(cfg.Sources) == 0 {
		cfg.Sources = []Source{FromHeader}
	}
	return func(c *fiber.Ctx) error {
		if cfg.Next != nil && cfg.Next(c) {
			return c.Next()
		}
		var (
			token string
			src   Source
			found bool
		)
		for _, src = range cfg.Sources {
			var err error
			if token, found, err = src.Find(c); err != nil {
				return err
			}
			if found {
				break
			}
		}
		if !found {
			return ErrUnauthenticated
		}
		if limit := cmp.Or(src.MaxLen, MaxTokenLen); len(token) > limit {
			return fmt.Errorf("%w: credential longer than %d bytes", ErrInvalidToken, limit)
		}
		ctx := c.UserContext()
		if cfg.Context != nil {
			ctx = cfg.Context(c)
		}
		p, err := cmp.Or(src.Verifier, cfg.Verifier).Verify(ctx, token)
		if err != nil {
			return err
		}
		// The user id becomes a bucket name: refuse anything outside the
		// contract's charset here, before it can reach the store.
		if !cfg.ValidUser(p.UserID) {
			return fmt.Errorf("%w: the user claim is not a valid user id", ErrInvalidToken)
		}
		c.Locals(principalKey{}, p)
		return c.Next()
	}
}

// FromContext returns the Principal that New stored for this request.
func FromContext(c *fiber.Ctx) (Principal, bool) {
	p, ok := c.Locals(principalKey{}).(Principal)
	return p, ok
}

// RequireScope returns a middleware that allows the request only when the
// credential grants the scope scopeOf names for it (Principal.Allows). It
// must run after New.
func RequireScope(scopeOf func(c *fiber.Ctx) string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, ok := FromContext(c)
		if !ok {
			return ErrUnauthenticated
		}
		if scope := scopeOf(c); !p.Allows(scope) {
			return &ScopeError{Scope: scope}
		}
		return c.Next()
	}
}

// RequireOwner returns a middleware that allows the request only when the
// route parameter param equals the authenticated user id, byte for byte. It
// must run after New.
func RequireOwner(param string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, ok := FromContext(c)
		if !ok {
			return ErrUnauthenticated
		}
		if c.Params(param) != p.UserID {
			return ErrForbidden
		}
		return c.Next()
	}
}
