package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

// maxBytesPerTask is what a short task of an indexed user may cost on disk
// (DESIGN-NOTES §8: bytes on disk are a feature). Lower it when the format
// gets smaller; it must never have to be raised quietly.
const maxBytesPerTask = 320

// TestBytesPerTask imports 20,000 short tasks of one user (the footprint
// corpus of issue #18: "task number 000123 buy milk", every priority, 0–2
// tags), with every index built, and fails when a task costs more bytes of
// the file than maxBytesPerTask.
func TestBytesPerTask(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 20000
	tags := []string{"home", "work", "errands", "health", "garden", "home"}
	tasks := make([]store.Task, n)
	for i := range tasks {
		from := i % 4 // 0, 1 or 2 distinct tags
		tasks[i] = store.Task{Title: fmt.Sprintf("task number %06d buy milk", i), Priority: store.Priority(i % 4), Tags: tags[from : from+i%3]}
	}
	if _, err := s.Load(context.Background(), "alice", 0, tasks); err != nil {
		t.Fatal(err)
	}
	size, err := s.Size(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	per := size / n
	t.Logf("%d short tasks: %d bytes, %d a task (limit %d)", n, size, per, maxBytesPerTask)
	if per > maxBytesPerTask {
		t.Errorf("a short task costs %d bytes of the file, more than %d", per, maxBytesPerTask)
	}
}
