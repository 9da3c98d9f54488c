package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"taskbolt/auth/hs256"
)

const testSecret = "end-to-end-secret-of-at-least-32-bytes"

// server is one run() of the real program on a random port.
type server struct {
	url  string
	stop context.CancelFunc
	done chan error
	out  *io.PipeReader
	logs *syncBuffer // what the server wrote to stderr
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
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

func baseEnv(t *testing.T, db string, extra ...string) []string {
	return append([]string{
		"BETTER_AUTH_SECRET=" + testSecret, "HOST=127.0.0.1", "PORT=0",
		"DATABASE_URL=" + db, "TASKBOLT_ENV_FILE=", "LOG_LEVEL=warn",
	}, extra...)
}

// start runs the program and waits for its "listening on" line.
func start(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{stop: cancel, done: make(chan error, 1), out: pr, logs: &syncBuffer{}}
	go func() {
		err := run(ctx, args, env, pw, s.logs)
		pw.CloseWithError(io.EOF)
		s.done <- err
	}()
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			s.url = url
			go io.Copy(io.Discard, pr)
			break
		}
	}
	if s.url == "" {
		cancel()
		t.Fatalf("server did not start: %v", <-s.done)
	}
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

func (s *server) shutdown(t *testing.T) {
	t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run returned %v on shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
}

