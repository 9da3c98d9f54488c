package api_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/cookie"
	"github.com/taskbolt/taskbolt/store"
)

// TestErrorTable pins every row of CONTRACT.md's error table over HTTP:
// the status, the exact body (copied from the contract, never paraphrased)
// and the headers the row requires. It runs on whichever store
// TASKBOLT_TEST_STORE names, so `make unit` runs it on both.
func TestErrorTable(t *testing.T) {
	const (
		notAuthenticated = `{"detail":"Not authenticated"}`
		invalidToken     = `{"detail":"Invalid token"}`
		tokenExpired     = `{"detail":"Token has expired"}`
		notYours         = `{"detail":"Not authorized to access these tasks"}`
		taskNotFound     = `{"detail":"Task not found"}`
		routeNotFound    = `{"detail":"Not Found"}`
		methodNotAllowed = `{"detail":"Method Not Allowed"}`
		bodyTooLarge     = `{"detail":"Request body too large"}`
		precondition     = `{"detail":"Precondition Failed"}`
		keyReused        = `{"detail":"Idempotency-Key reused with a different request"}`
		keyInProgress    = `{"detail":"A request with this Idempotency-Key is in progress"}`
		crossSite        = `{"detail":"Cross-site request refused"}`
		tooMany          = `{"detail":"Too many requests"}`
		internal         = `{"detail":"Internal Server Error"}`
	)
	contractHas(t, notAuthenticated, invalidToken, tokenExpired, notYours, taskNotFound, routeNotFound, methodNotAllowed,
		bodyTooLarge, precondition, keyReused, keyInProgress, crossSite, tooMany, internal)

	gate := &createGate{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, api.Config{BodyLimit: 4 << 10}, func(s store.Store) store.Store { return &errorTableStore{Store: s, gate: gate} })
	alice := token(t, "alice")
	task := e.create("alice", "Buy milk")
	var bobs store.Task // an id bob has and alice does not
	for range 3 {
		bobs = e.create("bob", "Bob's")
	}
	path := "/api/alice/tasks"
	signed := func(method jwt.SigningMethod, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hour := time.Now().Add(time.Hour).Unix()

	type row struct {
		name           string
		method, path   string
		tok, body      string
		hdr            []string
		status         int
		want           string
		header, hvalue string // a header the row requires, and its value ("*": any value)
	}
	rows := []row{
		{name: "NoAuthorization", method: "GET", path: path, status: 401, want: notAuthenticated, header: "WWW-Authenticate", hvalue: "Bearer"},
		{name: "NotBearer", method: "GET", path: path, hdr: []string{"Authorization", "Basic YWxpY2U6cHc="}, status: 401, want: notAuthenticated, header: "WWW-Authenticate", hvalue: "Bearer"},
		{name: "InvalidToken", method: "GET", path: path, tok: "not-a-token.at.all", status: 401, want: invalidToken, header: "WWW-Authenticate", hvalue: `Bearer error="invalid_token"`},
		{name: "ExpiredToken", method: "GET", path: path, tok: signed(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()}), status: 401, want: tokenExpired, header: "WWW-Authenticate", hvalue: `Bearer error="invalid_token"`},
		{name: "WrongAlgorithm", method: "GET", path: path, tok: signed(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "alice", "exp": hour}), status: 401, want: invalidToken, header: "WWW-Authenticate", hvalue: `Bearer error="invalid_token"`},
		{name: "NoSub", method: "GET", path: path, tok: signed(jwt.SigningMethodHS256, jwt.MapClaims{"exp": hour}), status: 401, want: invalidToken, header: "WWW-Authenticate", hvalue: `Bearer error="invalid_token"`},
		{name: "AnotherUsersURL", method: "GET", path: "/api/bob/tasks", tok: alice, status: 403, want: notYours},
		{name: "TaskNotThere", method: "GET", path: path + "/999", tok: alice, status: 404, want: taskNotFound},
		{name: "TaskNotYours", method: "GET", path: path + "/" + itoa(bobs.ID), tok: alice, status: 404, want: taskNotFound},
		{name: "UnknownRoute", method: "GET", path: "/api/alice/nothing-here", tok: alice, status: 404, want: routeNotFound},
		{name: "WrongMethod", method: "DELETE", path: path, tok: alice, status: 405, want: methodNotAllowed, header: "Allow", hvalue: "*"},
		{name: "BodyTooLarge", method: "POST", path: path, tok: alice, body: `{"title":"` + strings.Repeat("x", 8<<10) + `"}`, status: 413, want: bodyTooLarge},
		{name: "IfMatchStale", method: "PUT", path: path + "/" + itoa(task.ID), tok: alice, body: `{"title":"x"}`, hdr: []string{"If-Match", `"999"`}, status: 412, want: precondition, header: "ETag", hvalue: etagOf(task)},
		{name: "ValidationShape", method: "POST", path: path, tok: alice, body: `{"description":"x"}`, status: 422,
			want: `{"detail":[{"type":"missing","loc":["body","title"],"msg":"Field required","input":{"description":"x"}}]}`},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			got := e.do(r.method, r.path, r.tok, r.body, r.hdr...)
			wantRow(t, got, r.status, r.want)
			if r.header != "" {
				if v := got.header.Get(r.header); v == "" || (r.hvalue != "*" && v != r.hvalue) {
					t.Errorf("%s: %q, want %q", r.header, v, r.hvalue)
				}
			}
		})
	}

	t.Run("IdempotencyKeyReused", func(t *testing.T) {
		first := e.do("POST", path, alice, `{"title":"once"}`, "Idempotency-Key", "k-reused")
		if first.status != 201 {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		wantRow(t, e.do("POST", path, alice, `{"title":"another"}`, "Idempotency-Key", "k-reused"), 422, keyReused)
	})
	t.Run("IdempotencyKeyInProgress", func(t *testing.T) {
		done := make(chan response, 1)
		go func() { done <- e.do("POST", path, alice, `{"title":"held"}`, "Idempotency-Key", "k-held") }()
		<-gate.entered // the first request is inside its write
		wantRow(t, e.do("POST", path, alice, `{"title":"held"}`, "Idempotency-Key", "k-held"), 409, keyInProgress)
		close(gate.release)
		if first := <-done; first.status != 201 {
			t.Fatalf("the held request: %d %s", first.status, first.body)
		}
	})
	t.Run("Unexpected", func(t *testing.T) {
		got := e.do("GET", "/api/alice/tags", alice, "")
		wantRow(t, got, 500, internal)
		rid := got.header.Get("X-Request-ID")
		line := waitForLog(t, e, errTagsOnFire.Error())
		if rid == "" || !strings.Contains(line, rid) {
			t.Errorf("the cause is not logged with the request id %q:\n%s", rid, line)
		}
	})
	t.Run("CrossSite", func(t *testing.T) {
		v, err := cookie.New(cookie.Config{Secrets: [][]byte{secret}})
		if err != nil {
			t.Fatal(err)
		}
		c := newEnv(t, api.Config{Sources: []auth.Source{v.Source()}})
		wantRow(t, c.do("POST", path, "", `{"title":"x"}`, "Cookie", "better-auth.session_data=anything",
			"Origin", "https://evil.example"), 403, crossSite)
	})
	t.Run("RateLimited", func(t *testing.T) {
		l := newEnv(t, api.Config{RateLimit: api.RateLimit{PerUser: 1, Window: time.Minute}})
		l.do("GET", path, alice, "")
		got := l.do("GET", path, alice, "")
		wantRow(t, got, 429, tooMany)
		if got.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
	})
}

