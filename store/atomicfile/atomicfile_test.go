package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/taskbolt/taskbolt/store/atomicfile"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, []byte("old"), 0o600)
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}

	t.Run("OK", func(t *testing.T) {
		if err := atomicfile.Write(path, write("new"), nil); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != "new" {
			t.Errorf("got %q", b)
		}
	})
	t.Run("WriteFails", func(t *testing.T) {
		boom := errors.New("boom")
		err := atomicfile.Write(path, func(w io.Writer) error { io.WriteString(w, "half"); return boom }, nil)
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "new" {
			t.Errorf("a failed write replaced the file: %q", b)
		}
	})
	t.Run("CheckFails", func(t *testing.T) {
		var seen string
		err := atomicfile.Write(path, write("bad"), func(tmp string) error {
			b, _ := os.ReadFile(tmp)
			seen = string(b)
			return errors.New("not whole")
		})
		if err == nil || seen != "bad" {
			t.Fatalf("err = %v, check saw %q", err, seen)
		}
		if b, _ := os.ReadFile(path); string(b) != "new" {
			t.Errorf("a failed check replaced the file: %q", b)
		}
	})
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}
