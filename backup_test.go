package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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

// TestBackupFromServerChecksWhatArrived serves backups that are cut short
// or not a database at all: the command says so and leaves the previous
// backup in place.
func TestBackupFromServerChecksWhatArrived(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "live.db")
	env := baseEnv(t, db, "ADMIN_TOKEN="+adminToken)
	s := start(t, env)
	call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"one"}`)
	good := filepath.Join(dir, "good.db")
	if _, _, err := runCmd(t, env, "backup", good, "--url", s.url); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(good)

	for _, c := range []struct {
		name string
		body []byte
		cut  bool // end the stream without its final chunk
		want string
	}{
		{"ErrTruncated", whole[:len(whole)/2], false, "not a whole, consistent database"},
		{"ErrNotADatabase", []byte("<html>a proxy's error page</html>"), false, "not a whole, consistent database"},
		{"ErrStreamBroken", whole[:len(whole)/2], true, "stream broke"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/admin/backup" || r.Header.Get("Authorization") != "Bearer "+adminToken {
					http.NotFound(w, r)
					return
				}
				w.Write(c.body)
				if c.cut {
					w.(http.Flusher).Flush()
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
				}
			}))
			defer fake.Close()
			out := filepath.Join(dir, "backup.db")
			os.WriteFile(out, whole, 0o600) // yesterday's good backup
			_, _, err := runCmd(t, env, "backup", out, "--url", fake.URL)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "left as it was") {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if b, _ := os.ReadFile(out); !bytes.Equal(b, whole) {
				t.Error("a bad download replaced the previous backup")
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
