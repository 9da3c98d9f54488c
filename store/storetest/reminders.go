package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

// testReminders: a reminder whose time has passed fires once, as a
// task.reminder change, only while its task is not completed.
func testReminders(t *testing.T, s store.Store) {
	r, ok := s.(store.Reminders)
	cl, ok2 := s.(store.Changelog)
	if !ok || !ok2 {
		t.Fatal("the store fires no reminders (store.Reminders, store.Changelog)")
	}
	now := time.Now().UTC()
	at := func(d time.Duration) *time.Time { v := now.Add(d).Truncate(time.Microsecond); return &v }
	soon, _ := s.Create(ctx, "alice", store.NewTask{Title: "soon", RemindAt: at(time.Hour)})
	past, _ := s.Create(ctx, "alice", store.NewTask{Title: "past", RemindAt: at(-time.Hour)})
	done, _ := s.Create(ctx, "alice", store.NewTask{Title: "done", RemindAt: at(-time.Minute)})
	s.Update(ctx, "alice", done.ID, store.Patch{Completed: ptr(true)})
	fire := func(at time.Time) int {
		t.Helper()
		n, err := r.FireReminders(ctx, at, 100)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	reminders := func() []uint64 {
		changes, _, _, _ := cl.Changes(ctx, "alice", 0, 1000)
		var ids []uint64
		for _, c := range changes {
			if c.Kind == store.ChangeReminder {
				ids = append(ids, c.TaskID)
			}
		}
		return ids
	}
	if n := fire(now); n != 1 || fmt.Sprint(reminders()) != fmt.Sprint([]uint64{past.ID}) {
		t.Fatalf("now: %d fired, reminders %v; want the past one (%d)", n, reminders(), past.ID)
	}
	if n := fire(now); n != 0 {
		t.Fatalf("again: %d fired, want 0: a reminder fires once", n)
	}
	s.Update(ctx, "alice", soon.ID, store.Patch{Title: ptr("soon, renamed")}) // same reminder: still pending, once
	if n := fire(now.Add(2 * time.Hour)); n != 1 || len(reminders()) != 2 {
		t.Fatalf("after soon's time: %d fired, reminders %v", n, reminders())
	}
	changes, _, _, _ := cl.Changes(ctx, "alice", 0, 1000)
	last := changes[len(changes)-1]
	got, _ := s.Get(ctx, "alice", soon.ID)
	if last.Kind != store.ChangeReminder || string(last.Data) != string(got.AppendJSON(nil)) {
		t.Errorf("the reminder's change: %s %s, want the task %s", last.Kind.Event(), last.Data, got.AppendJSON(nil))
	}
	// A new remind_at is a new reminder; completing cancels it; reopening
	// after its time does not bring it back.
	s.Update(ctx, "alice", soon.ID, store.Patch{SetRemindAt: true, RemindAt: at(-time.Second)})
	s.Update(ctx, "alice", soon.ID, store.Patch{Completed: ptr(true)})
	s.Update(ctx, "alice", soon.ID, store.Patch{Completed: ptr(false)})
	if n := fire(now.Add(3 * time.Hour)); n != 0 {
		t.Fatalf("a reminder of a task completed before it fired, then reopened: %d fired", n)
	}
	s.Update(ctx, "alice", soon.ID, store.Patch{SetRemindAt: true, RemindAt: at(-2 * time.Second)})
	if n := fire(now); n != 1 {
		t.Fatalf("a new remind_at: %d fired, want 1", n)
	}
	if err := s.Delete(ctx, "alice", soon.ID); err != nil {
		t.Fatal(err)
	}

	// Sweeps racing each other (replicas) fire each reminder once.
	for i := range 40 {
		s.Create(ctx, "bob", store.NewTask{Title: fmt.Sprint(i), RemindAt: at(-time.Minute)})
	}
	var fired atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				n, err := r.FireReminders(ctx, now, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
				fired.Add(int64(n))
			}
		})
	}
	wg.Wait()
	bobs, _, _, _ := cl.Changes(ctx, "bob", 0, 1000)
	count := 0
	for _, c := range bobs {
		if c.Kind == store.ChangeReminder {
			count++
		}
	}
	if fired.Load() != 40 || count != 40 {
		t.Errorf("4 racing sweeps fired %d reminders, logged %d; want 40 each", fired.Load(), count)
	}
	Check(t, s)
}

// testDeleteCompleted: deleting a completed task with a reminder (and one
// still pending) leaves nothing to fire.
func testDeleteCompleted(t *testing.T, s store.Store) {
	r, _ := s.(store.Reminders)
	when := time.Now().Add(-time.Minute)
	a, _ := s.Create(ctx, "alice", store.NewTask{Title: "done", RemindAt: &when})
	b, _ := s.Create(ctx, "alice", store.NewTask{Title: "pending", RemindAt: &when})
	if _, err := s.Update(ctx, "alice", a.ID, store.Patch{Completed: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{a.ID, b.ID} {
		if err := s.Delete(ctx, "alice", id); err != nil {
			t.Fatal(err)
		}
	}
	if r != nil {
		if n, err := r.FireReminders(ctx, time.Now(), 10); err != nil || n != 0 {
			t.Errorf("deleted tasks' reminders: %d fired, %v", n, err)
		}
	}
	Check(t, s)
}
