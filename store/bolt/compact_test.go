package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
	"github.com/taskbolt/taskbolt/store/dump"
)

// TestCompact deletes most of a user's tasks, compacts the file in place,
// and finds it smaller, consistent, with the same tasks and the same next id.
func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := bolt.Open(path, bolt.Options{IndexAfter: 100})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	desc := strings.Repeat("d", 900)
	tasks := make([]store.Task, 4000)
	for i := range tasks {
		tasks[i] = store.Task{Title: "task", Description: &desc, Tags: []string{"home"}}
	}
	if _, err := s.Load(ctx, "alice", 0, tasks); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range uint64(32) { // concurrent deletes share their commits
		wg.Go(func() {
			for id := 1 + w; id <= 3900; id += 32 {
				if err := s.Delete(ctx, "alice", id); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var want bytes.Buffer
	if _, err := dump.Export(ctx, s, &want, "", nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	before, after, err := bolt.Compact(path, "", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != after || after >= before/4 {
		t.Errorf("%d bytes before, %d after (file %d): want a quarter or less", before, after, fi.Size())
	}
	s, err = bolt.Open(path, bolt.Options{IndexAfter: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("after compact: %v", err)
	}
	var got bytes.Buffer
	dump.Export(ctx, s, &got, "", nil)
	if got.String() != want.String() {
		t.Error("the compacted file holds other tasks")
	}
	if c, err := s.Create(ctx, "alice", store.NewTask{Title: "next"}); err != nil || c.ID != 4001 {
		t.Errorf("next id %d (%v), want 4001: ids are never reused", c.ID, err)
	}
	t.Logf("4,000 tasks, 3,900 deleted: %d bytes before, %d after", before, after)
}

// TestCompactRefusesAHeldFile: a file a server holds is left alone.
func TestCompactRefusesAHeldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := bolt.Compact(path, "", bolt.Options{}); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("compact of a held file: %v, want ErrLocked", err)
	}
	if _, _, err := bolt.Compact(filepath.Join(t.TempDir(), "missing.db"), "", bolt.Options{}); err == nil {
		t.Error("compact of a missing file made one")
	}
}

// TestCompactMigratesAV1File compacts a file of the first schema into --out:
// the new file is of this schema, with every task, and the old one is left
// as it was.
func TestCompactMigratesAV1File(t *testing.T) {
	dir := t.TempDir()
	path, out := filepath.Join(dir, "v1.db"), filepath.Join(dir, "out.db")
	writeV1(t, path, 3, 40)
	if _, _, err := bolt.Compact(path, out, bolt.Options{}); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(out, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the compacted v1 file: %v", err)
	}
	defer s.Close()
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if n, err := dump.Export(context.Background(), s, &buf, "", nil); err != nil || n != 120 {
		t.Errorf("the compacted v1 file holds %d tasks (%v), want 120", n, err)
	}
	if err := bolt.Verify(out); err != nil {
		t.Error(err)
	}
}

// TestCompactKeepsADenseFileDense: compacting a freshly imported file of
// more than 16 MiB (where bbolt would grow the new file 16 MiB at a time)
// gives a file no bigger than it, give or take the last growth step.
func TestCompactKeepsADenseFileDense(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dense.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tasks := make([]store.Task, 70_000)
	for i := range tasks {
		tasks[i] = store.Task{Title: fmt.Sprintf("task number %06d buy milk", i), Priority: store.Priority(i % 4), Tags: []string{"home", "work"}[:i%3%2+i%2]}
	}
	if _, err := s.Load(context.Background(), "alice", 0, tasks); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before, after, err := bolt.Compact(path, "", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("70,000 short tasks: %d bytes imported, %d compacted", before, after)
	if before < 17<<20 || after > before+1<<20 {
		t.Errorf("%d bytes before, %d after: want a file over 17 MiB that compaction does not grow", before, after)
	}
}
