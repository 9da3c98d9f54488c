package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCompactCommand: in place on a stopped server's file; refused on a held
// one without --out; with --out, from the running server's snapshot, and
// that file restores. Each keeps every task.
func TestCompactCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "live.db")
	env := baseEnv(t, db, "ADMIN_TOKEN="+adminToken)
	s := start(t, env)
	desc := strings.Repeat("d", 900)
	for i := range 300 {
		call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"task `+strconv.Itoa(i)+`","description":"`+desc+`"}`)
	}
	for id := 1; id <= 280; id++ {
		call(t, "DELETE", s.url+"/api/alice/tasks/"+strconv.Itoa(id), mint(t, "alice"), "")
	}
	want := listTitles(t, s.url, "alice")

	if _, _, err := runCmd(t, env, "compact"); err == nil || !strings.Contains(err.Error(), "held by a running server") {
		t.Errorf("compact in place under a running server: %v", err)
	}
	out := filepath.Join(dir, "compacted.db")
	_, errOut, err := runCmd(t, env, "compact", "--out", out, "--url", s.url)
	if err != nil || !strings.Contains(errOut, "checked: a whole, consistent database") {
		t.Fatalf("compact --out while serving: %v %s", err, errOut)
	}
	s.shutdown(t)
	before, _ := os.Stat(db)

	_, errOut, err = runCmd(t, env, "compact")
	if err != nil || !strings.Contains(errOut, "bytes before") {
		t.Fatalf("compact in place: %v %s", err, errOut)
	}
	after, _ := os.Stat(db)
	if after.Size() >= before.Size() {
		t.Errorf("compact in place: %d bytes, was %d", after.Size(), before.Size())
	}
	if _, errOut, err := runCmd(t, env, "check"); err != nil {
		t.Fatalf("check after compact: %v %s", err, errOut)
	}
	s = start(t, env)
	if got := listTitles(t, s.url, "alice"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after compact in place: %v, want %v", got, want)
	}
	s.shutdown(t)

	if _, errOut, err := runCmd(t, env, "restore", out, "--force"); err != nil {
		t.Fatalf("restore of the compacted snapshot: %v %s", err, errOut)
	}
	s = start(t, env)
	if got := listTitles(t, s.url, "alice"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("the compacted snapshot restored %v, want %v", got, want)
	}
	t.Logf("compact: %s", strings.TrimSpace(errOut))

	if _, _, err := runCmd(t, baseEnv(t, "postgres://x@127.0.0.1:1/db"), "compact"); err == nil || !strings.Contains(err.Error(), "VACUUM FULL") {
		t.Errorf("compact on PostgreSQL: %v", err)
	}
}
