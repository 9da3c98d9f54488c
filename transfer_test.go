package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

func TestExportImport(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	env := baseEnv(t, src, "ADMIN_TOKEN="+adminToken)
	s := start(t, env)
	call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"a1","description":"d"}`)
	call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"a2"}`)
	call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"a3"}`)
	call(t, "DELETE", s.url+"/api/alice/tasks/3", mint(t, "alice"), "")
	call(t, "PATCH", s.url+"/api/alice/tasks/2/complete", mint(t, "alice"), "")
	call(t, "POST", s.url+"/api/bob/tasks", mint(t, "bob"), `{"title":"b1"}`)
	_, aliceWant := call(t, "GET", s.url+"/api/alice/tasks?sort=id", mint(t, "alice"), "")
	if _, _, err := runCmd(t, baseEnv(t, src), "export", "--url", s.url); err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN") {
		t.Errorf("export of a held database without the admin token: %v", err)
	}
	// Hot: the server holds the file, so export streams from /admin/export.
	hot, errOut, err := runCmd(t, env, "export", "--url", s.url)
	if err != nil {
		t.Fatalf("hot export: %v %s", err, errOut)
	}
	hotBob, _, err := runCmd(t, env, "export", "--url", s.url, "--user", "bob")
	if err != nil {
		t.Fatalf("hot export --user: %v", err)
	}
	s.shutdown(t)

	out, _, err := runCmd(t, baseEnv(t, src), "export")
	if err != nil {
		t.Fatal(err)
	}
	if hot != out {
		t.Errorf("hot export differs from the cold one:\n%s\n%s", hot, out)
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
	if !strings.Contains(only, `"b1"`) || strings.Contains(only, `"a1"`) || only != hotBob {
		t.Errorf("export --user bob: %s\nhot: %s", only, hotBob)
	}

	file := filepath.Join(dir, "export.json")
	os.WriteFile(file, []byte(out), 0o600)
	dst := filepath.Join(dir, "dst.db")
	limit := debug.SetMemoryLimit(-1)
	for range 2 { // idempotent
		if _, errOut, err := runCmd(t, baseEnv(t, dst), "import", file); err != nil {
			t.Fatalf("import: %v %s", err, errOut)
		}
	}
	if after := debug.SetMemoryLimit(-1); after != limit {
		t.Errorf("the import left the process's memory limit at %d, not %d", after, limit)
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

// TestImportIntoRunningServer imports through /admin/import, in requests
// that fit the server's body limit, twice, and checks every task arrived
// once with its id, title and timestamps.
func TestImportIntoRunningServer(t *testing.T) {
	dir := t.TempDir()
	const n = 1500
	var users []string
	for _, u := range []string{"alice", "bob"} {
		var tasks []string
		for i := 1; i <= n; i++ {
			tasks = append(tasks, fmt.Sprintf(`{"id":%d,"title":"task %d","description":%q,"completed":%t,"created_at":"2026-01-02T03:04:05.000006Z","updated_at":"2026-01-02T03:04:05.000007Z"}`,
				i, i, strings.Repeat("x", 200), i%3 == 0))
		}
		users = append(users, fmt.Sprintf(`{"user_id":%q,"last_id":%d,"tasks":[%s]}`, u, n+5, strings.Join(tasks, ",")))
	}
	file := filepath.Join(dir, "big.json")
	os.WriteFile(file, []byte(`{"format":"taskbolt-export","version":1,"users":[`+strings.Join(users, ",")+`]}`), 0o600)

	env := baseEnv(t, filepath.Join(dir, "live.db"), "ADMIN_TOKEN="+adminToken, "BODY_LIMIT=65536")
	s := start(t, env)
	if _, _, err := runCmd(t, baseEnv(t, filepath.Join(dir, "live.db")), "import", file, "--url", s.url); err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN") {
		t.Errorf("import into a held database without the admin token: %v", err)
	}
	for range 2 {
		if _, errOut, err := runCmd(t, env, "import", file, "--url", s.url); err != nil {
			t.Fatalf("import through the server: %v %s", err, errOut)
		}
	}
	// Success proves the split: the file is 1 MB and the server takes 64 KiB a request.
	for _, u := range []string{"alice", "bob"} {
		req, _ := http.NewRequest("GET", s.url+"/api/"+u+"/tasks?sort=id&order=desc&limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+mint(t, u))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("X-Total-Count"); got != strconv.Itoa(n) {
			t.Errorf("%s has %s tasks after importing twice, want %d", u, got, n)
		}
		if !strings.Contains(string(body), fmt.Sprintf(`"id":%d,`, n)) || !strings.Contains(string(body), `"created_at":"2026-01-02T03:04:05.000006Z"`) {
			t.Errorf("%s's last task: %s", u, body)
		}
	}
	code, body := call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"next"}`)
	if code != 201 || !strings.Contains(body, fmt.Sprintf(`"id":%d,`, n+6)) {
		t.Errorf("next id after import = %s; want %d (last_id %d is kept)", body, n+6, n+5)
	}

	// A file with problems loads nothing, through the server too.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"users":[{"user_id":"carol","tasks":[{"title":"fine"}]},{"user_id":"dave","tasks":[{"title":""}]}]}`), 0o600)
	if _, _, err := runCmd(t, env, "import", bad, "--url", s.url); err == nil || !strings.Contains(err.Error(), "title") {
		t.Errorf("import of a bad file: %v", err)
	}
	if got := listTitles(t, s.url, "carol"); len(got) != 0 {
		t.Errorf("a file with problems loaded %v", got)
	}
}
