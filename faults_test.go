package main

// Storage faults under a running server: a full disk, or a file system the
// kernel turned read-only, answers writes with 503 while reads keep working,
// and nothing is corrupted; a full disk works again once space is back.
// They mount file systems of their own, so they run as root (as CI does).

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

// ext4 mounts a small ext4 image that turns read-only on its first error,
// and returns its folder and a function that triggers such an error: the
// way a real disk fault takes a file system read-only under a running server.
func ext4(t *testing.T) (dir string, fail func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING: mounting a file system needs root (CI runs as root)")
	}
	img := filepath.Join(t.TempDir(), "fs.img")
	dir = t.TempDir()
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"mkfs.ext4", "-q", img}, {"mount", "-o", "loop,errors=remount-ro", img, dir}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Skipf("SKIPPING: %s: %v %s", cmd[0], err, out)
		}
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	src, err := exec.Command("findmnt", "-n", "-o", "SOURCE", dir).Output()
	if err != nil {
		t.Skipf("SKIPPING: findmnt: %v", err)
	}
	trigger := filepath.Join("/sys/fs/ext4", filepath.Base(strings.TrimSpace(string(src))), "trigger_fs_error")
	return dir, func() {
		if err := os.WriteFile(trigger, []byte("1"), 0o200); err != nil {
			t.Fatalf("trigger an ext4 error: %v", err)
		}
	}
}

func TestReadOnlyFileSystem(t *testing.T) {
	dir, fail := ext4(t)
	db := filepath.Join(dir, "ro.db")
	s := start(t, baseEnv(t, db))
	tok := mint(t, "alice")
	api := s.url + "/api/alice/tasks"
	if code, _ := call(t, "POST", api, tok, `{"title":"before"}`); code != 201 {
		t.Fatal("first write failed")
	}
	fail() // the kernel takes the file system read-only
	code, body := call(t, "POST", api, tok, `{"title":"while read-only"}`)
	if code != 503 || !strings.Contains(body, "Storage unavailable") {
		t.Fatalf("write on a read-only file system: %d %s", code, body)
	}
	if code, body := call(t, "PATCH", api+"/1/complete", tok, ""); code != 503 {
		t.Errorf("update on a read-only file system: %d %s", code, body)
	}
	if code, body := call(t, "GET", api, tok, ""); code != 200 || !strings.Contains(body, `"before"`) || strings.Contains(body, "while read-only") {
		t.Fatalf("read on a read-only file system: %d %s", code, body)
	}
	s.shutdown(t)
	newWriteLoad().verify(t, db) // consistency check of what is on disk
}
