package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

// testChanges: every write path logs its change in commit order, with the
// task as data, only after commit, only for its owner; writes that change
// nothing log nothing.
func testChanges(t *testing.T, s store.Store) {
	cl, ok := s.(store.Changelog)
	if !ok {
		t.Fatal("the store keeps no change log (store.Changelog)")
	}
	type note struct {
		owner string
		seq   uint64
	}
	notes := make(chan note, 100)
	cl.OnChange(func(owner string, seq uint64) { notes <- note{owner, seq} })
	// expect waits for the notification of owner's seq; by then the change
	// must be readable.
	expect := func(owner string, seq uint64) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case n := <-notes:
				if n.owner == owner && n.seq >= seq || n.owner == "" {
					got, _, _, err := cl.Changes(ctx, owner, seq-1, 10)
					if err != nil || len(got) == 0 || got[0].Seq != seq {
						t.Fatalf("notified of %s's change %d, which is not readable: %v %v", owner, seq, got, err)
					}
					return
				}
			case <-deadline:
				t.Fatalf("no notification of %s's change %d", owner, seq)
			}
		}
	}
	if seq, err := cl.Seq(ctx, "alice"); err != nil || seq != 0 {
		t.Fatalf("seq of a user with no changes: %d %v", seq, err)
	}
	a := MustCreate(t, s, "alice", "one")
	expect("alice", 1)
	b, _ := s.Update(ctx, "alice", a.ID, store.Patch{Title: ptr("one, renamed")})
	expect("alice", 2)
	rec, _ := s.Create(ctx, "alice", store.NewTask{Title: "weekly", Recurrence: store.RecurWeekly, DueDate: at("2030-01-07T09:00:00Z")})
	done, _ := s.Update(ctx, "alice", rec.ID, store.Patch{ToggleCompleted: true}) // spawns the next one
	if err := s.Delete(ctx, "alice", a.ID); err != nil {
		t.Fatal(err)
	}
	MustCreate(t, s, "bob", "bob's")
	expect("bob", 1)
	// Writes that change nothing: no entry.
	if _, err := s.Update(ctx, "alice", 999, store.Patch{ToggleCompleted: true}); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "alice", rec.ID, store.Patch{Title: ptr("x"), IfVersion: 1}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatal(err)
	}
	got, last, gap, err := cl.Changes(ctx, "alice", 0, 100)
	if err != nil || gap {
		t.Fatalf("%v gap=%v", err, gap)
	}
	type want struct {
		kind store.ChangeKind
		id   uint64
		data []byte
	}
	wants := []want{
		{store.ChangeCreated, a.ID, a.AppendJSON(nil)},
		{store.ChangeUpdated, a.ID, b.AppendJSON(nil)},
		{store.ChangeCreated, rec.ID, rec.AppendJSON(nil)},
	}
	// Completing the recurring task: its update and the next occurrence's
	// creation, in either order, in one transaction.
	next, _ := s.Get(ctx, "alice", done.NextOccurrence)
	done.NextOccurrence = 0
	spawn := []want{{store.ChangeUpdated, rec.ID, done.AppendJSON(nil)}, {store.ChangeCreated, next.ID, next.AppendJSON(nil)}}
	if len(got) > 4 && got[3].Kind == store.ChangeCreated {
		spawn[0], spawn[1] = spawn[1], spawn[0]
	}
	wants = append(wants, spawn...)
	wants = append(wants, want{store.ChangeDeleted, a.ID, []byte(`{"id":1}`)})
	if len(got) != len(wants) || last != uint64(len(wants)) {
		t.Fatalf("%d changes, last %d; want %d: %+v", len(got), last, len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.Seq != uint64(i+1) || g.Kind != w.kind || g.TaskID != w.id || !bytes.Equal(g.Data, w.data) || g.At.IsZero() {
			t.Errorf("change %d: %d %s task %d %s; want %s task %d %s", i+1, g.Seq, g.Kind.Event(), g.TaskID, g.Data, w.kind.Event(), w.id, w.data)
		}
	}
	if seq, _ := cl.Seq(ctx, "alice"); seq != last {
		t.Errorf("Seq %d, last %d", seq, last)
	}
	page, _, gap, _ := cl.Changes(ctx, "alice", 2, 2)
	if gap || len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Errorf("after 2, limit 2: %+v gap=%v", page, gap)
	}
	if none, _, gap, err := cl.Changes(ctx, "alice", last, 10); len(none) != 0 || gap || err != nil {
		t.Errorf("after the last: %+v gap=%v %v", none, gap, err)
	}
	if _, _, gap, _ := cl.Changes(ctx, "alice", last+5, 10); !gap {
		t.Error("after a seq the log never had: no gap reported")
	}
	if bobs, _, _, _ := cl.Changes(ctx, "bob", 0, 10); len(bobs) != 1 || bytes.Contains(bobs[0].Data, []byte("alice")) {
		t.Errorf("bob's log: %+v", bobs)
	}
	if _, _, _, err := cl.Changes(ctx, "a/b", 0, 10); !errors.Is(err, store.ErrInvalidOwner) {
		t.Errorf("an invalid owner: %v", err)
	}
	// An import logs one reset for all it loaded (CONTRACT.md "Events"),
	// and nothing when loaded again.
	if l, ok := s.(store.Loader); ok {
		before, _ := cl.Seq(ctx, "carol")
		for range 2 {
			if _, err := l.Load(ctx, "carol", 0, []store.Task{{ID: 7, Title: "imported", CreatedAt: *at("2026-01-01T00:00:00Z")},
				{Title: "imported too"}, {ID: 9, Title: "and this"}}); err != nil {
				t.Fatal(err)
			}
		}
		// The second load gives the task without an id a new one: only that
		// one changes, and still one reset is logged.
		changes, after, _, err := cl.Changes(ctx, "carol", before, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 2 || after != before+2 {
			t.Fatalf("two imports of three tasks logged %d changes (seq %d to %d), want one reset each", len(changes), before, after)
		}
		for _, c := range changes {
			if c.Kind != store.ChangeReset || c.Kind.Event() != "reset" || string(c.Data) != "{}" || c.TaskID != 0 {
				t.Errorf("an import's change: %+v, want a reset with data {}", c)
			}
		}
		if _, err := l.Load(ctx, "carol", 0, []store.Task{{ID: 7, Title: "imported", CreatedAt: *at("2026-01-01T00:00:00Z")}}); err != nil {
			t.Fatal(err)
		}
		if again, _ := cl.Seq(ctx, "carol"); again != after {
			t.Errorf("an import that changes nothing logged %d changes", again-after)
		}
	}
	Check(t, s)
}