func call(t *testing.T, method, url, tok, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mint(t *testing.T, sub string) string {
	tok, err := hs256.Sign([]byte(testSecret), hs256.Claims(sub, time.Hour, "", "", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRunRoundTripAndRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "e2e.db")
	env := baseEnv(t, db)
	s := start(t, env)
	tok := mint(t, "alice")

	if code, body := call(t, "GET", s.url+"/healthz", "", ""); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	code, body := call(t, "POST", s.url+"/api/alice/tasks", tok, `{"title":"survive a restart"}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := call(t, "PATCH", s.url+"/api/alice/tasks/1/complete", tok, ""); code != 200 {
		t.Fatalf("toggle: %d", code)
	}
	if code, _ := call(t, "GET", s.url+"/api/bob/tasks", tok, ""); code != 403 {
		t.Errorf("alice on bob's URL: %d", code)
	}
	s.shutdown(t)

	s2 := start(t, env)
	code, body = call(t, "GET", s2.url+"/api/alice/tasks", tok, "")
	var tasks []map[string]any
	json.Unmarshal([]byte(body), &tasks)
	if code != 200 || len(tasks) != 1 || tasks[0]["title"] != "survive a restart" || tasks[0]["completed"] != true {
		t.Errorf("after restart: %d %s", code, body)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"ErrNoSecret", []string{"PORT=0", "TASKBOLT_ENV_FILE=", "DATABASE_URL=" + db}, "openssl rand -base64 32"},
		{"ErrWeakSecret", []string{"BETTER_AUTH_SECRET=short", "PORT=0", "TASKBOLT_ENV_FILE=", "DATABASE_URL=" + db}, "at least 32"},
		{"ErrUnknownStore", baseEnv(t, "postgres://localhost/tasks"), `scheme "postgres" is not supported; known: bolt`},
		{"ErrLogFormat", baseEnv(t, db, "LOG_FORMAT=xml"), "LOG_FORMAT"},
		{"ErrLogLevel", baseEnv(t, db, "LOG_LEVEL=loud"), "LOG_LEVEL"},
		{"ErrPort", baseEnv(t, db, "PORT=70000"), "PORT"},
		{"ErrPortNotANumber", baseEnv(t, db, "PORT=eighty"), "PORT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := run(ctx, nil, c.env, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), "short") && c.name == "ErrWeakSecret" {
				t.Error("the error repeats the secret")
			}
		})
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused start created the database file")
	}
}

func TestRunDatabaseLocked(t *testing.T) {
	db := filepath.Join(t.TempDir(), "locked.db")
	start(t, baseEnv(t, db))
	began := time.Now()
	err := run(context.Background(), nil, baseEnv(t, db), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "database is locked by another process") || !strings.Contains(err.Error(), db) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

func TestTokenCommand(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"token", "--sub", "alice", "--ttl", "2h"}, baseEnv(t, "x.db"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	v, _ := hs256.New(hs256.Config{Secret: []byte(testSecret)})
	p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil || p.UserID != "alice" {
		t.Fatalf("minted token: %+v %v", p, err)
	}
	if err := run(context.Background(), []string{"token"}, baseEnv(t, "x.db"), io.Discard, io.Discard); exitCode(err) != 2 {
		t.Errorf("token without --sub: %v (exit %d), want a usage error", err, exitCode(err))
	}
}

// TestDevModeFirstRun is `make run` on a fresh clone: no secret anywhere.
func TestDevModeFirstRun(t *testing.T) {
	dir := t.TempDir()
	envPath := filepath.Join(dir, ".env")
	env := []string{"HOST=127.0.0.1", "PORT=0", "DATABASE_URL=" + filepath.Join(dir, "dev.db"), "TASKBOLT_ENV_FILE=" + envPath}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--dev"}, env, pw, io.Discard); pw.Close() }()
	var url, curl string
	lines := bufio.NewScanner(pr)
	for lines.Scan() && curl == "" {
		line := lines.Text()
		if u, ok := strings.CutPrefix(line, "listening on "); ok {
			url = u
		}
		if strings.Contains(line, "curl -H 'Authorization: Bearer") {
			curl = line
		}
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`Bearer ([A-Za-z0-9_.-]+)' (\S+)`).FindStringSubmatch(curl)
	if m == nil || !strings.HasPrefix(m[2], url+"/api/demo-user/tasks") {
		t.Fatalf("no usable curl line; url %q, line %q", url, curl)
	}
	if code, body := call(t, "GET", m[2], m[1], ""); code != 200 {
		t.Errorf("the printed curl line: %d %s", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(envPath)
	if err != nil || !regexp.MustCompile(`(?m)^BETTER_AUTH_SECRET=\S{32,}$`).Match(content) {
		t.Fatalf(".env = %q, %v", content, err)
	}
	// A second run reuses the secret instead of writing another.
	var out strings.Builder
	if err := run(context.Background(), []string{"token", "--sub", "demo-user"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(envPath)
	if string(again) != string(content) {
		t.Error(".env changed on the second run")
	}
	// Without --dev, a missing secret is still refused.
	if err := run(context.Background(), nil, []string{"PORT=0", "TASKBOLT_ENV_FILE=", "DATABASE_URL=" + filepath.Join(dir, "x.db")}, io.Discard, io.Discard); err == nil {
		t.Error("started without a secret and without --dev")
	}
}

func TestEnvironmentWinsOverDotEnv(t *testing.T) {
	dir := t.TempDir()
	envPath := filepath.Join(dir, ".env")
	os.WriteFile(envPath, []byte("BETTER_AUTH_SECRET=dotenv-secret-that-is-long-enough-32b\nJWT_ISSUER=from-dotenv\n"), 0o600)
	env := []string{"TASKBOLT_ENV_FILE=" + envPath, "BETTER_AUTH_SECRET=" + testSecret}
	cfg, _, err := loadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Secret != testSecret || cfg.JWTIssuer != "from-dotenv" || cfg.Port != 8000 || cfg.DatabaseURL != "./taskbolt.db" {
		t.Errorf("config = port %d db %q iss %q; secret from env: %v", cfg.Port, cfg.DatabaseURL, cfg.JWTIssuer, cfg.Secret == testSecret)
	}
}

func TestDatabaseURL(t *testing.T) {
	for in, want := range map[string]string{"./a.db": "./a.db", "bolt:///var/lib/t.db": "/var/lib/t.db", "bolt://rel.db": "rel.db"} {
		if _, loc, err := parseDatabaseURL(in); err != nil || loc != want {
			t.Errorf("%q -> %q, %v; want %q", in, loc, err, want)
		}
	}
}

func TestVersionAndUsage(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"version"}, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "taskbolt ") {
		t.Errorf("version: %q %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, nil, io.Discard, io.Discard); exitCode(err) != 2 {
		t.Errorf("unknown command: %v", err)
	}
}

// TestShutdownUnderLoadKeepsAcknowledgedWrites stops the server while 16
// clients are creating tasks: every create that got a 201 must be there
// after a restart, and run must return cleanly.
func TestShutdownUnderLoadKeepsAcknowledgedWrites(t *testing.T) {
	db := filepath.Join(t.TempDir(), "drain.db")
	env := baseEnv(t, db)
	s := start(t, env)
	tok := mint(t, "alice")
	client := &http.Client{Timeout: 5 * time.Second}

	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				title := fmt.Sprintf("w%d-%d", w, i)
				req, _ := http.NewRequest("POST", s.url+"/api/alice/tasks", strings.NewReader(`{"title":"`+title+`"}`))
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					return // the server has gone away
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked[title] = true
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	began := time.Now()
	s.shutdown(t) // fails the test if run returns an error
	if d := time.Since(began); d > 11*time.Second {
		t.Errorf("shutdown took %v, beyond the drain timeout", d)
	}
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before shutdown")
	}

	s2 := start(t, env)
	stored := map[string]bool{}
	for offset := 0; ; offset += 100 {
		_, body := call(t, "GET", fmt.Sprintf("%s/api/alice/tasks?limit=100&offset=%d", s2.url, offset), tok, "")
		var page []struct{ Title string }
		json.Unmarshal([]byte(body), &page)
		for _, task := range page {
			stored[task.Title] = true
		}
		if len(page) < 100 {
			break
		}
	}
	for title := range acked {
		if !stored[title] {
			t.Errorf("acknowledged task %q is missing after restart", title)
		}
	}
	t.Logf("%d acknowledged writes, all present after restart", len(acked))
}

func TestVerifierSelection(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		want string // the enabled names, or the error text
	}{
		{"SecretOnly", []string{"BETTER_AUTH_SECRET=" + testSecret}, "[hs256]"},
		{"URLOnly", []string{"BETTER_AUTH_URL=http://localhost:3000"}, "[jwks]"},
		{"JWKSURLOnly", []string{"BETTER_AUTH_JWKS_URL=http://localhost:3000/keys"}, "[jwks]"},
		{"All", []string{"BETTER_AUTH_SECRET=" + testSecret, "BETTER_AUTH_URL=http://localhost:3000", "AUTH_SESSION_INTROSPECTION=true"}, "[hs256 jwks session]"},
		{"Override", []string{"BETTER_AUTH_SECRET=" + testSecret, "BETTER_AUTH_URL=http://localhost:3000", "AUTH_VERIFIERS=session"}, "[session]"},
		{"ErrNone", nil, "BETTER_AUTH_SECRET is not set"},
		{"ErrUnknown", []string{"AUTH_VERIFIERS=hs256,magic"}, `unknown verifier "magic"; known: hs256, jwks, session`},
		{"ErrBadURL", []string{"BETTER_AUTH_URL=localhost:3000"}, "not an absolute URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, _, err := loadConfig(append([]string{"TASKBOLT_ENV_FILE="}, c.env...))
			var names []string
			if err == nil {
				names, err = cfg.enabledVerifiers()
			}
			got := fmt.Sprint(names)
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	t.Run("ErrVerifierCannotStart", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "x.db")
		for _, c := range []struct {
			env  []string
			want string
		}{
			{[]string{"AUTH_VERIFIERS=session"}, "needs BETTER_AUTH_URL"},
			{[]string{"BETTER_AUTH_URL=http://127.0.0.1:1", "JWT_ALGORITHMS=HS256"}, `algorithm "HS256" is not allowed`},
		} {
			err := run(context.Background(), nil, baseEnv(t, db, c.env...), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: err = %v, want %q", c.env, err, c.want)
			}
		}
	})
	t.Run("BetterAuthEndpoints", func(t *testing.T) {
		for base, want := range map[string]string{
			"http://localhost:3000": "http://localhost:3000/api/auth/jwks", "http://localhost:3000/": "http://localhost:3000/api/auth/jwks",
			"https://app.example.com/api/auth": "https://app.example.com/api/auth/jwks", "https://x.dev/app/": "https://x.dev/app/api/auth/jwks",
		} {
			if got := betterAuthEndpoint(base, "jwks"); got != want {
				t.Errorf("%s -> %s, want %s", base, got, want)
			}
		}
	})
	t.Run("IssuerAndAudienceDefaultToTheOrigin", func(t *testing.T) {
		if got := originOf("https://app.example.com:8443/base/path?x=1"); got != "https://app.example.com:8443" {
			t.Errorf("origin = %q", got)
		}
	})
}
