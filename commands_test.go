package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"taskbolt/auth/authtest"
	"taskbolt/store"
)

const adminToken = "admin-token-for-tests-0123456789"

func runCmd(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut strings.Builder
	err := run(context.Background(), args, env, &out, &errOut)
	return out.String(), errOut.String(), err
}

func listTitles(t *testing.T, url, user string) []string {
	t.Helper()
	code, body := call(t, "GET", url+"/api/"+user+"/tasks?sort=id&limit=100", mint(t, user), "")
	if code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
	var tasks []store.Task
	json.Unmarshal([]byte(body), &tasks)
	var titles []string
	for _, task := range tasks {
		titles = append(titles, task.Title)
	}
	return titles
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

func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "live.db")
	env := baseEnv(t, db, "ADMIN_TOKEN="+adminToken)
	s := start(t, env)
	for _, title := range []string{"one", "two", "three"} {
		call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"`+title+`"}`)
	}
	call(t, "PATCH", s.url+"/api/alice/tasks/2/complete", mint(t, "alice"), "")
	want := listTitles(t, s.url, "alice")
	_, wantBody := call(t, "GET", s.url+"/api/alice/tasks?sort=id", mint(t, "alice"), "")

	// Hot: the server holds the file, so backup goes through /admin/backup.
	hot := filepath.Join(dir, "hot.db")
	if _, errOut, err := runCmd(t, env, "backup", hot, "--url", s.url); err != nil {
		t.Fatalf("hot backup: %v %s", err, errOut)
	}
	if _, _, err := runCmd(t, baseEnv(t, db), "backup", filepath.Join(dir, "x.db"), "--url", s.url); err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN") {
		t.Errorf("hot backup without the admin token: %v", err)
	}
	call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"after the backup"}`)
	s.shutdown(t)

	// Cold: nobody holds the file.
	cold := filepath.Join(dir, "cold.db")
	if _, errOut, err := runCmd(t, env, "backup", cold); err != nil {
		t.Fatalf("cold backup: %v %s", err, errOut)
	}

	// Restore refuses to overwrite without --force, then restores.
	if _, _, err := runCmd(t, env, "restore", hot); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over an existing file without --force: %v", err)
	}
	if _, errOut, err := runCmd(t, env, "restore", hot, "--force"); err != nil {
		t.Fatalf("restore: %v %s", err, errOut)
	}
	s2 := start(t, env)
	if got := listTitles(t, s2.url, "alice"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("restored %v, want %v", got, want)
	}
	if _, body := call(t, "GET", s2.url+"/api/alice/tasks?sort=id", mint(t, "alice"), ""); body != wantBody {
		t.Errorf("restored tasks differ:\n%s\n%s", body, wantBody)
	}
	if _, _, err := runCmd(t, env, "restore", cold, "--force"); err == nil || !strings.Contains(err.Error(), "stop the server") {
		t.Errorf("restore under a running server: %v", err)
	}
	s2.shutdown(t)

	// A truncated or foreign file is not restored.
	broken := filepath.Join(dir, "broken.db")
	content, _ := os.ReadFile(cold)
	os.WriteFile(broken, content[:len(content)/3], 0o600)
	if _, _, err := runCmd(t, env, "restore", broken, "--force"); err == nil {
		t.Error("restored a truncated backup")
	}
	if _, errOut, err := runCmd(t, env, "restore", cold, "--force"); err != nil {
		t.Fatalf("restore of the cold backup: %v %s", err, errOut)
	}
	s3 := start(t, env)
	if got := listTitles(t, s3.url, "alice"); len(got) != 4 {
		t.Errorf("cold backup restored %v, want the 4 tasks", got)
	}
}

