package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/store"
)

// stream is one open event stream, read over a real socket.
type stream struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
}

type sseEvent struct {
	id, name, data string
	comment        string
	err            error
}

func openStream(t *testing.T, url, tok string, hdr ...string) *stream {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{t: t, resp: resp, events: make(chan sseEvent, 100)}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		return s
	}
	go func() {
		r := bufio.NewReader(resp.Body)
		var e sseEvent
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				s.events <- sseEvent{err: err}
				close(s.events)
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if e != (sseEvent{}) {
					s.events <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(line, ": "):
				e.comment = line[2:]
			case strings.HasPrefix(line, "id: "):
				e.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				e.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.data = line[6:]
			}
		}
	}()
	return s
}

// next is the next event (comments skipped), or fails after a second.
func (s *stream) next() sseEvent {
	s.t.Helper()
	for {
		select {
		case e, ok := <-s.events:
			if !ok || e.err != nil {
				s.t.Fatalf("the stream ended: %v", e.err)
			}
			if e.name != "" {
				return e
			}
		case <-time.After(time.Second):
			s.t.Fatal("no event within a second")
		}
	}
}

// quiet checks that no event arrives for d.
func (s *stream) quiet(d time.Duration) {
	s.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-s.events:
			if e.name != "" || e.err != nil {
				s.t.Fatalf("unexpected event %+v", e)
			}
		case <-deadline:
			return
		}
	}
}

// ended waits for the stream to end and returns its last comment.
func (s *stream) ended(within time.Duration) string {
	s.t.Helper()
	last := ""
	deadline := time.After(within)
	for {
		select {
		case e := <-s.events:
			if e.err == io.EOF || e.err != nil {
				return last
			}
			if e.comment != "" {
				last = e.comment
			}
		case <-deadline:
			s.t.Fatalf("the stream did not end within %v", within)
		}
	}
}

