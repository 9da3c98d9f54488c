package api_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/taskbolt/taskbolt/api"
)

// TestIdempotencyKey proves CONTRACT.md "Idempotent retries" over HTTP.
func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	body := `{"title":"Buy milk"}`
	first := e.do("POST", "/api/alice/tasks", tok, body, "Idempotency-Key", "create-1")
	if first.status != 201 || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v", first.status, first.header)
	}
	for range 2 {
		again := e.do("POST", "/api/alice/tasks", tok, body, "Idempotency-Key", "create-1")
		if again.status != 201 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" ||
			again.header.Get("Location") != first.header.Get("Location") || again.header.Get("ETag") != first.header.Get("ETag") {
			t.Fatalf("a repeat: %d %s %v", again.status, again.body, again.header)
		}
	}
	if r := e.do("GET", "/api/alice/tasks", tok, ""); r.header.Get("X-Total-Count") != "1" {
		t.Fatalf("a create and two repeats made %s tasks", r.header.Get("X-Total-Count"))
	}
	wantJSON(t, e.do("POST", "/api/alice/tasks", tok, `{"title":"Other"}`, "Idempotency-Key", "create-1"), 422,
		`{"detail":"Idempotency-Key reused with a different request"}`)
	if r := e.do("POST", "/api/bob/tasks", token(t, "bob"), body, "Idempotency-Key", "create-1"); r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another user's key of the same name: %d %v", r.status, r.header)
	}
	if r := e.do("POST", "/api/alice/tasks", tok, body); r.status != 201 {
		t.Errorf("without a key: %d", r.status)
	}

	t.Run("Toggle", func(t *testing.T) {
		on := e.do("PATCH", "/api/alice/tasks/1/complete", tok, "", "Idempotency-Key", "toggle-1")
		again := e.do("PATCH", "/api/alice/tasks/1/complete", tok, "", "Idempotency-Key", "toggle-1")
		if on.status != 200 || !strings.Contains(string(on.body), `"completed":true`) || again.header.Get("Idempotent-Replayed") != "true" ||
			string(again.body) != string(on.body) {
			t.Fatalf("toggle and its retry: %d %s / %d %s", on.status, on.body, again.status, again.body)
		}
		if r := e.do("GET", "/api/alice/tasks/1", tok, ""); !strings.Contains(string(r.body), `"completed":true`) {
			t.Fatalf("a retried toggle flipped the task back: %s", r.body)
		}
	})
	t.Run("BadKeys", func(t *testing.T) {
		for _, k := range []string{strings.Repeat("k", 256), "has space", "tab\there"} {
			r := e.do("POST", "/api/alice/tasks", tok, body, "Idempotency-Key", k)
			if r.status != 422 || !strings.Contains(string(r.body), `"loc":["header","idempotency-key"]`) {
				t.Errorf("key %q: %d %s", k, r.status, r.body)
			}
		}
	})
	t.Run("InFlightIs409", func(t *testing.T) {
		base := e.listen()
		var wg sync.WaitGroup
		codes := make(chan int, 32)
		for range 32 {
			wg.Go(func() {
				code, _ := post(t, base+"/api/alice/tasks", tok, `{"title":"racing"}`, "Idempotency-Key", "race-1")
				codes <- code
			})
		}
		wg.Wait()
		close(codes)
		n := map[int]int{}
		for c := range codes {
			n[c]++
		}
		if n[201] < 1 || n[201]+n[409] != 32 {
			t.Fatalf("32 racing requests with one key: %v", n)
		}
		r := e.do("GET", "/api/alice/tasks?q=racing", tok, "")
		if r.header.Get("X-Total-Count") != "1" {
			t.Fatalf("they made %s tasks", r.header.Get("X-Total-Count"))
		}
	})
}

// post sends a POST over a real socket with extra headers.
func post(t *testing.T, url, tok, body string, hdr ...string) (int, string) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
