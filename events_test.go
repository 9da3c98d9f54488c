package main

// Events, reminders and idempotent retries through the real run() and the
// real binary: the background sweep, replicas on one PostgreSQL, kill -9.

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store/postgres/pgtest"
)

// sse reads events (name and data) from a stream, in the background.
func sse(t *testing.T, url, tok string) <-chan [2]string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	out := make(chan [2]string, 100)
	go func() {
		r := bufio.NewScanner(resp.Body)
		var name string
		for r.Scan() {
			line := r.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				out <- [2]string{name, v}
			}
		}
		close(out)
	}()
	return out
}

func nextEvent(t *testing.T, events <-chan [2]string, within time.Duration) [2]string {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return e
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
	}
	return [2]string{}
}

// TestRemindersOnTheStream: serve's sweep fires a reminder within 5 s of
// its time, once, on the user's stream; metrics count the stream.
func TestRemindersOnTheStream(t *testing.T) {
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "r.db"), "METRICS=true"))
	tok := mint(t, "alice")
	events := sse(t, s.url+"/api/alice/events", tok)
	remind := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	code, body := call(t, "POST", s.url+"/api/alice/tasks", tok, `{"title":"call mom","remind_at":"`+remind+`"}`)
	if code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	if e := nextEvent(t, events, time.Second); e[0] != "task.created" {
		t.Fatalf("first: %v", e)
	}
	e := nextEvent(t, events, 6*time.Second)
	if e[0] != "task.reminder" || !strings.Contains(e[1], `"title":"call mom"`) {
		t.Fatalf("the reminder: %v", e)
	}
	select {
	case e := <-events:
		t.Fatalf("a second event: %v (a reminder fires once)", e)
	case <-time.After(2500 * time.Millisecond):
	}
	_, metrics := call(t, "GET", s.url+"/metrics", "", "")
	for _, m := range []string{"taskbolt_event_streams_open 1", "taskbolt_events_sent_total 2"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %q", m)
		}
	}
}

// TestEventsAcrossReplicas: a change through one replica reaches a stream
// held by another (PostgreSQL LISTEN/NOTIFY), and a reminder fires once
// though both sweep.
func TestEventsAcrossReplicas(t *testing.T) {
	u := pgtest.Schema(t)
	a, b := start(t, baseEnv(t, u)), start(t, baseEnv(t, u))
	tok := mint(t, "alice")
	onB := sse(t, b.url+"/api/alice/events", tok)
	onA := sse(t, a.url+"/api/alice/events", tok)
	start := time.Now()
	code, body := call(t, "POST", a.url+"/api/alice/tasks", tok,
		`{"title":"through a","remind_at":"`+time.Now().Add(1500*time.Millisecond).UTC().Format(time.RFC3339Nano)+`"}`)
	if code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	if e := nextEvent(t, onB, time.Second); e[0] != "task.created" || !strings.Contains(e[1], "through a") {
		t.Fatalf("replica b's stream: %v", e)
	}
	t.Logf("a create through replica a reached replica b's stream in %v", time.Since(start))
	nextEvent(t, onA, time.Second)
	for _, events := range []<-chan [2]string{onA, onB} {
		if e := nextEvent(t, events, 6*time.Second); e[0] != "task.reminder" {
			t.Fatalf("the reminder: %v", e)
		}
	}
	for _, events := range []<-chan [2]string{onA, onB} {
		select {
		case e := <-events:
			t.Fatalf("another event: %v: two replicas sweeping fired the reminder twice", e)
		case <-time.After(2 * time.Second):
		}
	}
}

// TestIdempotencyAcrossKill9: a create acknowledged before a SIGKILL is
// replayed after the restart, never written twice.
func TestIdempotencyAcrossKill9(t *testing.T) {
	db := filepath.Join(t.TempDir(), "k.db")
	p := startBinary(t, db)
	tok := mint(t, "alice")
	post := func(url string) *http.Response {
		req, _ := http.NewRequest("POST", url+"/api/alice/tasks", strings.NewReader(`{"title":"exactly once"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Idempotency-Key", "order-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post(p.url); r.StatusCode != 201 || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d", r.StatusCode)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p = startBinary(t, db)
	defer func() { p.cmd.Process.Signal(os.Interrupt); <-p.done }()
	if r := post(p.url); r.StatusCode != 201 || r.Header.Get("Idempotent-Replayed") != "true" || r.Header.Get("Location") != "/api/alice/tasks/1" {
		t.Fatalf("the retry after kill -9: %d %v", r.StatusCode, r.Header)
	}
	req, _ := http.NewRequest("GET", p.url+"/api/alice/tasks", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := resp.Header.Get("X-Total-Count"); n != "1" {
		t.Fatalf("%s tasks after a create, a kill -9 and a retry", n)
	}
}

// TestRetriesAndConditionsAcrossReplicas: an Idempotency-Key and an ETag
// given by one replica hold on the other.
func TestRetriesAndConditionsAcrossReplicas(t *testing.T) {
	u := pgtest.Schema(t)
	a, b := start(t, baseEnv(t, u)), start(t, baseEnv(t, u))
	tok := "Bearer " + mint(t, "alice")
	send := func(s *server, method, path, body string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", tok)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := send(a, "POST", "/api/alice/tasks", `{"title":"once"}`, "Idempotency-Key", "k-1")
	retry := send(b, "POST", "/api/alice/tasks", `{"title":"once"}`, "Idempotency-Key", "k-1")
	if first.StatusCode != 201 || retry.StatusCode != 201 || retry.Header.Get("Idempotent-Replayed") != "true" ||
		retry.Header.Get("Location") != first.Header.Get("Location") {
		t.Fatalf("a retry through the other replica: %d %d %v", first.StatusCode, retry.StatusCode, retry.Header)
	}
	tag := first.Header.Get("ETag")
	if r := send(b, "PATCH", "/api/alice/tasks/1", `{"title":"v2"}`, "If-Match", tag); r.StatusCode != 200 {
		t.Fatalf("If-Match with replica a's ETag on replica b: %d", r.StatusCode)
	}
	if r := send(a, "PATCH", "/api/alice/tasks/1", `{"title":"lost"}`, "If-Match", tag); r.StatusCode != 412 {
		t.Fatalf("the stale ETag on replica a: %d", r.StatusCode)
	}
}

// TestReminderThatPassedWhileDown: a reminder whose time passed while no
// server ran fires when one starts, into the log a reconnecting stream reads.
func TestReminderThatPassedWhileDown(t *testing.T) {
	db := filepath.Join(t.TempDir(), "down.db")
	s := start(t, baseEnv(t, db))
	tok := mint(t, "alice")
	remind := time.Now().Add(700 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	if code, body := call(t, "POST", s.url+"/api/alice/tasks", tok, `{"title":"while down","remind_at":"`+remind+`"}`); code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	s.shutdown(t)
	time.Sleep(time.Second) // the reminder's time passes while nothing runs
	s = start(t, baseEnv(t, db))
	req, _ := http.NewRequest("GET", s.url+"/api/alice/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Last-Event-ID", "1") // after the create
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string, 10)
	go func() {
		r := bufio.NewScanner(resp.Body)
		for r.Scan() {
			if v, ok := strings.CutPrefix(r.Text(), "event: "); ok {
				events <- v
			}
		}
	}()
	select {
	case e := <-events:
		if e != "task.reminder" {
			t.Fatalf("first event after the restart: %s", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the reminder that passed while the server was down never fired")
	}
}
