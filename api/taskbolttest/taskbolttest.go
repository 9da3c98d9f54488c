// Package taskbolttest runs an ephemeral taskbolt inside a Go test: the real
// API over a real bolt file in t.TempDir(), on a free loopback port, closed
// when the test ends. For the tests of an app or a service that calls
// taskbolt (a Go backend for the frontend, an agent, a sync job):
//
//	func TestSync(t *testing.T) {
//		srv := taskbolttest.New(t, taskbolttest.Options{})
//		req, _ := http.NewRequest("GET", srv.URL+"/api/alice/tasks", nil)
//		req.Header.Set("Authorization", "Bearer "+srv.Token("alice"))
//		...
//		srv.Reset() // every user's tasks gone, ids from 1 again
//	}
package taskbolttest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
	"github.com/taskbolt/taskbolt/store/dump"
)

// Options configure New. The zero value is a server with no tasks, a random
// secret, and the task, event and MCP routes on.
type Options struct {
	// Secret is BETTER_AUTH_SECRET, at least 32 bytes; random when empty.
	// Give your app's test secret to verify the tokens it mints.
	Secret string
	// Seed is loaded before the server starts (an export or a seed
	// document: only user_id and titles are required).
	Seed *dump.Document
	// Chat turns on POST /api/{user_id}/chat (with an agent.Agent on a
	// model, a scripted one in tests: api/agent/agenttest).
	Chat *api.ChatConfig
	// Logger receives the server's log; none by default.
	Logger *slog.Logger
}

// Server is a running taskbolt.
type Server struct {
	// URL is the base URL, http://127.0.0.1:<port>.
	URL string
	// Store is the server's store, for assertions beside the HTTP ones.
	Store *bolt.Store
	// Secret signs the tokens Token makes.
	Secret string
	t      testing.TB
}

// New starts a server for t; t.Cleanup stops it and removes its data.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Secret == "" {
		b := make([]byte, 32)
		rand.Read(b)
		opts.Secret = base64.RawURLEncoding.EncodeToString(b)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "tasks.db"), bolt.Options{Logger: opts.Logger})
	if err != nil {
		t.Fatalf("taskbolttest: %v", err)
	}
	if opts.Seed != nil {
		if _, err := dump.Import(context.Background(), st, opts.Seed, nil); err != nil {
			st.Close()
			t.Fatalf("taskbolttest: the seed: %v", err)
		}
	}
	verifier, err := hs256.New(hs256.Config{Secret: []byte(opts.Secret)})
	if err != nil {
		st.Close()
		t.Fatalf("taskbolttest: %v", err)
	}
	done := make(chan struct{})
	app := api.New(api.Config{Store: st, Verifier: verifier, Logger: opts.Logger, Version: "taskbolttest", Done: done,
		MCP: &api.MCPConfig{}, Chat: opts.Chat, CORSOrigins: []string{"*"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		t.Fatalf("taskbolttest: %v", err)
	}
	served := make(chan struct{})
	go func() { api.Serve(app, ln); close(served) }()
	t.Cleanup(func() {
		close(done)
		app.ShutdownWithTimeout(5 * time.Second)
		<-served
		st.Close()
	})
	srv := &Server{URL: "http://" + ln.Addr().String(), Store: st, Secret: opts.Secret, t: t}
	// Answering before New returns: a shutdown that came before Serve had
	// taken the listener would leave Serve waiting for ever.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, err := http.Get(srv.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("taskbolttest: the server did not answer: %v", err)
		}
	}
	return srv
}

// Token is a bearer token for user sub, valid for an hour: an HS256 JWT
// signed with the server's secret, as Better Auth's jwt() plugin signs
// them with a shared secret.
func (s *Server) Token(sub string) string {
	s.t.Helper()
	tok, err := hs256.Sign([]byte(s.Secret), hs256.Claims(sub, time.Hour, "", "", time.Now()))
	if err != nil {
		s.t.Fatalf("taskbolttest: token: %v", err)
	}
	return tok
}

// Reset removes every user's tasks and conversations; ids start at 1 again.
func (s *Server) Reset() {
	s.t.Helper()
	if err := s.Store.Reset(context.Background()); err != nil {
		s.t.Fatalf("taskbolttest: reset: %v", err)
	}
}

var _ store.Resetter = (*bolt.Store)(nil)
