package store

import (
	"context"
	"errors"
	"time"
)

// Idempotency asks a write (Create, or an Update) to record its outcome
// under Key, per owner, in the transaction of the change, so that a retry
// of the same request is answered from the record instead of writing again
// (CONTRACT.md "Idempotent retries").
type Idempotency struct {
	Key         string
	Fingerprint [32]byte // of the request: method, path and body
	// Outcome is what the first request answers, from the task the write
	// produced. It is called inside the write (maybe more than once): it must
	// only compute.
	Outcome func(t *Task) Outcome
	Expires time.Time
}

// Outcome is a recorded answer.
type Outcome struct {
	Status int               `json:"status"`
	Header map[string]string `json:"header,omitempty"`
	Body   []byte            `json:"body"`
}

// Replayed is the error of a write whose key already holds the outcome of
// the same request: nothing was written, and this is the answer.
type Replayed struct{ Outcome Outcome }

func (r *Replayed) Error() string { return "store: replayed an idempotent request" }

// ErrKeyReused refuses a request whose Idempotency-Key holds the outcome of a
// different request.
var ErrKeyReused = errors.New("store: Idempotency-Key used for a different request")

// IdempotencySweeper is a store that can drop expired idempotency records.
type IdempotencySweeper interface {
	SweepIdempotency(ctx context.Context, now time.Time) (int, error)
}
