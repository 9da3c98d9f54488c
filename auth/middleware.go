package auth

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// Config configures New.
type Config struct {
	// Next skips the middleware when it returns true.
	Next func(c *fiber.Ctx) bool
	// Verifier checks the token. Required.
	Verifier Verifier
	// Sources are where a request's token is looked for, in order; the
	// first that finds one decides. Default: FromHeader alone.
	Sources []Source
	// ValidUser checks a verified user id before it can reach anything that
	// stores by it (the store's rule: store.ValidUserID). Required.
	ValidUser func(userID string) bool
}

// Source finds a request's token. found is false when the request carries
// none there; err is an authentication error for one it carries badly.
type Source func(c *fiber.Ctx) (token string, found bool, err error)

// FromHeader reads `Authorization: Bearer <token>`. A request with no
// Authorization header, or another scheme, has no token here.
func FromHeader(c *fiber.Ctx) (string, bool, error) {
	token, ok := ParseBearer(c.Get(fiber.HeaderAuthorization))
	return token, ok, nil
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
		var token string
		found := false
		for _, src := range cfg.Sources {
			var err error
			if token, found, err = src(c); err != nil {
				return err
			}
			if found {
				break
			}
		}
		if !found {
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
