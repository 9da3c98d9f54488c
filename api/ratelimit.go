package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
)

// RateLimit configures the optional limiters, off when zero. PerIP runs
// before authentication, so it also slows token guessing; PerUser runs after
// it, so one user cannot starve the others behind a shared address.
type RateLimit struct {
	PerIP   int           // requests per Window per client IP
	PerUser int           // requests per Window per authenticated user
	Window  time.Duration // default 1 minute
}

// limit returns a fixed-window limiter keyed by key. Over the limit it sets
// Retry-After and answers 429 through the error handler.
func limit(max int, window time.Duration, key func(*fiber.Ctx) string) fiber.Handler {
	if window <= 0 {
		window = time.Minute
	}
	return limiter.New(limiter.Config{
		Max:          max,
		Expiration:   window,
		KeyGenerator: key,
		LimitReached: func(*fiber.Ctx) error { return fiber.ErrTooManyRequests },
	})
}

func perIP(c *fiber.Ctx) string { return c.IP() }

func perUser(c *fiber.Ctx) string {
	p, _ := auth.FromContext(c)
	return p.UserID
}

// restScope is the scope a REST request needs.
func restScope(c *fiber.Ctx) string {
	if m := c.Method(); m == fiber.MethodGet || m == fiber.MethodHead {
		return auth.ScopeRead
	}
	return auth.ScopeWrite
}

// guard is the handler chain in front of every task route: the caller must
// be the owner its route parameter ownerParam names, or anyone signed in
// when it is "" (/mcp, whose tools act for the caller alone).
func guard(cfg Config, ownerParam string) []fiber.Handler {
	var chain []fiber.Handler
	if cfg.RateLimit.PerIP > 0 {
		chain = append(chain, limit(cfg.RateLimit.PerIP, cfg.RateLimit.Window, perIP))
	}
	sources := append([]auth.Source{auth.FromHeader}, cfg.Sources...) // a bearer token wins
	authCfg := auth.Config{Verifier: cfg.Verifier, Sources: sources, ValidUser: store.ValidUserID}
	if cfg.MCP != nil {
		// OAuth access tokens for the MCP resource are this server's too:
		// their verifier checks aud against it, on every route.
		authCfg.Context = func(c *fiber.Ctx) context.Context {
			return auth.WithResource(c.UserContext(), mcpResource(cfg, c))
		}
	}
	chain = append(chain, auth.New(authCfg))
	if ownerParam != "" {
		// A credential with scopes (an OAuth grant to an agent) reads with
		// tasks:read and changes with tasks:write; /mcp checks per tool.
		chain = append(chain, auth.RequireOwner(ownerParam), auth.RequireScope(restScope))
	}
	if cfg.RateLimit.PerUser > 0 {
		chain = append(chain, limit(cfg.RateLimit.PerUser, cfg.RateLimit.Window, perUser))
	}
	return append(chain, cfg.Middleware...)
}
