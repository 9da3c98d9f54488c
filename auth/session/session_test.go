package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/session"
)

// fakeBetterAuth answers get-session like Better Auth: the session and user
// of a known bearer token, else null.
type fakeBetterAuth struct {
	*httptest.Server
	mu       sync.Mutex
	sessions map[string]string // token -> user id
	expires  time.Time
	calls    atomic.Int64
	handler  http.HandlerFunc
}

func newFake(t *testing.T) *fakeBetterAuth {
	f := &fakeBetterAuth{sessions: map[string]string{}, expires: time.Now().Add(7 * 24 * time.Hour)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		f.mu.Lock()
		h := f.handler
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		user, ok := f.sessions[tok]
		exp := f.expires
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.Write([]byte("null"))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"session": map[string]any{"id": "s1", "userId": user, "token": tok, "expiresAt": exp},
			"user":    map[string]any{"id": user, "email": "a@example.com", "name": "A"},
		})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBetterAuth) set(tok, user string) { f.mu.Lock(); f.sessions[tok] = user; f.mu.Unlock() }
func (f *fakeBetterAuth) signOut(tok string)   { f.mu.Lock(); delete(f.sessions, tok); f.mu.Unlock() }
func (f *fakeBetterAuth) setHandler(h http.HandlerFunc) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

// clock is a test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newVerifier(t *testing.T, f *fakeBetterAuth, cfg session.Config) (*session.Verifier, *clock) {
	t.Helper()
	c := &clock{now: time.Now()}
	cfg.URL, cfg.Now = f.URL+"/api/auth/get-session", c.Now
	v, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v, c
}

var ctx = context.Background()

func TestVerify(t *testing.T) {
	f := newFake(t)
	f.set("tok-alice", "alice")
	f.set("tok-alice.c2lnbmF0dXJl", "alice")
	v, clk := newVerifier(t, f, session.Config{CacheTTL: 30 * time.Second, NegativeTTL: 5 * time.Second})

	t.Run("OK", func(t *testing.T) {
		for _, tok := range []string{"tok-alice", "tok-alice.c2lnbmF0dXJl"} {
			p, err := v.Verify(ctx, tok)
			if err != nil || p.UserID != "alice" || p.Verifier != "session" {
				t.Fatalf("Verify(%q) = %+v, %v", tok, p, err)
			}
		}
	})
	t.Run("CacheHit", func(t *testing.T) {
		before := f.calls.Load()
		for range 10 {
			if _, err := v.Verify(ctx, "tok-alice"); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.calls.Load() - before; n != 0 {
			t.Errorf("%d calls to Better Auth for cached answers", n)
		}
	})
	t.Run("ErrInvalidTokenAndNegativeCache", func(t *testing.T) {
		before := f.calls.Load()
		for range 3 {
			if _, err := v.Verify(ctx, "tok-unknown"); !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("err = %v", err)
			}
		}
		if n := f.calls.Load() - before; n != 1 {
			t.Errorf("%d calls for a repeated unknown token, want 1", n)
		}
		f.set("tok-unknown", "late")
		clk.Advance(6 * time.Second)
		if p, err := v.Verify(ctx, "tok-unknown"); err != nil || p.UserID != "late" {
			t.Errorf("after the negative TTL: %+v, %v", p, err)
		}
	})
	t.Run("SignOutEndsWithinCacheTTL", func(t *testing.T) {
		f.set("tok-bob", "bob")
		if _, err := v.Verify(ctx, "tok-bob"); err != nil {
			t.Fatal(err)
		}
		f.signOut("tok-bob")
		if _, err := v.Verify(ctx, "tok-bob"); err != nil {
			t.Fatalf("within the cache time: %v", err)
		}
		clk.Advance(31 * time.Second)
		if _, err := v.Verify(ctx, "tok-bob"); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("after the cache time: %v", err)
		}
	})
}

func TestSessionExpiryShortensTheCache(t *testing.T) {
	f := newFake(t)
	f.set("tok", "alice")
	f.expires = time.Now().Add(10 * time.Second)
	v, clk := newVerifier(t, f, session.Config{CacheTTL: time.Hour})
	if _, err := v.Verify(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(11 * time.Second)
	f.expires = clk.Now().Add(-time.Second)
	if _, err := v.Verify(ctx, "tok"); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("past the session's expiresAt: %v", err)
	}
}

func TestBetterAuthFailuresAre503AndNotCached(t *testing.T) {
	cases := map[string]http.HandlerFunc{
		"500":     func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) },
		"429":     func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "slow down", http.StatusTooManyRequests) },
		"NotJSON": func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>")) },
		"TooSlow": func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.set("tok", "alice")
			f.setHandler(h)
			v, _ := newVerifier(t, f, session.Config{Timeout: 200 * time.Millisecond})
			start := time.Now()
			_, err := v.Verify(ctx, "tok")
			if !errors.Is(err, auth.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
			if strings.Contains(err.Error(), "tok") {
				t.Error("the error names the token")
			}
			f.setHandler(nil)
			if p, err := v.Verify(ctx, "tok"); err != nil || p.UserID != "alice" {
				t.Errorf("after recovery: %+v, %v (a failure must not be cached)", p, err)
			}
		})
	}
	t.Run("Down", func(t *testing.T) {
		f := newFake(t)
		v, _ := newVerifier(t, f, session.Config{})
		f.Close()
		if _, err := v.Verify(ctx, "tok"); !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if err := v.Ready(ctx); err == nil {
			t.Error("Ready with Better Auth down")
		}
	})
	t.Run("401FromBetterAuthIsInvalid", func(t *testing.T) {
		f := newFake(t)
		f.setHandler(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusUnauthorized) })
		v, _ := newVerifier(t, f, session.Config{})
		if _, err := v.Verify(ctx, "tok"); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestConcurrentMissesShareOneCall(t *testing.T) {
	f := newFake(t)
	f.set("tok", "alice")
	gate := make(chan struct{})
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		<-gate
		f.setHandler(nil)
		w.Write([]byte(`{"session":{"expiresAt":"2999-01-01T00:00:00Z"},"user":{"id":"alice"}}`))
	})
	v, _ := newVerifier(t, f, session.Config{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if p, err := v.Verify(ctx, "tok"); err != nil || p.UserID != "alice" {
				t.Errorf("%+v %v", p, err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(gate)
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d calls for 20 concurrent requests with one token, want 1", n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := newFake(t)
	v, _ := newVerifier(t, f, session.Config{MaxEntries: 10})
	for i := range 50 {
		v.Verify(ctx, "unknown-"+string(rune('a'+i)))
	}
	if n := v.Len(); n != 10 {
		t.Errorf("cache holds %d entries, bound is 10", n)
	}
}

func BenchmarkVerifyCacheHit(b *testing.B) {
	f := newFake(&testing.T{})
	defer f.Close()
	f.set("tok-alice.c2lnbmF0dXJl", "alice")
	v, _ := session.New(session.Config{URL: f.URL})
	v.Verify(ctx, "tok-alice.c2lnbmF0dXJl")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, "tok-alice.c2lnbmF0dXJl"); err != nil {
			b.Fatal(err)
		}
	}
}