func TestExportImport(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	s := start(t, baseEnv(t, src))
	call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"a1","description":"d"}`)
	call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"a2"}`)
	call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"a3"}`)
	call(t, "DELETE", s.url+"/api/alice/tasks/3", mint(t, "alice"), "")
	call(t, "PATCH", s.url+"/api/alice/tasks/2/complete", mint(t, "alice"), "")
	call(t, "POST", s.url+"/api/bob/tasks", mint(t, "bob"), `{"title":"b1"}`)
	_, aliceWant := call(t, "GET", s.url+"/api/alice/tasks?sort=id", mint(t, "alice"), "")
	if _, _, err := runCmd(t, baseEnv(t, src), "export"); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("export of a held database: %v", err)
	}
	s.shutdown(t)

	out, _, err := runCmd(t, baseEnv(t, src), "export")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format string
		Users  []struct {
			UserID string `json:"user_id"`
			LastID uint64 `json:"last_id"`
			Tasks  []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Format != "taskbolt-export" || len(doc.Users) != 2 {
		t.Fatalf("export: %v\n%s", err, out)
	}
	only, _, _ := runCmd(t, baseEnv(t, src), "export", "--user", "bob")
	if !strings.Contains(only, `"b1"`) || strings.Contains(only, `"a1"`) {
		t.Errorf("export --user bob: %s", only)
	}

	file := filepath.Join(dir, "export.json")
	os.WriteFile(file, []byte(out), 0o600)
	dst := filepath.Join(dir, "dst.db")
	for range 2 { // idempotent
		if _, errOut, err := runCmd(t, baseEnv(t, dst), "import", file); err != nil {
			t.Fatalf("import: %v %s", err, errOut)
		}
	}
	s2 := start(t, baseEnv(t, dst))
	if _, body := call(t, "GET", s2.url+"/api/alice/tasks?sort=id", mint(t, "alice"), ""); body != aliceWant {
		t.Errorf("imported twice:\n%s\nwant\n%s", body, aliceWant)
	}
	code, body := call(t, "POST", s2.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"next"}`)
	if code != 201 || !strings.Contains(body, `"id":4`) {
		t.Errorf("id after import = %s; want 4 (3 was deleted before the export and is never reused)", body)
	}
	s2.shutdown(t)

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"users":[{"user_id":"a/b","tasks":[{"title":""}]}]}`), 0o600)
	_, _, err = runCmd(t, baseEnv(t, dst), "import", bad)
	if err == nil || !strings.Contains(err.Error(), "user_id") || !strings.Contains(err.Error(), "title") {
		t.Errorf("import of a bad file: %v", err)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db")))
	if out, errOut, err := runCmd(t, nil, "healthcheck", s.url+"/healthz"); err != nil || out != "" || errOut != "" {
		t.Errorf("healthy: %v %q %q", err, out, errOut)
	}
	_, _, err := runCmd(t, nil, "healthcheck", "--timeout", "500ms", "http://127.0.0.1:1/healthz")
	var quiet quietError
	if err == nil || exitCode(err) != 1 || !errorsAs(err, &quiet) {
		t.Errorf("unreachable: %v (exit %d)", err, exitCode(err))
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands {
		if name == "version" {
			continue
		}
		_, errOut, err := runCmd(t, nil, name, "--help")
		if err != nil || !strings.Contains(errOut, "Usage: taskbolt") {
			t.Errorf("%s --help: %v %q", name, err, errOut)
		}
	}
	if out, _, err := runCmd(t, nil, "help"); err != nil || !strings.Contains(out, "healthcheck") {
		t.Errorf("help: %v %q", err, out)
	}
}

func TestTokenClaims(t *testing.T) {
	out, _, err := runCmd(t, baseEnv(t, "x.db"), "token", "--sub", "alice", "--claim", "role=admin", "--claim", "n=3", "--ttl", "5m")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(out), claims); err != nil {
		t.Fatal(err)
	}
	if claims["role"] != "admin" || claims["n"] != 3.0 || claims["sub"] != "alice" {
		t.Errorf("claims = %v", claims)
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d < 4*time.Minute || d > 6*time.Minute {
		t.Errorf("exp in %v, want 5m", d)
	}
	if _, _, err := runCmd(t, baseEnv(t, "x.db"), "token", "--sub", "alice", "--ttl", "48h"); exitCode(err) != 2 {
		t.Errorf("--ttl over JWT_MAX_LIFETIME: %v", err)
	}
}

func regexpFind(s, pattern string) string {
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return strings.Trim(m[1], `"`)
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

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

func TestJWKSFetchesAreCounted(t *testing.T) {
	key := authtest.NewKey(t, "EdDSA", "k")
	srv := authtest.NewJWKSServer(t, key)
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET=", "BETTER_AUTH_JWKS_URL="+srv.URL, "METRICS=true"))
	_, body := call(t, "GET", s.url+"/metrics", "", "")
	if !strings.Contains(body, `taskbolt_jwks_fetches_total{result="ok"} 1`) {
		t.Errorf("JWKS fetch not counted:\n%.3000s", body)
	}
}
