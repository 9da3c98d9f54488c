package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/store"
)

const adminTok = "admin-token-for-api-tests-0123"

func TestAdminExportImport(t *testing.T) {
	e := newEnv(t, api.Config{AdminToken: adminTok})
	e.create("alice", "one")
	e.create("bob", "two")

	r := e.do("GET", "/admin/export", adminTok, "")
	var doc struct {
		Format string
		Users  []json.RawMessage
	}
	r.json(t, &doc)
	if r.status != 200 || doc.Format != "taskbolt-export" || len(doc.Users) != 2 {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/admin/export?user=bob", adminTok, "")
	if !strings.Contains(string(r.body), `"two"`) || strings.Contains(string(r.body), `"one"`) {
		t.Errorf("export ?user=bob: %s", r.body)
	}
	if r := e.do("GET", "/admin/export?user=a/b", adminTok, ""); r.status != 422 {
		t.Errorf("export of an invalid user: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/admin/export", token(t, "alice"), ""); r.status != 401 {
		t.Errorf("export with a user's token: %d", r.status)
	}

	batch := `{"user_id":"carol","last_id":9,"tasks":[{"id":4,"title":"imported","completed":true,"created_at":"2026-01-02T03:04:05.000006Z","updated_at":"2026-01-02T03:04:05.000007Z"}]}`
	for range 2 {
		wantJSON(t, e.do("POST", "/admin/import", adminTok, batch), 200, `{"imported":1}`)
	}
	got := e.do("GET", "/api/carol/tasks", token(t, "carol"), "")
	if got.header.Get("X-Total-Count") != "1" || !strings.Contains(string(got.body), `"id":4,"user_id":"carol","title":"imported"`) {
		t.Errorf("after import: %s", got.body)
	}
	if c := e.create("carol", "next"); c.ID != 10 {
		t.Errorf("next id %d, want 10 (last_id 9 is kept)", c.ID)
	}
	for name, body := range map[string]string{
		"ErrNotJSON":      `{"user_id":`,
		"ErrUnknownField": `{"user":"carol","tasks":[]}`,
		"ErrBadUser":      `{"user_id":"a/b","tasks":[]}`,
		"ErrBadTask":      `{"user_id":"carol","tasks":[{"title":"ok"},{"title":"  "}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", "/admin/import", adminTok, body)
			var d struct{ Detail string }
			r.json(t, &d)
			if r.status != 422 || d.Detail == "" {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
	if got := e.do("GET", "/api/carol/tasks", token(t, "carol"), ""); got.header.Get("X-Total-Count") != "2" {
		t.Errorf("a batch with problems loaded tasks: %s", got.body)
	}
}

// TestMissingCapabilityIs501 serves a store that offers none of the
// optional capabilities: each admin route says so with a 501, never a 500.
func TestMissingCapabilityIs501(t *testing.T) {
	hide := func(s store.Store) store.Store { return struct{ store.Store }{s} }
	e := newEnv(t, api.Config{AdminToken: adminTok}, hide)
	for _, c := range []struct{ method, path, body, detail string }{
		{"POST", "/admin/reset", "", "This store cannot reset"},
		{"GET", "/admin/backup", "", "This store cannot be backed up through the API"},
		{"GET", "/admin/export", "", "This store cannot export"},
		{"POST", "/admin/import", `{"user_id":"a","tasks":[]}`, "This store cannot import"},
	} {
		wantJSON(t, e.do(c.method, c.path, adminTok, c.body), 501, `{"detail":"`+c.detail+`"}`)
	}
	if strings.Contains(e.logs.String(), "internal error") {
		t.Errorf("a missing capability was logged as an internal error:\n%s", e.logs)
	}
}

// fill gives alice enough tasks to make a database of about mb megabytes.
func fill(t *testing.T, s store.Loader, mb int) {
	t.Helper()
	fillAs(t, s, "alice", mb)
}

// fillAs is fill for owner.
func fillAs(t *testing.T, s store.Loader, owner string, mb int) {
	t.Helper()
	desc := strings.Repeat("d", 900)
	tasks := make([]store.Task, mb*1000)
	for i := range tasks {
		tasks[i] = store.Task{Title: "filler", Description: &desc}
	}
	if _, err := s.Load(context.Background(), owner, 0, tasks); err != nil {
		t.Fatal(err)
	}
}

// slowClient reads through a small receive window, so that a large body
// takes the server many writes and the reader sets the pace.
func slowClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
		}
		return c, err
	}}}
}

// TestStreamCutsAStalledClient stops reading: the stream is cut after the
// stall timeout, logged as cut, and the client sees a broken body rather
// than a short one that looks whole.
func TestStreamCutsAStalledClient(t *testing.T) {
	e, resp := streamBackup(t, 250*time.Millisecond)
	defer resp.Body.Close()
	logs := waitForLog(t, e, `"msg":"stream ended"`)
	if !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, `"outcome":"cut: `) {
		t.Errorf("a stalled stream was not logged as cut:\n%s", logs)
	}
	_, err := io.Copy(io.Discard, bufio.NewReader(resp.Body))
	if err == nil {
		t.Error("the cut stream read as a whole body")
	}
}

// streamBackup serves 16 MB of database with the given read and write
// timeouts and starts a backup through a small receive window.
func streamBackup(t *testing.T, timeout time.Duration) (*testEnv, *http.Response) {
	e := newBoltEnv(t, api.Config{AdminToken: adminTok, ReadTimeout: timeout, WriteTimeout: timeout, StallTimeout: timeout}) // a file backup is bolt's
	fill(t, e.store, 8)
	return e, getAdmin(t, slowClient(), e.listen()+"/admin/backup")
}

func waitForLog(t *testing.T, e *testEnv, want string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(line, want) {
				return line
			}
		}
	}
	t.Fatalf("no log line with %s:\n%s", want, e.logs)
	return ""
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
