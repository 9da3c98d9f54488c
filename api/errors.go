package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/taskbolt/taskbolt/api/agent"
	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
)

// Problem is one entry of a 422 body, in the shape FastAPI (pydantic v2)
// produces. Input is always present, null included.
type Problem struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// ValidationError carries every problem found in one request.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	return "validation failed: " + e.Problems[0].Msg
}

func (e *ValidationError) add(p Problem) { e.Problems = append(e.Problems, p) }

// err returns e when it holds problems, else nil.
func (e *ValidationError) err() error {
	if e == nil || len(e.Problems) == 0 {
		return nil
	}
	return e
}

// contractError is one row of CONTRACT.md's error table: its status and its
// detail text, copied from the contract. Every answer of a row goes through
// its entry here, so a text lives in one place; TestErrorTable pins each one
// over HTTP against the contract. Headers a row requires (WWW-Authenticate,
// ETag, Retry-After, Allow) are set by the code that knows their values.
type contractError struct {
	status int
	detail string
}

var (
	errNotAuthenticated = contractError{http.StatusUnauthorized, "Not authenticated"}
	errInvalidToken     = contractError{http.StatusUnauthorized, "Invalid token"}
	errTokenExpired     = contractError{http.StatusUnauthorized, "Token has expired"}
	errNotYours         = contractError{http.StatusForbidden, "Not authorized to access these tasks"}
	errTaskNotFound     = contractError{http.StatusNotFound, "Task not found"}
	errRouteNotFound    = contractError{http.StatusNotFound, "Not Found"}
	errMethodNotAllowed = contractError{http.StatusMethodNotAllowed, "Method Not Allowed"}
	errBodyTooLarge     = contractError{http.StatusRequestEntityTooLarge, "Request body too large"}
	errPrecondition     = contractError{http.StatusPreconditionFailed, "Precondition Failed"}
	errKeyReused        = contractError{http.StatusUnprocessableEntity, "Idempotency-Key reused with a different request"}
	errKeyInProgress    = contractError{http.StatusConflict, "A request with this Idempotency-Key is in progress"}
	errCrossSite        = contractError{http.StatusForbidden, "Cross-site request refused"}
	errScope            = contractError{http.StatusForbidden, "Insufficient scope"}
	errTooManyRequests  = contractError{http.StatusTooManyRequests, "Too many requests"}
	errInternal         = contractError{http.StatusInternalServerError, "Internal Server Error"}

	// CONTRACT.md "Chat".
	errConversationNotFound = contractError{http.StatusNotFound, "Conversation not found"}
	errModelFailed          = contractError{http.StatusBadGateway, "The model service failed"}
	errModelTimeout         = contractError{http.StatusGatewayTimeout, "The model service timed out"}
	errChatOff              = contractError{http.StatusNotImplemented, "Chat is not configured"}
)

// errStoreUnavailable is taskbolt's own answer when the store cannot serve
// (CONTRACT.md has no row for it), whichever door asked: REST, a tool, a
// chat turn.
var errStoreUnavailable = contractError{http.StatusServiceUnavailable, "Storage unavailable, try again shortly"}

// send answers the row.
func (e contractError) send(c *fiber.Ctx) error { return detail(c, e.status, e.detail) }

const (
	bearerChallenge       = "Bearer"
	invalidTokenChallenge = `Bearer error="invalid_token"`
)

