package api

import (
	"crypto/sha256"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskbolt/taskbolt/store"
)

// Idempotent retries (CONTRACT.md): an Idempotency-Key on POST /tasks or
// PATCH /complete records the outcome in the store, in the write's own
// transaction, so a retry after a restart or through another replica is
// answered from the record; a repeat while the first still runs on this
// replica is a 409.

const headerIdempotencyKey = "Idempotency-Key"

// inFlight are the keys of requests running on this replica.
type inFlight struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func (f *inFlight) start(owner, key string) (done func(), ok bool) {
	k := owner + "\x00" + key
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys == nil {
		f.keys = map[string]struct{}{}
	}
	if _, busy := f.keys[k]; busy {
		return nil, false
	}
	f.keys[k] = struct{}{}
	return func() { f.mu.Lock(); delete(f.keys, k); f.mu.Unlock() }, true
}

// idempotency reads the request's key: nil without one. The key is 1-255
// visible ASCII characters; the fingerprint covers method, path and body.
func (a *app) idempotency(c *fiber.Ctx, outcome func(t *store.Task) store.Outcome) (*store.Idempotency, error) {
	key := c.Get(headerIdempotencyKey)
	if key == "" && len(c.Request().Header.Peek(headerIdempotencyKey)) == 0 {
		return nil, nil
	}
	if !validIdempotencyKey(key) {
		return nil, &ValidationError{[]Problem{{Type: "string_pattern_mismatch", Loc: []any{"header", "idempotency-key"},
			Msg: "Idempotency-Key must be 1-255 visible ASCII characters", Input: key}}}
	}
	h := sha256.New()
	h.Write([]byte(c.Method()))
	h.Write([]byte{0})
	h.Write([]byte(c.Path()))
	h.Write([]byte{0})
	h.Write(c.Body())
	idem := &store.Idempotency{Key: key, Outcome: outcome, Expires: time.Now().Add(a.cfg.IdempotencyTTL)}
	copy(idem.Fingerprint[:], h.Sum(nil))
	return idem, nil
}

func validIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// withKey runs write, holding the request's key on this replica while it
// runs (409 for a repeat meanwhile). A replay is answered here.
func (a *app) withKey(c *fiber.Ctx, idem *store.Idempotency, write func() error) error {
	return a.withKeyHeld(c, idem, func(release func()) error {
		defer release()
		return write()
	})
}

// withKeyHeld is withKey for a write that may outlive its handler (a
// streamed chat turn): write gets the release of the key, and must call it
// once, when the write has ended.
func (a *app) withKeyHeld(c *fiber.Ctx, idem *store.Idempotency, write func(release func()) error) error {
	if idem == nil {
		return write(func() {})
	}
	done, ok := a.inFlight.start(owner(c), idem.Key)
	if !ok {
		return errKeyInProgress.send(c)
	}
	err := write(sync.OnceFunc(done))
	var r *store.Replayed
	switch {
	case errors.As(err, &r):
		for k, v := range r.Outcome.Header {
			c.Set(k, v)
		}
		c.Set("Idempotent-Replayed", "true")
		return sendJSON(c, r.Outcome.Status, r.Outcome.Body)
	case errors.Is(err, store.ErrKeyReused):
		return errKeyReused.send(c)
	}
	return err
}

// taskOutcome is what a write answers with t: status, the task's headers
// and its JSON; the first request sends exactly this, and a replay too.
func taskOutcome(status int, location bool) func(t *store.Task) store.Outcome {
	return func(t *store.Task) store.Outcome {
		h := map[string]string{fiber.HeaderETag: etag(t)}
		if location {
			h[fiber.HeaderLocation] = taskLocation(t)
		}
		if t.NextOccurrence != 0 {
			h[headerNextOccurrence] = strconv.FormatUint(t.NextOccurrence, 10)
		}
		return store.Outcome{Status: status, Header: h, Body: t.AppendJSON(nil)}
	}
}
