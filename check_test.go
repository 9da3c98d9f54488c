package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "t.db")
	s := start(t, baseEnv(t, db))
	call(t, "POST", s.url+"/api/alice/tasks", mint(t, "alice"), `{"title":"a","tags":["x"]}`)
	if _, _, err := runCmd(t, baseEnv(t, db), "check"); err == nil || !strings.Contains(err.Error(), "stop the server") {
		t.Errorf("check of a held database: %v", err)
	}
	s.shutdown(t)
	out, _, err := runCmd(t, baseEnv(t, db), "check")
	if err != nil || !strings.Contains(out, "is consistent") {
		t.Errorf("check: %q %v", out, err)
	}
	missing := filepath.Join(dir, "missing.db")
	if _, _, err := runCmd(t, baseEnv(t, missing), "check"); err == nil || !strings.Contains(err.Error(), "no such database file") {
		t.Errorf("check of a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Error("check created the database it was asked to check")
	}
}