// errorHandler is the app's only error handler: it maps every error to the
// status and {"detail": ...} body of CONTRACT.md. A 5xx never shows its
// cause; the cause is logged once, with the request id.
func (a *app) errorHandler(c *fiber.Ctx, err error) error {
	rid := requestID(c) // also ensures the header on errors raised before routing
	var (
		ve *ValidationError
		fe *fiber.Error
		se *auth.ScopeError
	)
	switch {
	case errors.As(err, &ve):
		problems := make([]Problem, len(ve.Problems))
		for i, p := range ve.Problems {
			p.Input = readableInput(p.Input)
			problems[i] = p
		}
		return writeJSON(c, fiber.StatusUnprocessableEntity, map[string]any{"detail": problems})
	case errors.Is(err, auth.ErrUnauthenticated):
		c.Set(fiber.HeaderWWWAuthenticate, a.challenge(c, bearerChallenge))
		return a.authFailure(c, err, errNotAuthenticated)
	case errors.Is(err, auth.ErrTokenExpired):
		c.Set(fiber.HeaderWWWAuthenticate, a.challenge(c, invalidTokenChallenge))
		return a.authFailure(c, err, errTokenExpired)
	case errors.Is(err, auth.ErrInvalidToken):
		c.Set(fiber.HeaderWWWAuthenticate, a.challenge(c, invalidTokenChallenge))
		return a.authFailure(c, err, errInvalidToken)
	case errors.Is(err, auth.ErrCrossSite):
		return a.authFailure(c, err, errCrossSite)
	case errors.As(err, &se):
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer error="insufficient_scope", scope="`+se.Scope+`"`)
		return a.authFailure(c, err, errScope)
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, store.ErrInvalidOwner):
		return a.authFailure(c, err, errNotYours)
	case errors.Is(err, store.ErrNotFound):
		return errTaskNotFound.send(c)
	case errors.Is(err, store.ErrConversationNotFound):
		return errConversationNotFound.send(c)
	case errors.Is(err, errTurnTimedOut), errors.Is(err, agent.ErrModel):
		return a.chatError(rid, err).send(c)
	case errors.Is(err, store.ErrPreconditionFailed):
		return errPrecondition.send(c) // the handler has set the task's current ETag
	case errors.Is(err, auth.ErrUnavailable):
		a.obs.AuthFailure("unavailable", auth.VerifierOf(err))
		a.log.Error("authentication unavailable", "request_id", rid, "verifier", auth.VerifierOf(err), "err", err)
		c.Set(fiber.HeaderRetryAfter, "5")
		return detail(c, http.StatusServiceUnavailable, "Authentication service unavailable, try again shortly")
	case errors.Is(err, store.ErrUnavailable):
		a.log.Error("store unavailable", "request_id", rid, "err", err)
		c.Set(fiber.HeaderRetryAfter, "5")
		return errStoreUnavailable.send(c)
	case errors.As(err, &fe) && fe.Code < 500:
		switch fe.Code {
		case http.StatusNotFound:
			return errRouteNotFound.send(c)
		case http.StatusMethodNotAllowed:
			return errMethodNotAllowed.send(c)
		case http.StatusRequestEntityTooLarge:
			return errBodyTooLarge.send(c)
		case http.StatusTooManyRequests:
			return errTooManyRequests.send(c)
		}
		// Fiber's own messages ("Cannot GET /x") echo the path; use the
		// standard phrase, as FastAPI does.
		return detail(c, fe.Code, http.StatusText(fe.Code))
	case errors.As(err, &fe) && fe.Code == http.StatusNotImplemented:
		// Our own refusal of a feature the configuration lacks; its
		// message is ours, never a cause.
		return detail(c, fe.Code, fe.Message)
	}
	a.log.Error("internal error", "request_id", rid, "method", c.Method(), "route", c.Route().Path, "err", err)
	return errInternal.send(c)
}

// authFailure answers a 401/403 and writes one audit line: why, which
// verifier, from where. Never the token or its claims.
func (a *app) authFailure(c *fiber.Ctx, err error, answer contractError) error {
	verifier := auth.VerifierOf(err)
	a.obs.AuthFailure(authReason(err), verifier)
	a.log.Warn("auth failure", "request_id", requestID(c), "status", answer.status, "reason", err.Error(), "verifier", verifier,
		"ip", c.IP(), "method", c.Method(), "route", c.Route().Path)
	return answer.send(c)
}

func detail(c *fiber.Ctx, status int, msg string) error {
	return writeJSON(c, status, map[string]string{"detail": msg})
}

func writeJSON(c *fiber.Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("encode response", "err", err)
		b = []byte(`{"detail":"Internal Server Error"}`)
		status = http.StatusInternalServerError
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// readableInput is a problem's input as every JSON decoder can read it back.
// Numbers are echoed as sent (json.Number), but one beyond a float64's range
// (1E700) is text most decoders refuse, Go's and Pydantic's among them: such a
// number is echoed as a string of its digits.
func readableInput(v any) any {
	switch v := v.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return string(v)
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = readableInput(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = readableInput(e)
		}
		return out
	}
	return v
}
