package main

import (
	"archive/zip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGoInstall is README's `go install github.com/taskbolt/taskbolt@latest`
// as a new user runs it, with this commit published as v0.0.0-test: the
// module, zipped as the Go module proxy serves it (every file git tracks,
// under module@version/), is put in a file:// proxy in front of this
// machine's module cache (which serves the dependencies, so no network is
// needed); `go install` fetches, builds and installs it into an empty
// GOBIN, and the installed taskbolt answers --help with the command overview.
func TestGoInstall(t *testing.T) {
	root := repoRoot(t)
	const module, version = "github.com/taskbolt/taskbolt", "v0.0.0-test"
	proxy := t.TempDir()
	at := filepath.Join(proxy, module, "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := exec.Command("git", "-C", root, "ls-files").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	zf, err := os.Create(filepath.Join(at, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	for _, name := range strings.Split(strings.TrimSpace(string(files)), "\n") {
		data, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(module + "@" + version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"list":            version + "\n",
		version + ".info": fmt.Sprintf(`{"Version":%q,"Time":%q}`, version, time.Now().UTC().Format(time.RFC3339)),
		version + ".mod":  string(gomod),
	} {
		if err := os.WriteFile(filepath.Join(at, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	gobin := t.TempDir()
	cmd := exec.Command("go", "install", module+"@"+version)
	cmd.Dir = t.TempDir() // outside any module, as a user's shell is
	cmd.Env = append(os.Environ(),
		"GOBIN="+gobin, "GOFLAGS=", "CGO_ENABLED=0",
		"GOPROXY=file://"+proxy+",file://"+filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download"),
		"GOSUMDB=off") // a module nobody has published has no checksum to look up
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s@%s: %v\n%s", module, version, err, out)
	}
	out, err := exec.Command(filepath.Join(gobin, "taskbolt"), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("the installed taskbolt --help: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "taskbolt token --sub USER") {
		t.Errorf("the installed taskbolt --help is not the command overview:\n%s", out)
	}
}
