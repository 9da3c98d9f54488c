package bolt_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

// blockingWriter takes the first write, then holds every later one until
// release is closed: a backup client that stopped reading.
type blockingWriter struct {
	started chan struct{}
	release chan struct{}
	n       int
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		close(w.started)
	} else {
		<-w.release
	}
	w.n++
	return len(p), nil
}

// TestSlowBackupDoesNotHoldWriters: a hot backup holds a read transaction for
// as long as its client takes to read it (minutes over a slow link). bbolt
// remaps the file when a write grows it past the mapping, and a remap waits
// for every read transaction: writes that grow the file must not wait for
// the backup.
func TestSlowBackupDoesNotHoldWriters(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "tasks.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	w := &blockingWriter{started: make(chan struct{}), release: make(chan struct{})}
	backup := make(chan error, 1)
	go func() { _, err := s.Snapshot(ctx, w); backup <- err }()
	<-w.started
	defer func() {
		close(w.release)
		if err := <-backup; err != nil {
			t.Error(err)
		}
	}()

	desc := strings.Repeat("d", 900)
	tasks := make([]store.Task, 20000) // about 40 MB: far past the file's first mapping
	for i := range tasks {
		tasks[i] = store.Task{Title: "filler", Description: &desc}
	}
	loaded := make(chan error, 1)
	go func() { _, err := s.Load(ctx, "alice", 0, tasks); loaded <- err }()
	select {
	case err := <-loaded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write that grows the file waited for a stalled backup's read transaction")
	}
}