func TestEvents(t *testing.T) {
	done := make(chan struct{})
	e := newEnv(t, api.Config{Done: done})
	base := e.listen()
	tok, bobTok := token(t, "alice"), token(t, "bob")
	events := base + "/api/alice/events"

	s := openStream(t, events, tok)
	if s.resp.StatusCode != 200 || s.resp.Header.Get("Content-Type") != "text/event-stream" || s.resp.Header.Get("Cache-Control") != "no-cache, no-transform" {
		t.Fatalf("subscribe: %d %v", s.resp.StatusCode, s.resp.Header)
	}
	created := e.do("POST", "/api/alice/tasks", tok, `{"title":"Buy milk"}`)
	ev := s.next()
	if ev.id != "1" || ev.name != "task.created" || ev.data != string(created.body) {
		t.Fatalf("after a create: %+v, want id 1 task.created %s", ev, created.body)
	}
	toggled := e.do("PATCH", "/api/alice/tasks/1/complete", tok, "")
	if ev := s.next(); ev.id != "2" || ev.name != "task.updated" || ev.data != string(toggled.body) {
		t.Fatalf("after a toggle: %+v", ev)
	}
	e.do("POST", "/api/bob/tasks", bobTok, `{"title":"bob's"}`)                // another user's change: not on alice's stream
	e.do("PUT", "/api/alice/tasks/1", tok, `{"title":"x"}`, "If-Match", `"1"`) // 412: nothing changed
	e.do("POST", "/api/alice/tasks", tok, `{"title":""}`)                      // 422
	e.do("DELETE", "/api/alice/tasks/1", tok, "")
	if ev := s.next(); ev.id != "3" || ev.name != "task.deleted" || ev.data != `{"id":1}` {
		t.Fatalf("after a delete (and a 412, a 422 and bob's change, which send nothing): %+v", ev)
	}

	t.Run("Resume", func(t *testing.T) {
		r := openStream(t, events, tok, "Last-Event-ID", "1")
		if ev := r.next(); ev.id != "2" || ev.name != "task.updated" {
			t.Fatalf("resumed after 1: %+v", ev)
		}
		if ev := r.next(); ev.id != "3" {
			t.Fatalf("then: %+v", ev)
		}
		// An id we never sent: a reset, then only what changes after it,
		// never the kept log (ids 1-3) replayed on top of the refetch.
		for _, id := range []string{"999", "not-an-event-id", "-1"} {
			r := openStream(t, events, tok, "Last-Event-ID", id)
			if ev := r.next(); ev.name != "reset" || ev.data != "{}" || ev.id != "" {
				t.Fatalf("Last-Event-ID %s: %+v, want a reset", id, ev)
			}
			r.quiet(200 * time.Millisecond)
			created := e.do("POST", "/api/alice/tasks", tok, `{"title":"after the reset"}`).task(t)
			ev := r.next()
			if ev.name != "task.created" || !strings.Contains(ev.data, `"id":`+strconv.FormatUint(created.ID, 10)+`,`) {
				t.Fatalf("Last-Event-ID %s: after the reset came %+v, want the new task %d", id, ev, created.ID)
			}
			r.resp.Body.Close()
		}
	})
	t.Run("OnlyTheOwner", func(t *testing.T) {
		if r := openStream(t, events, bobTok); r.resp.StatusCode != 403 {
			t.Errorf("bob on alice's events: %d", r.resp.StatusCode)
		}
		if r := openStream(t, events+"?token="+tok, ""); r.resp.StatusCode != 401 {
			t.Errorf("a token in the query string: %d", r.resp.StatusCode)
		}
	})
	t.Run("TenStreamsPerUser", func(t *testing.T) {
		var open []*stream
		for range api.MaxStreamsPerUser - 1 { // s is open; Resume's streams closed, and so are free
			open = append(open, openStream(t, base+"/api/alice/events", tok))
		}
		over := openStream(t, events, tok)
		if over.resp.StatusCode != 429 {
			t.Fatalf("stream %d: %d", api.MaxStreamsPerUser+1, over.resp.StatusCode)
		}
		for _, o := range open {
			o.resp.Body.Close()
		}
		time.Sleep(100 * time.Millisecond)
	})
	t.Run("EndsWhenTheTokenExpires", func(t *testing.T) {
		short, err := hs256.Sign(secret, hs256.Claims("carol", 2*time.Second, "", "", time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		r := openStream(t, base+"/api/carol/events", short)
		if last := r.ended(5 * time.Second); !strings.Contains(last, "expired") {
			t.Errorf("last comment %q", last)
		}
	})
	t.Run("EndsOnShutdown", func(t *testing.T) {
		r := openStream(t, base+"/api/dave/events", token(t, "dave"))
		r.quiet(100 * time.Millisecond)
		close(done)
		if last := r.ended(2 * time.Second); !strings.Contains(last, "shutting down") {
			t.Errorf("last comment %q", last)
		}
	})
}

// TestSlowStreamIsDropped: a client that stops reading is disconnected once
// a write to it has waited StallTimeout; writers never wait for it.
func TestSlowStreamIsDropped(t *testing.T) {
	e := newEnv(t, api.Config{StallTimeout: 300 * time.Millisecond})
	base := e.listen()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(conn, "GET /api/alice/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", token(t, "alice"))
	time.Sleep(200 * time.Millisecond) // subscribed
	desc := strings.Repeat("d", 1000)
	var wg sync.WaitGroup
	for w := range 32 { // ~7 MB of events that nobody reads; concurrent creates share commits
		wg.Go(func() {
			for i := w; i < 6000; i += 32 {
				if _, err := e.store.Create(context.Background(), "alice", store.NewTask{Title: fmt.Sprint(i), Description: &desc}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(e.logs.String(), `"msg":"stream ended"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled stream was not dropped:\n%s", e.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(e.logs.String(), `"outcome":"cut:`) {
		t.Errorf("the stream's end is not logged as cut:\n%s", e.logs.String())
	}
}

// TestHeartbeat: an idle stream sends a comment line every Heartbeat.
func TestHeartbeat(t *testing.T) {
	e := newEnv(t, api.Config{Heartbeat: 100 * time.Millisecond})
	s := openStream(t, e.listen()+"/api/alice/events", token(t, "alice"))
	beats := 0
	deadline := time.After(time.Second)
	for beats < 3 {
		select {
		case ev := <-s.events:
			if ev.comment == "keep-alive" {
				beats++
			}
		case <-deadline:
			t.Fatalf("%d heartbeats in a second at 100 ms", beats)
		}
	}
}

// countingLog is a store whose change log reads are counted.
type countingLog struct {
	store.Store
	store.Changelog
	reads atomic.Int64
}

func (c *countingLog) Changes(ctx context.Context, owner string, after uint64, limit int) ([]store.Change, uint64, bool, error) {
	c.reads.Add(1)
	return c.Changelog.Changes(ctx, owner, after, limit)
}

// TestStreamsShareReads: the streams of one user, woken by one change, share
// one read of the change log (a query each, on PostgreSQL), and each still
// gets every event, in order.
func TestStreamsShareReads(t *testing.T) {
	var log *countingLog
	done := make(chan struct{})
	e := newEnv(t, api.Config{Done: done}, func(s store.Store) store.Store {
		log = &countingLog{Store: s, Changelog: s.(store.Changelog)}
		return log
	})
	base := e.listen()
	t.Cleanup(func() { close(done) }) // the streams end before the server shuts down
	tok := token(t, "alice")
	var streams []*stream
	for range api.MaxStreamsPerUser {
		streams = append(streams, openStream(t, base+"/api/alice/events", tok))
	}
	const creates = 20
	before := log.reads.Load()
	for i := range creates {
		created := e.do("POST", "/api/alice/tasks", tok, fmt.Sprintf(`{"title":"task %d"}`, i))
		for _, s := range streams {
			if ev := s.next(); ev.id != strconv.Itoa(i+1) || ev.name != "task.created" || ev.data != string(created.body) {
				t.Fatalf("create %d: %+v", i+1, ev)
			}
		}
	}
	if reads := log.reads.Load() - before; reads > 3*creates {
		t.Errorf("%d streams read the log %d times for %d changes: each read its own", len(streams), reads, creates)
	}
}

// TestImportIsOneReset: an import sends the user's streams one reset (with
// an id, so a reconnection resumes after it), not an event per task.
func TestImportIsOneReset(t *testing.T) {
	e := newEnv(t, api.Config{AdminToken: adminTok})
	tok := token(t, "carol")
	s := openStream(t, e.listen()+"/api/carol/events", tok)
	r := e.do("POST", "/admin/import", adminTok, `{"user_id":"carol","tasks":[{"title":"a"},{"title":"b"},{"title":"c"}]}`)
	if r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	if ev := s.next(); ev.name != "reset" || ev.id != "1" || ev.data != "{}" {
		t.Fatalf("after an import of 3 tasks: %+v, want one reset with id 1", ev)
	}
	s.quiet(200 * time.Millisecond)
	e.do("POST", "/api/carol/tasks", tok, `{"title":"d"}`)
	if ev := s.next(); ev.name != "task.created" || ev.id != "2" {
		t.Fatalf("then: %+v", ev)
	}
}
