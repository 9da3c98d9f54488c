package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/auth/hs256"
)

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

func TestFixtureMode(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.json")
	os.WriteFile(seed, []byte(`{"users":[{"user_id":"alice","tasks":[{"title":"seeded one"},{"title":"seeded two","completed":true}]}]}`), 0o600)
	ready := filepath.Join(dir, "ready")
	env := []string{"BETTER_AUTH_SECRET=" + testSecret, "TASKBOLT_ENV_FILE=", "ADMIN_TOKEN=" + adminToken, "PORT=8000", "LOG_LEVEL=info"}
	s := start(t, env, "serve", "--ephemeral", "--port", "0", "--host", "127.0.0.1", "--ready-file", ready, "--seed", seed)

	written, err := os.ReadFile(ready)
	if err != nil || strings.TrimSpace(string(written)) != s.url {
		t.Fatalf("ready file %q (%v), want %s", written, err, s.url)
	}
	if got := listTitles(t, s.url, "alice"); strings.Join(got, ",") != "seeded one,seeded two" {
		t.Fatalf("seeded tasks = %v", got)
	}
	if code, _ := call(t, "POST", s.url+"/admin/reset", "", ""); code != 401 {
		t.Errorf("reset without the admin token: %d", code)
	}
	if code, _ := call(t, "POST", s.url+"/admin/reset", mint(t, "alice"), ""); code != 401 {
		t.Errorf("reset with a user's token: %d", code)
	}
	if code, body := call(t, "POST", s.url+"/admin/reset", adminToken, ""); code != 204 {
		t.Fatalf("reset: %d %s", code, body)
	}
	if got := listTitles(t, s.url, "alice"); len(got) != 0 {
		t.Errorf("after reset: %v", got)
	}
	dbPath := regexpFind(s.logs.String(), `database=(\S+)`)
	if _, err := os.Stat(dbPath); err != nil {
		t.Fatalf("ephemeral database %q: %v", dbPath, err)
	}
	s.shutdown(t)
	if _, err := os.Stat(filepath.Dir(dbPath)); !os.IsNotExist(err) {
		t.Errorf("the ephemeral database's folder is still there after exit: %v", err)
	}
}

func TestAdminRoutesOffWithoutToken(t *testing.T) {
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db")))
	for _, path := range []string{"/admin/reset", "/admin/backup"} {
		if code, _ := call(t, "POST", s.url+path, adminToken, ""); code != 404 {
			t.Errorf("%s without ADMIN_TOKEN configured: %d, want 404", path, code)
		}
	}
}

func TestMetricsConfig(t *testing.T) {
	t.Run("OnTheMainPort", func(t *testing.T) {
		s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "METRICS=true"))
		call(t, "GET", s.url+"/api/alice/tasks", mint(t, "alice"), "")
		code, body := call(t, "GET", s.url+"/metrics", "", "")
		if code != 200 || !strings.Contains(body, `taskbolt_http_requests_total{method="GET",route="/api/:user_id/tasks/",status="200"} 1`) ||
			!regexp.MustCompile(`taskbolt_db_file_size_bytes [1-9]`).MatchString(body) {
			t.Fatalf("/metrics: %d\n%.2000s", code, body)
		}
	})
	t.Run("OnItsOwnAddress", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "METRICS_ADDR="+addr))
		call(t, "GET", s.url+"/api/alice/tasks", "", "")
		if code, _ := call(t, "GET", s.url+"/metrics", "", ""); code != 404 {
			t.Errorf("/metrics on the public port with METRICS_ADDR: %d", code)
		}
		code, body := call(t, "GET", "http://"+addr+"/metrics", "", "")
		if code != 200 || !strings.Contains(body, `taskbolt_auth_failures_total{reason="missing",verifier=""} 1`) {
			t.Fatalf("metrics address: %d\n%.2000s", code, body)
		}
	})
	t.Run("OffByDefault", func(t *testing.T) {
		s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db")))
		if code, _ := call(t, "GET", s.url+"/metrics", "", ""); code != 404 {
			t.Errorf("/metrics without METRICS: %d", code)
		}
	})
}

// TestMCPIsOnWithDevOrMCP: /mcp is served with MCP=true, or with --dev
// unless MCP=false, and its metadata names Better Auth's issuer.
func TestMCPIsOnWithDevOrMCP(t *testing.T) {
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	for _, c := range []struct {
		name string
		env  []string
		args []string
		on   bool
	}{
		{"default", nil, []string{"serve"}, false},
		{"MCP=true", []string{"MCP=true", "JWT_ISSUER=https://auth.example.com"}, []string{"serve"}, true},
		{"--dev", []string{"JWT_ISSUER=https://auth.example.com"}, []string{"serve", "--dev"}, true},
		{"--dev MCP=false", []string{"MCP=false", "JWT_ISSUER=https://auth.example.com"}, []string{"serve", "--dev"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "mcp.db"), c.env...), c.args...)
			tok, err := hs256.Sign([]byte(testSecret), hs256.Claims("alice", time.Hour, "https://auth.example.com", "", time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			code, body := callWith(t, "POST", s.url+"/mcp", init, "Authorization", "Bearer "+tok, "Accept", "application/json, text/event-stream", "Content-Type", "application/json")
			if on := code == 200; on != c.on {
				t.Fatalf("POST /mcp: %d %s; want served %v", code, body, c.on)
			}
			if !c.on {
				return
			}
			code, body = call(t, "GET", s.url+"/.well-known/oauth-protected-resource/mcp", "", "")
			if code != 200 || !strings.Contains(body, `"authorization_servers":["https://auth.example.com"]`) || !strings.Contains(body, `"resource":"`+s.url+`/mcp"`) {
				t.Errorf("metadata: %d %s", code, body)
			}
		})
	}
}

// TestServeCollectsLessOften: the real program collects at GOGC=400 when
// it serves (go_gc_gogc_percent on /metrics), and at what GOGC says when it
// is set.
func TestServeCollectsLessOften(t *testing.T) {
	for _, c := range []struct {
		gogc string // "" leaves GOGC out of the environment
		want string
	}{{"", fmt.Sprint(serveGCPercent)}, {"150", "150"}} {
		env := []string{}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GOGC=") {
				env = append(env, kv)
			}
		}
		if c.gogc != "" {
			env = append(env, "GOGC="+c.gogc)
		}
		cmd := exec.Command(taskboltBinary(t), "serve")
		cmd.Env = append(env, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "METRICS=true")...)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		url := ""
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if u, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
				url = u
				break
			}
		}
		go io.Copy(io.Discard, stdout)
		_, metrics := call(t, "GET", url+"/metrics", "", "")
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if line := "go_gc_gogc_percent " + c.want; !strings.Contains(metrics, "\n"+line+"\n") {
			t.Errorf("GOGC=%q: /metrics has no line %q", c.gogc, line)
		}
	}
}
