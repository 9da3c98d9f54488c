package api

import (
	"errors"
	"time"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
)

// Observer receives what the API measures; api/metrics implements it for
// Prometheus. Its methods are called on the request path: they must be fast.
type Observer interface {
	Request(method, route string, status int, d time.Duration)
	AuthFailure(reason, verifier string)
	StoreOp(op string, d time.Duration, err error)
}

// nopObserver is used when metrics are off.
type nopObserver struct{}

func (nopObserver) Request(string, string, int, time.Duration) {}
func (nopObserver) AuthFailure(string, string)                 {}
func (nopObserver) StoreOp(string, time.Duration, error)       {}

// timeStore reports how long a store operation took; "not found" is an
// answer, not a failure.
func (a *app) timeStore(op string, start time.Time, err error) {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrPreconditionFailed) {
		err = nil
	}
	a.obs.StoreOp(op, time.Since(start), err)
}

// authReason is the metrics label for a refused request.
func authReason(err error) string {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return "missing"
	case errors.Is(err, auth.ErrTokenExpired):
		return "expired"
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, store.ErrInvalidOwner):
		return "forbidden"
	case errors.Is(err, auth.ErrCrossSite):
		return "cross_site"
	case errors.Is(err, auth.ErrInsufficientScope):
		return "scope"
	case errors.Is(err, auth.ErrUnavailable):
		return "unavailable"
	}
	return "invalid"
}
