package auth

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"taskbolt/store"
)

// Config configures New.
type Config struct {
	// Next skips the middleware when it returns true.
	Next func(c *fiber.Ctx) bool
	// Verifier checks the bearer token. Required.
	Verifier Verifier
}

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
	if cfg.Verifier == nil {
		panic("auth.New: Config.Verifier is required")
	}
	return func(c *fiber.Ctx) error {
		if cfg.Next != nil && cfg.Next(c) {
			return c.Next()
		}
		token, ok := ParseBearer(c.Get(fiber.HeaderAuthorization))
		if !ok {
			return ErrUnauthenticated
		}
		if len(token) > MaxTokenLen {
			return fmt.Errorf("%w: token longer than %d bytes", ErrInvalidToken, MaxTokenLen)
		}
		p, err := cfg.Verifier.Verify(c.UserContext(), token)
		if err != nil {
			return err
		}
		// The user id becomes a bucket name: refuse anything outside the
		// contract's charset here, before it can reach the store.
		if !store.ValidUserID(p.UserID) {
			return fmt.Errorf("%w: user claim is not 1-%d visible ASCII characters without '/'", ErrInvalidToken, store.MaxUserIDLen)
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
