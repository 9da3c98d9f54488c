package api

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/taskbolt/taskbolt/auth"
)

const headerRequestID = "X-Request-ID"

type requestIDKey struct{}

// requestMeta gives every request an id (the client's X-Request-ID when it is
// sane, else a new one) and sets the headers every response carries.
func (a *app) requestMeta(c *fiber.Ctx) error {
	rid := c.Get(headerRequestID)
	if saneRequestID(rid) {
		rid = utils.CopyString(rid) // Fiber reuses the request buffer
	} else {
		rid = newRequestID()
	}
	setResponseMeta(c, rid)
	return c.Next()
}

// Request ids are this process's random prefix and a counter: unique across
// replicas and restarts, like a random id, at a fraction of the cost of
// reading 16 random bytes per request (3 % of a list's CPU). An id only names
// a request in the logs; it grants nothing.
var (
	requestIDPrefix  = rand.Text()[:13] + "-" // 65 random bits
	requestIDCounter atomic.Uint64
)

func newRequestID() string {
	var b [40]byte
	out := append(b[:0], requestIDPrefix...)
	return string(strconv.AppendUint(out, requestIDCounter.Add(1), 36))
}

// requestID returns the request's id, creating one for errors raised before
// any middleware ran (a body over the limit, a malformed request).
func requestID(c *fiber.Ctx) string {
	if rid, ok := c.Locals(requestIDKey{}).(string); ok {
		return rid
	}
	rid := newRequestID()
	setResponseMeta(c, rid)
	return rid
}

func setResponseMeta(c *fiber.Ctx, rid string) {
	c.Locals(requestIDKey{}, rid)
	h := &c.Response().Header
	h.Set(headerRequestID, rid)
	// A JSON API: nothing here should be sniffed, framed, cached or referred.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
}

// saneRequestID accepts 1-128 characters of [A-Za-z0-9._:-], so a client id
// can never inject anything into headers or logs.
func saneRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// accessLog writes one line per request: method, route pattern, status,
// duration, request id, user id. Never the token, the claims or the body.
// It renders errors itself so that the logged status is the one sent.
func (a *app) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := a.errorHandler(c, err); herr != nil {
			return herr
		}
	}
	if streaming, _ := c.Locals(streamingKey{}).(bool); streaming {
		return nil // logged when the stream ends
	}
	a.logRequest(c.UserContext(), slog.LevelInfo, "request", factsOf(c), c.Response().StatusCode(), time.Since(start))
	return nil
}

// requestFacts are what the access log says of a request.
type requestFacts struct{ method, route, requestID, userID string }

// factsOf reads a request's facts. They alias Fiber's context: copy any
// kept past the handler.
func factsOf(c *fiber.Ctx) requestFacts {
	f := requestFacts{method: methodLabel(c.Method()), route: c.Route().Path, requestID: requestID(c)}
	if f.route == "/mcp" {
		f.route = mcpRoute(c, f.route)
	}
	if p, ok := auth.FromContext(c); ok {
		f.userID = p.UserID
	}
	return f
}

// logRequest records a finished request in the metrics and, with extra
// attributes, in the access log.
func (a *app) logRequest(ctx context.Context, level slog.Level, msg string, f requestFacts, status int, d time.Duration, extra ...slog.Attr) {
	a.obs.Request(f.method, f.route, status, d)
	if !a.log.Enabled(ctx, level) {
		return
	}
	attrs := append([]slog.Attr{
		slog.String("method", f.method),
		slog.String("route", f.route),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.String("request_id", f.requestID),
		slog.String("user_id", f.userID),
	}, extra...)
	a.log.LogAttrs(ctx, level, msg, attrs...)
}

// panicError is a recovered panic; the error handler logs it with its stack
// and answers a cause-free 500.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v\n%s", p.value, p.stack) }

func recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return c.Next()
}

// methodLabel returns a constant string for a request method. Fiber's
// c.Method() aliases a buffer that is reused by the next request, so it must
// never be kept (as a metrics label is); unknown methods share one label,
// which also bounds the label's values.
func methodLabel(m string) string {
	for _, known := range [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		if m == known {
			return known
		}
	}
	return "OTHER"
}
