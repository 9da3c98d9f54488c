package api

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"taskbolt/auth"
)

// Events (CONTRACT.md "Events"): GET /api/{user_id}/events is a Server-Sent
// Events stream of the user's change log. A store's commit notifies the
// broker (for PostgreSQL, through LISTEN/NOTIFY, so from any replica); each
// stream then reads the log from the last id it sent, so nothing is lost or
// reordered, and writers never wait for readers.

const (
	// MaxStreamsPerUser is the most streams one user may hold on a replica.
	MaxStreamsPerUser = 10
	// DefaultHeartbeat is how often an idle stream sends a comment line.
	DefaultHeartbeat = 15 * time.Second
	// eventBatch is how many changes a stream reads from the log at once.
	eventBatch = 100
)

// StreamObserver is an optional Observer capability: event stream metrics.
type StreamObserver interface {
	StreamOpened()
	StreamClosed(reason string) // "client", "expired", "shutdown", "slow", "error"
	EventsSent(n int)
	StreamRefused() // over MaxStreamsPerUser
}

// broker wakes the streams of an owner when its log grows.
type broker struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func newBroker() *broker { return &broker{subs: map[string]map[chan struct{}]struct{}{}} }

// publish wakes owner's streams ("": every stream). It never blocks: a
// stream that has not yet read its last wake-up just reads more.
func (b *broker) publish(owner string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	wake := func(subs map[chan struct{}]struct{}) {
		for ch := range subs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	if owner != "" {
		wake(b.subs[owner])
		return
	}
	for _, subs := range b.subs {
		wake(subs)
	}
}

// subscribe registers a stream of owner, unless it already has max.
func (b *broker) subscribe(owner string, max int) (chan struct{}, func(), bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs[owner]) >= max {
		return nil, nil, false
	}
	if b.subs[owner] == nil {
		b.subs[owner] = map[chan struct{}]struct{}{}
	}
	ch := make(chan struct{}, 1)
	b.subs[owner][ch] = struct{}{}
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs[owner], ch)
		if len(b.subs[owner]) == 0 {
			delete(b.subs, owner)
		}
	}, true
}

func (a *app) streamObserver() StreamObserver {
	if o, ok := a.obs.(StreamObserver); ok {
		return o
	}
	return nopStreams{}
}

type nopStreams struct{}

func (nopStreams) StreamOpened()       {}
func (nopStreams) StreamClosed(string) {}
func (nopStreams) EventsSent(int)      {}
func (nopStreams) StreamRefused()      {}

// events serves the stream.
func (a *app) events(c *fiber.Ctx) error {
	if a.changes == nil {
		return fiber.NewError(fiber.StatusNotImplemented, "This store keeps no change log: no event stream")
	}
	user := owner(c)
	p, _ := auth.FromContext(c)
	ctx := c.UserContext()
	// Where to start: after Last-Event-ID (a reconnection), else now.
	after, reset := uint64(0), false
	if h := strings.TrimSpace(c.Get("Last-Event-ID")); h != "" {
		v, err := strconv.ParseUint(h, 10, 64)
		after, reset = v, err != nil // an id we never sent: start over
	} else {
		seq, err := a.changes.Seq(ctx, user)
		if err != nil {
			return err
		}
		after = seq
	}
	obs := a.streamObserver()
	wake, unsubscribe, ok := a.broker.subscribe(user, MaxStreamsPerUser)
	if !ok {
		obs.StreamRefused()
		c.Set(fiber.HeaderRetryAfter, "5")
		return detail(c, fiber.StatusTooManyRequests, "Too many event streams for this user")
	}
	obs.StreamOpened()
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache, no-transform") // no-transform: proxies must not compress (and so hold back) events
	c.Set("X-Accel-Buffering", "no")                          // nginx: pass each event on at once
	c.Status(fiber.StatusOK)
	a.streamBody(c, func(w io.Writer) (int64, error) {
		// The stream runs after the handler has returned: its timers live here.
		var expires <-chan time.Time
		if !p.Expires.IsZero() {
			t := time.NewTimer(time.Until(p.Expires))
			defer t.Stop()
			expires = t.C
		}
		s := &sseWriter{w: w}
		reason := "error"
		defer func() { unsubscribe(); obs.StreamClosed(reason) }()
		// The status and headers go out at once, before any event.
		s.comment("events of " + strconv.Quote(user))
		if reset {
			s.event(0, "reset", []byte("{}"))
		}
		if err := s.flush(); err != nil {
			reason = "client"
			return s.n, err
		}
		beat := time.NewTicker(a.cfg.Heartbeat)
		defer beat.Stop()
		for {
			// Send what the log has after the last id sent, a batch at a
			// time: a reader that falls behind holds up one batch here, never
			// the whole log, and its write deadline passes while we wait on it.
			for more := true; more; {
				more = false
				changes, last, gap, err := a.changes.Changes(a.background, user, after, eventBatch)
				switch {
				case err != nil: // try again at the next wake-up or heartbeat
					a.log.Warn("event stream: reading the change log", "user_id_len", len(user), "err", err)
				case gap:
					s.event(0, "reset", []byte("{}"))
					after = last
				default:
					for _, ch := range changes {
						s.event(ch.Seq, ch.Kind.Event(), ch.Data)
						after = ch.Seq
					}
					obs.EventsSent(len(changes))
					more = len(changes) == eventBatch
				}
				if err := s.flush(); err != nil {
					reason = "slow" // the write deadline passed, or the client went away
					return s.n, err
				}
			}
			select {
			case <-wake:
			case <-beat.C:
				s.comment("keep-alive")
			case <-expires:
				reason = "expired"
				s.comment("the credential has expired: reconnect with a fresh one")
				return s.n, s.flush()
			case <-a.cfg.Done:
				reason = "shutdown"
				s.comment("the server is shutting down: reconnect")
				return s.n, s.flush()
			}
		}
	})
	return nil
}

// sseWriter writes the text/event-stream format.
type sseWriter struct {
	w   io.Writer
	n   int64
	buf bytes.Buffer
}

func (s *sseWriter) comment(text string) {
	fmt.Fprintf(&s.buf, ": %s\n\n", text)
}

// event writes one event; id 0 writes none (a reset). data is JSON: one
// line, as JSON text has no raw newlines.
func (s *sseWriter) event(id uint64, name string, data []byte) {
	if id != 0 {
		s.buf.WriteString("id: ")
		s.buf.WriteString(strconv.FormatUint(id, 10))
		s.buf.WriteByte('\n')
	}
	s.buf.WriteString("event: ")
	s.buf.WriteString(name)
	s.buf.WriteString("\ndata: ")
	s.buf.Write(data)
	s.buf.WriteString("\n\n")
}

// flush sends what was written and pushes it to the client.
func (s *sseWriter) flush() error {
	if s.buf.Len() > 0 {
		n, err := s.w.Write(s.buf.Bytes())
		s.n += int64(n)
		s.buf.Reset()
		if err != nil {
			return err
		}
	}
	if f, ok := s.w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}
