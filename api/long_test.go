package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
	"github.com/taskbolt/taskbolt/store/dump"
)

// Long responses (backups, exports, event streams) own their connection:
// these tests hold them past the write timeout, close them from the client,
// and count the slots a closed stream leaves behind.

// readPaced copies body to w at rate bytes a second for slow, then as fast
// as it comes, and returns the bytes copied and how long the slow part took.
func readPaced(body io.Reader, w io.Writer, rate int, slow time.Duration) (int64, time.Duration, error) {
	began := time.Now()
	buf := make([]byte, 16<<10)
	var n int64
	for {
		if elapsed := time.Since(began); elapsed < slow {
			// Hold the pace: n bytes should have taken n/rate seconds.
			if ahead := time.Duration(float64(n)/float64(rate)*float64(time.Second)) - elapsed; ahead > 0 {
				time.Sleep(ahead)
			}
		}
		k, err := body.Read(buf)
		w.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			return n, min(time.Since(began), slow), nil
		}
		if err != nil {
			return n, time.Since(began), err
		}
	}
}

// TestLongResponsesOutlastTimeouts reads a backup of more than 100 MB and
// an export at 1 MB/s for more than three stall timeouts (and many write
// timeouts): both arrive whole (the backup is a database that verifies, the
// export a document that parses), and each is logged complete with its size.
func TestLongResponsesOutlastTimeouts(t *testing.T) {
	const (
		stallTimeout = 3 * time.Second
		slow         = 3*stallTimeout + time.Second
		rate         = 1 << 20
	)
	cfg := api.Config{AdminToken: adminTok, WriteTimeout: time.Second, StallTimeout: stallTimeout}
	e := newBoltEnv(t, cfg) // a file backup is bolt's
	// A file of more than 100 MB, however compact the store's format gets:
	// alice's 36,000 tasks (the export), then bob's. An export as big as the
	// whole file (108 MB once tasks were stored as binary records) kept both
	// cores busy encoding under -race while the backup's reader drained.
	exported := 0 // alice's tasks in the export
	for size := int64(0); size < 105<<20; {
		owner := "bob"
		if exported < 36000 {
			owner = "alice"
			exported += 12000
		}
		fillAs(t, e.store, owner, 12)
		var err error
		if size, err = e.store.(store.Sizer).Size(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	x := e // the export: on the store TASKBOLT_TEST_STORE names
	if os.Getenv("TASKBOLT_TEST_STORE") == "postgres" {
		x = newEnv(t, cfg)
		fill(t, x.store, 36)
		exported = 36000
	}

	backupURL, exportURL := e.listen()+"/admin/backup", x.listen()+"/admin/export?user=alice" // before the goroutines: listen starts the server once
	var wg sync.WaitGroup
	wg.Go(func() {
		resp := getAdmin(t, slowClient(), backupURL)
		defer resp.Body.Close()
		out := filepath.Join(t.TempDir(), "backup.db")
		f, _ := os.Create(out)
		n, took, err := readPaced(resp.Body, f, rate, slow)
		f.Close()
		if err != nil {
			t.Errorf("backup: after %d bytes and %v: %v", n, took, err)
			return
		}
		if took < slow {
			t.Errorf("backup: the slow read took %v, not past 3 × the %v stall timeout", took, stallTimeout)
		}
		if n < 100<<20 {
			t.Errorf("backup: %d bytes, want at least 100 MB", n)
		}
		if err := bolt.Verify(out); err != nil {
			t.Errorf("backup: %d bytes: %v", n, err)
		}
		wantStreamLog(t, e, "/admin/backup", n)
		t.Logf("backup: %d MB, read at 1 MB/s for %v with a %v stall timeout", n>>20, took, stallTimeout)
	})
	wg.Go(func() {
		resp := getAdmin(t, slowClient(), exportURL)
		defer resp.Body.Close()
		var doc strings.Builder
		n, took, err := readPaced(resp.Body, &doc, rate, slow)
		if err != nil {
			t.Errorf("export: after %d bytes and %v: %v", n, took, err)
			return
		}
		if took < slow {
			t.Errorf("export: the slow read took %v, not past 3 × the %v stall timeout", took, stallTimeout)
		}
		var d dump.Document
		if err := json.Unmarshal([]byte(doc.String()), &d); err != nil || len(d.Users) != 1 || len(d.Users[0].Tasks) != exported {
			t.Errorf("export: %d bytes did not parse as alice's %d tasks: %v", n, exported, err)
		}
		wantStreamLog(t, x, "/admin/export", n)
		t.Logf("export: %d MB, read at 1 MB/s for %v with a %v stall timeout", n>>20, took, stallTimeout)
	})
	wg.Wait()
}

func getAdmin(t *testing.T, client *http.Client, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+adminTok)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return resp
}

// wantStreamLog finds route's "stream ended" line: complete, with n bytes.
func wantStreamLog(t *testing.T, e *testEnv, route string, n int64) {
	t.Helper()
	line := waitForLog(t, e, `"route":"`+route+`"`)
	for _, want := range []string{`"msg":"stream ended"`, `"outcome":"complete"`, `"bytes":` + jsonInt(n), `"status":200`} {
		if !strings.Contains(line, want) {
			t.Errorf("%s: the stream's log line lacks %s:\n%s", route, want, line)
		}
	}
}

// TestClosedStreamsFreeTheirSlots opens a user's ten streams, closes them
// from the client (a page reload), and opens ten more at once, fifty times
// over: a closed stream frees its place within a second, so no reload ever
// meets a 429.
func TestClosedStreamsFreeTheirSlots(t *testing.T) {
	e := newEnv(t, api.Config{})
	events := e.listen() + "/api/alice/events"
	tok := token(t, "alice")
	openAll := func(within time.Duration) []*stream {
		t.Helper()
		deadline := time.Now().Add(within)
		streams := make([]*stream, api.MaxStreamsPerUser)
		var wg sync.WaitGroup
		for i := range streams {
			wg.Go(func() {
				for {
					s := openStream(t, events, tok)
					if s.resp.StatusCode == 200 || time.Now().After(deadline) {
						streams[i] = s
						return
					}
					s.resp.Body.Close()
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		for i, s := range streams {
			if s.resp.StatusCode != 200 {
				t.Fatalf("stream %d: %d %s, %v after the last ones were closed", i+1, s.resp.StatusCode, s.resp.Status, within)
			}
		}
		return streams
	}
	streams := openAll(0)
	for cycle := range 50 {
		for _, s := range streams {
			s.resp.Body.Close()
		}
		began := time.Now()
		streams = openAll(time.Second)
		if took := time.Since(began); took > time.Second {
			t.Fatalf("cycle %d: ten new streams took %v", cycle+1, took)
		}
	}
	// Each stream still works: a change reaches all ten.
	e.do("POST", "/api/alice/tasks", tok, `{"title":"after fifty reloads"}`)
	for i, s := range streams {
		if ev := s.next(); ev.name != "task.created" {
			t.Fatalf("stream %d: %+v", i+1, ev)
		}
	}
}

// TestShutdownEndsLongResponses shuts the server down while a backup is
// stalled on a client that stopped reading and an event stream is open:
// the stream ends at once, the backup gets the write timeout and is then
// cut, shutdown returns, and the store closes (bbolt waits for every read
// transaction, so a backup still running would hold Close).
func TestShutdownEndsLongResponses(t *testing.T) {
	const writeTimeout = time.Second
	e := newBoltEnv(t, api.Config{AdminToken: adminTok, WriteTimeout: writeTimeout})
	fill(t, e.store, 8)
	base := e.listen()
	backup := getAdmin(t, slowClient(), base+"/admin/backup") // never read
	defer backup.Body.Close()
	events := openStream(t, base+"/api/alice/events", token(t, "alice"))
	events.quiet(100 * time.Millisecond)

	began := time.Now()
	if err := e.app.ShutdownWithTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 3*writeTimeout {
		t.Errorf("shutdown took %v with a %v write timeout", took, writeTimeout)
	}
	if last := events.ended(time.Second); !strings.Contains(last, "shutting down") {
		t.Errorf("the event stream's last comment: %q", last)
	}
	closed := make(chan error, 1)
	go func() { closed <- e.store.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the store did not close: a long response still holds a read transaction")
	}
	if line := waitForLog(t, e, `"route":"/admin/backup"`); !strings.Contains(line, `"outcome":"cut: `) {
		t.Errorf("the backup cut at shutdown is not logged as cut:\n%s", line)
	}
}

// TestLongResponseToHTTP10: an HTTP/1.0 client (nginx's proxy_pass speaks
// it by default) knows no chunked encoding: its export comes as the plain
// document, ended by the close; an HTTP/1.1 client's is chunked.
func TestLongResponseToHTTP10(t *testing.T) {
	e := newEnv(t, api.Config{AdminToken: adminTok})
	e.create("alice", "Buy milk")
	addr := strings.TrimPrefix(e.listen(), "http://")
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /admin/export HTTP/%s\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", proto[5:], adminTok)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		body, err := io.ReadAll(resp.Body) // to the close, or to the last chunk
		conn.Close()
		var d dump.Document
		if err != nil || resp.StatusCode != 200 || json.Unmarshal(body, &d) != nil || len(d.Users) != 1 {
			t.Fatalf("%s: %d %v %q", proto, resp.StatusCode, err, body)
		}
		if chunked := slices.Contains(resp.TransferEncoding, "chunked"); chunked != (proto == "HTTP/1.1") {
			t.Errorf("%s: Transfer-Encoding %v", proto, resp.TransferEncoding)
		}
	}
}
