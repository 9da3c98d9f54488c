package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

// TestCursorsGiveRoomBack: every list of an indexed user, of every kind
// that reads index streams (each sort, a tag, the due-date filters and
// their counts), gives its cursors' decoding room back to blockBufs, so
// that the next list reuses it instead of allocating: after them no room
// is out.
func TestCursorsGiveRoomBack(t *testing.T) {
	s := openIndexingEarly(t)
	ctx := context.Background()
	now := time.Now()
	tasks := make([]store.Task, 300)
	for i := range tasks {
		due := now.Add(time.Duration(i-150) * time.Hour)
		tasks[i] = store.Task{Title: fmt.Sprintf("task %03d", i), Priority: store.Priority(i % 4), Tags: []string{"home"}, Completed: i%5 == 0}
		if i%3 > 0 {
			tasks[i].DueDate = &due
		}
	}
	if _, err := s.Load(ctx, "alice", 0, tasks); err != nil {
		t.Fatal(err)
	}
	yes, soon, before := true, now.Add(24*time.Hour), now.Add(-24*time.Hour)
	queries := []store.ListQuery{
		{Sort: store.SortCreated, Desc: true}, {Sort: store.SortTitle}, {Sort: store.SortDueDate}, {Sort: store.SortPriority, Desc: true},
		{Tags: []string{"home"}, Sort: store.SortCreated}, {Overdue: &yes, Sort: store.SortCreated, Desc: true},
		{DueBefore: &soon, Sort: store.SortUpdated}, {DueAfter: &before, Sort: store.SortDueDate},
		{Overdue: &yes, Status: store.StatusPending, Sort: store.SortTitle},
	}
	out := roomsOut.Load()
	for _, q := range queries {
		q.Limit, q.Now = 20, now
		if _, _, err := s.List(ctx, "alice", q); err != nil {
			t.Fatal(err)
		}
		if n := roomsOut.Load() - out; n != 0 {
			t.Errorf("a list (%+v) left %d cursors' decoding room out", q, n)
			out = roomsOut.Load()
		}
	}
}

// TestWritesForgetTheirBuckets: the buckets openUser shares among a
// transaction's writes are forgotten before the transaction ends, so that
// no transaction's pages (an import's, all of them) stay reachable after it.
func TestWritesForgetTheirBuckets(t *testing.T) {
	s := openIndexingEarly(t)
	ctx := context.Background()
	for i := range 20 {
		if _, err := s.Create(ctx, "alice", store.NewTask{Title: fmt.Sprint("task ", i)}); err != nil {
			t.Fatal(err)
		}
		if s.openUsers != nil {
			t.Fatalf("after create %d the store still holds the transaction's buckets", i)
		}
	}
	if _, err := s.Update(ctx, "alice", 3, store.Patch{ToggleCompleted: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "bob", 0, []store.Task{{Title: "loaded"}}); err != nil {
		t.Fatal(err)
	}
	if s.openUsers != nil {
		t.Error("after an update and a load the store still holds the transaction's buckets")
	}
}

// openIndexingEarly opens a store in a test's directory that indexes a user
// past 10 tasks, closed when the test ends.
func openIndexingEarly(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "tasks.db"), Options{IndexAfter: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