// wantRow checks a status and a body, byte for byte.
func wantRow(t *testing.T, r response, status int, body string) {
	t.Helper()
	if r.status != status || string(r.body) != body {
		t.Errorf("got %d %s\nwant %d %s", r.status, r.body, status, body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}

// contractHas checks that each body is written, as is, in CONTRACT.md, when
// the shared folder is beside the repository (as in CI): the texts above are
// copies, and this is what keeps them copies.
func contractHas(t *testing.T, bodies ...string) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "shared", "CONTRACT.md"))
	if err != nil {
		t.Logf("CONTRACT.md is not beside the repository (%v): checking the copied texts over HTTP only", err)
		return
	}
	for _, b := range bodies {
		if !strings.Contains(string(doc), "`"+b+"`") {
			t.Errorf("CONTRACT.md's error table has no %s", b)
		}
	}
}

func itoa(n uint64) string { return jsonInt(int64(n)) }

func etagOf(t store.Task) string { return `"` + jsonInt(t.Version()) + `"` }

// createGate holds the create titled "held" inside its write until
// released, so a second request with its Idempotency-Key meets it in flight.
type createGate struct {
	entered, release chan struct{}
}

var errTagsOnFire = errors.New("the tags index is on fire")

// errorTableStore is a real store with two faults the table needs: a create
// that waits at the gate, and a Tags that fails as nothing should.
type errorTableStore struct {
	store.Store
	gate *createGate
}

func (s *errorTableStore) Create(ctx context.Context, owner string, in store.NewTask) (store.Task, error) {
	if in.Title == "held" && in.Idem != nil {
		close(s.gate.entered)
		<-s.gate.release
	}
	return s.Store.Create(ctx, owner, in)
}

func (s *errorTableStore) Tags(context.Context, string) ([]store.TagCount, error) {
	return nil, errTagsOnFire
}
