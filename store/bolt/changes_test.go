package bolt_test

import (
	"context"
	"testing"
	"time"

	"taskbolt/store"
	"taskbolt/store/bolt"
)

// TestLogRetention: a change leaves the log only once it is past both the
// last store.LogKeep changes and store.LogMinAge; a reader behind that is
// told of the gap.
func TestLogRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	bolt.SetLogClock(t, func() time.Time { return now })
	s := MustOpen(t, bolt.Options{})
	task, _ := s.Create(ctx, "alice", store.NewTask{Title: "x"})
	for range store.LogKeep + 9 { // 1,010 changes within the hour: all kept
		s.Update(ctx, "alice", task.ID, store.Patch{ToggleCompleted: true})
	}
	if got, _, gap, _ := s.Changes(ctx, "alice", 0, 5); gap || len(got) != 5 || got[0].Seq != 1 {
		t.Fatalf("within the hour every change is kept: %v gap=%v", len(got), gap)
	}
	now = now.Add(2 * time.Hour)
	s.Update(ctx, "alice", task.ID, store.Patch{ToggleCompleted: true}) // change 1,011 prunes
	got, last, gap, _ := s.Changes(ctx, "alice", 0, 5)
	if !gap || len(got) != 0 || last != 1011 {
		t.Fatalf("a reader from 0 after pruning: %d changes, last %d, gap=%v", len(got), last, gap)
	}
	got, _, gap, _ = s.Changes(ctx, "alice", 11, 5)
	if gap || len(got) != 5 || got[0].Seq != 12 {
		t.Fatalf("the last %d changes are kept: %+v gap=%v", store.LogKeep, got, gap)
	}
	if _, _, gap, _ := s.Changes(ctx, "alice", 10, 5); !gap {
		t.Error("change 11 was pruned, yet a reader after 10 sees no gap")
	}
}
