package api

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
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

// broker wakes the streams of an owner when its log grows, and lets them
// share their reads of it: one change wakes every stream of its owner, and
// streams that have sent the same events ask for the same changes, so one
// read of the log (a query, on PostgreSQL) serves them all.
type broker struct {
	mu   sync.Mutex
	subs map[string]*ownerStreams
}

type ownerStreams struct {
	streams map[chan struct{}]struct{}
	gen     uint64      // publishes so far: a read begun before the last one may miss its change
	read    *sharedRead // the newest read, or nil
}

// sharedRead is one read of an owner's log after an id; done is closed once
// its result is in.
type sharedRead struct {
	gen, after uint64
	done       chan struct{}
	changes    []store.Change // read-only once done: shared
	last       uint64
	gap        bool
	err        error
}

func newBroker() *broker { return &broker{subs: map[string]*ownerStreams{}} }

// publish wakes owner's streams ("": every stream). It never blocks: a
// stream that has not yet read its last wake-up just reads more.
func (b *broker) publish(owner string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	wake := func(o *ownerStreams) {
		o.gen++
		for ch := range o.streams {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	if owner != "" {
		if o := b.subs[owner]; o != nil {
			wake(o)
		}
		return
	}
	for _, o := range b.subs {
		wake(o)
	}
}

// read returns owner's changes after an id: the result of a read begun
// since the last publish for the same id when there is one (waiting for it
// if it is still running), else load's, which the others may then share.
// A read begun after a publish sees the change that publish was for.
func (b *broker) read(owner string, after uint64, load func() ([]store.Change, uint64, bool, error)) ([]store.Change, uint64, bool, error) {
	b.mu.Lock()
	o := b.subs[owner]
	if o == nil { // not subscribed: nothing to share
		b.mu.Unlock()
		return load()
	}
	if r := o.read; r != nil && r.gen == o.gen && r.after == after {
		b.mu.Unlock()
		<-r.done
		return r.changes, r.last, r.gap, r.err
	}
	r := &sharedRead{gen: o.gen, after: after, done: make(chan struct{})}
	o.read = r
	b.mu.Unlock()
	r.changes, r.last, r.gap, r.err = load()
	close(r.done)
	return r.changes, r.last, r.gap, r.err
}

// subscribe registers a stream of owner, unless it already has max.
func (b *broker) subscribe(owner string, max int) (chan struct{}, func(), bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.subs[owner]
	if o == nil {
		o = &ownerStreams{streams: map[chan struct{}]struct{}{}}
		b.subs[owner] = o
	}
	if len(o.streams) >= max {
		return nil, nil, false
	}
	ch := make(chan struct{}, 1)
	o.streams[ch] = struct{}{}
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(o.streams, ch)
		if len(o.streams) == 0 && b.subs[owner] == o {
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
	// Where to start: now, or after Last-Event-ID (a reconnection). An id we
	// never sent (garbage, or ahead of the user's sequence) is a reset, then
	// only the changes made after it: replaying older ones on top of the
	// refetched list could bring back what was deleted.
	seq, err := a.changes.Seq(c.UserContext(), user)
	if err != nil {
		return err
	}
	after, reset := seq, false
	if h := strings.TrimSpace(c.Get("Last-Event-ID")); h != "" {
		v, err := strconv.ParseUint(h, 10, 64)
		if err != nil || v > seq {
			reset = true
		} else {
			after = v
		}
	}
	setEventStreamHeaders(c)
	if c.Method() == fiber.MethodHead {
		return nil
	}
	obs := a.streamObserver()
	wake, unsubscribe, ok := a.broker.subscribe(user, MaxStreamsPerUser)
	if !ok {
		obs.StreamRefused()
		c.Set(fiber.HeaderRetryAfter, "5")
		return errTooManyRequests.send(c) // MaxStreamsPerUser on this replica
	}
	obs.StreamOpened()
	c.Status(fiber.StatusOK)
	a.serveLong(c, func(w *longResponse) error {
		reason := "error"
		defer func() { unsubscribe(); obs.StreamClosed(reason) }()
		s := &sseWriter{w: w}
		end := func(why, comment string) error {
			reason, w.End = why, why
			s.comment(comment)
			return s.flush()
		}
		var expires <-chan time.Time
		if !p.Expires.IsZero() {
			t := time.NewTimer(time.Until(p.Expires))
			defer t.Stop()
			expires = t.C
		}
		// The status and headers go out at once, before any event.
		s.comment("events of " + strconv.Quote(user))
		if reset {
			s.event(0, "reset", []byte("{}"))
		}
		if err := s.flush(); err != nil {
			reason = "client"
			return err
		}
		beat := time.NewTicker(a.cfg.Heartbeat)
		defer beat.Stop()
		for {
			// Send what the log has after the last id sent, a batch at a
			// time: a reader that falls behind holds up one batch here, never
			// the whole log, and its write deadline passes while we wait on it.
			for more := true; more; {
				more = false
				from := after
				changes, last, gap, err := a.broker.read(user, from, func() ([]store.Change, uint64, bool, error) {
					return a.changes.Changes(a.background, user, from, eventBatch)
				})
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
					if errors.Is(err, errClientGone) {
						reason = "client"
					}
					return err
				}
			}
			select {
			case <-wake:
			case <-beat.C:
				s.comment("keep-alive")
			case <-w.Gone():
				reason, w.End = "client", "client closed"
				return nil
			case <-expires:
				return end("expired", "the credential has expired: reconnect with a fresh one")
			case <-a.cfg.Done:
				return end("shutdown", "the server is shutting down: reconnect")
			case <-a.long.quit:
				return end("shutdown", "the server is shutting down: reconnect")
			}
		}
	})
	return nil
}

// setEventStreamHeaders are the headers of every Server-Sent Events
// response: the event stream and a streamed chat turn.
func setEventStreamHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache, no-transform") // no-transform: proxies must not compress (and so hold back) events
	c.Set("X-Accel-Buffering", "no")                          // nginx: pass each event on at once
}

// sseWriter writes the text/event-stream format.
type sseWriter struct {
	w   *longResponse
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
		_, err := s.w.Write(s.buf.Bytes())
		s.buf.Reset()
		if err != nil {
			return err
		}
	}
	return s.w.Flush()
}
