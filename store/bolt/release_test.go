package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"taskbolt/store"
)

// TestCursorsGiveRoomBack: every list of an indexed user, of every kind
// that reads index streams (each sort, a tag, the due-date filters and
// their counts), gives its cursors' decoding room back to blockBufs, so
// that the next list reuses it instead of allocating. With the collector
// off (it empties pools), a thousand lists may make only a few rooms.
func TestCursorsGiveRoomBack(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "tasks.db"), Options{IndexAfter: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, q := range queries { // the first lists may fill the pool
		q.Limit, q.Now = 20, now
		if _, _, err := s.List(ctx, "alice", q); err != nil {
			t.Fatal(err)
		}
	}
	made := blockBufsMade.Load()
	for range 100 {
		for _, q := range queries {
			q.Limit, q.Now = 20, now
			if _, _, err := s.List(ctx, "alice", q); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := blockBufsMade.Load() - made; n > 5 {
		t.Errorf("900 lists made %d new decoding rooms: a cursor was not released", n)
	}
}
