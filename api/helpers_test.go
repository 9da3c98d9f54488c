package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
	"github.com/taskbolt/taskbolt/store/postgres"
	"github.com/taskbolt/taskbolt/store/postgres/pgtest"
)

var secret = []byte("api-test-secret-of-at-least-32-bytes!!")

// syncBuffer is a log sink that tests read while the app writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv is the real app over a real bolt file in t.TempDir(), or, with
// TASKBOLT_TEST_STORE=postgres, over a fresh schema of the PostgreSQL at
// TASKBOLT_TEST_POSTGRES_URL: the same HTTP tests prove both stores.
type testEnv struct {
	t     *testing.T
	app   *fiber.App
	store testStore
	logs  *syncBuffer
	base  string // the listening app's URL, once do or listen has started it
}

type testStore interface {
	store.Store
	store.Checker
	store.Loader
}

// openTestStore opens the store the tests run on: kind, else
// TASKBOLT_TEST_STORE, else bolt.
func openTestStore(t *testing.T, kind string, opt bolt.Options) testStore {
	t.Helper()
	var (
		s   testStore
		err error
	)
	if kind == "" {
		kind = os.Getenv("TASKBOLT_TEST_STORE")
	}
	switch kind {
	case "postgres":
		s, err = postgres.Open(context.Background(), pgtest.Schema(t), postgres.Options{Logger: slog.New(slog.DiscardHandler)})
	case "", "bolt":
		s, err = bolt.Open(filepath.Join(t.TempDir(), "tasks.db"), opt)
	default:
		t.Fatalf("TASKBOLT_TEST_STORE=%q: want bolt or postgres", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newEnv builds the app; wrap, when given, may replace the store the app sees.
func newEnv(t *testing.T, cfg api.Config, wrap ...func(store.Store) store.Store) *testEnv {
	t.Helper()
	return newEnvOpts(t, cfg, bolt.Options{}, wrap...)
}

// newBoltEnv is newEnv over bolt, whatever TASKBOLT_TEST_STORE says, for
// what only bolt has (a file backup).
func newBoltEnv(t *testing.T, cfg api.Config) *testEnv {
	t.Helper()
	return newEnvOn(t, cfg, "bolt", bolt.Options{})
}

// newEnvOpts is newEnv with a bolt store opened with opt (a PostgreSQL
// store ignores it).
func newEnvOpts(t *testing.T, cfg api.Config, opt bolt.Options, wrap ...func(store.Store) store.Store) *testEnv {
	t.Helper()
	return newEnvOn(t, cfg, "", opt, wrap...)
}

func newEnvOn(t *testing.T, cfg api.Config, kind string, opt bolt.Options, wrap ...func(store.Store) store.Store) *testEnv {
	t.Helper()
	s := openTestStore(t, kind, opt)
	v, err := hs256.New(hs256.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg.Store, cfg.Verifier = store.Store(s), v
	for _, w := range wrap {
		cfg.Store = w(cfg.Store)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &testEnv{t: t, app: api.New(cfg), store: s, logs: logs}
}

// listen serves the app on a random loopback port until the test ends, and
// returns its URL.
func (e *testEnv) listen() string {
	e.t.Helper()
	if e.base != "" {
		return e.base
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go api.Serve(e.app, ln)
	e.t.Cleanup(func() { e.app.Shutdown() })
	e.base = "http://" + ln.Addr().String()
	return e.base
}

func token(t testing.TB, sub string) string {
	t.Helper()
	tok, err := hs256.Sign(secret, hs256.Claims(sub, time.Hour, "", "", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

func (r response) task(t *testing.T) store.Task {
	t.Helper()
	var task store.Task
	r.json(t, &task)
	return task
}

// do sends one request to the app over HTTP on loopback, as a client would.
// hdr is name, value pairs; a token of "" sends no Authorization header.
func (e *testEnv) do(method, path, tok, body string, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.listen()+path, rd)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// create makes a task for owner and returns it.
func (e *testEnv) create(owner, title string) store.Task {
	e.t.Helper()
	r := e.do("POST", "/api/"+owner+"/tasks", token(e.t, owner), `{"title":`+quote(title)+`}`)
	if r.status != 201 {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.task(e.t)
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// wantJSON compares a body with the expected JSON, ignoring formatting.
func wantJSON(t *testing.T, r response, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var got, exp any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad expectation %q: %v", want, err)
	}
	gb, _ := json.Marshal(got)
	eb, _ := json.Marshal(exp)
	if !bytes.Equal(gb, eb) {
		t.Errorf("body =\n  %s\nwant\n  %s", gb, eb)
	}
}
