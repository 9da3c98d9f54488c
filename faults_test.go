package main

// Storage faults under a running server: a full disk answers writes with 503
// while reads keep working, nothing is corrupted, and writes work again once
// space is back. It needs a tmpfs of its own, so it runs as root (as CI does).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmpfs mounts a small tmpfs for the test, or skips where that is impossible.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING: mounting a tmpfs to fill needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIPPING: cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func TestDiskFull(t *testing.T) {
	dir := tmpfs(t, "4m")
	ballast := filepath.Join(dir, "ballast")
	os.WriteFile(ballast, make([]byte, 1<<20), 0o600)
	db := filepath.Join(dir, "full.db")
	s := start(t, baseEnv(t, db))
	tok := mint(t, "alice")
	api := s.url + "/api/alice/tasks"
	desc := strings.Repeat("d", 1000)

	var code int
	var body string
	created := 0
	for created < 100000 {
		code, body = call(t, "POST", api, tok, `{"title":"fill","description":"`+desc+`"}`)
		if code != 201 {
			break
		}
		created++
	}
	if code != 503 || !strings.Contains(body, "Storage unavailable") {
		t.Fatalf("write on a full disk after %d creates: %d %s", created, code, body)
	}
	if code, body := call(t, "GET", api+"?limit=5", tok, ""); code != 200 || !strings.Contains(body, `"fill"`) {
		t.Fatalf("read on a full disk: %d %.100s", code, body)
	}
	if code, _ := call(t, "GET", s.url+"/healthz", "", ""); code != 200 {
		t.Errorf("healthz on a full disk: %d", code)
	}
	os.Remove(ballast)
	time.Sleep(50 * time.Millisecond)
	if code, body := call(t, "POST", api, tok, `{"title":"after the disk was freed"}`); code != 201 {
		t.Fatalf("write after space came back: %d %s", code, body)
	}
	s.shutdown(t)
	load := newWriteLoad() // nothing to compare; verify runs the consistency check
	load.verify(t, db)
	t.Logf("disk full after %d creates: 503 for writes, reads served, recovered when space came back", created)
}
