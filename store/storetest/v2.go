package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

// Check fails the test when s has derived data (indexes, counts) that
// disagrees with its tasks; stores without a Checker pass.
func Check(tb testing.TB, s store.Store) {
	tb.Helper()
	if c, ok := s.(store.Checker); ok {
		if err := c.Check(ctx); err != nil {
			tb.Fatalf("store check: %v", err)
		}
	}
}

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func testFields(t *testing.T, s store.Store) {
	in := store.NewTask{Title: "Buy milk", Description: ptr("2 litres"), Priority: store.PriorityHigh, Tags: []string{"home", "Errands"},
		DueDate: at("2030-12-24T17:00:00Z"), Recurrence: store.RecurWeekly, RemindAt: at("2030-12-24T16:30:00.000001Z")}
	a, err := s.Create(ctx, "alice", in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "alice", a.ID)
	if err != nil || !equal(got, a) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, a)
	}
	if got.Priority != store.PriorityHigh || !slices.Equal(got.Tags, []string{"home", "Errands"}) || !got.DueDate.Equal(*in.DueDate) ||
		got.Recurrence != store.RecurWeekly || !got.RemindAt.Equal(*in.RemindAt) || got.Completed || got.Spawned {
		t.Errorf("stored %+v", got)
	}
	plain := MustCreate(t, s, "alice", "plain")
	if plain.Priority != store.PriorityNone || plain.Tags == nil || len(plain.Tags) != 0 || plain.DueDate != nil || plain.Recurrence != "" || plain.RemindAt != nil {
		t.Errorf("defaults: %+v", plain)
	}

	t.Run("UpdateEachField", func(t *testing.T) {
		steps := []struct {
			p     store.Patch
			check func(store.Task) bool
		}{
			{store.Patch{Priority: ptr(store.PriorityLow)}, func(x store.Task) bool { return x.Priority == store.PriorityLow }},
			{store.Patch{Tags: &[]string{"work"}}, func(x store.Task) bool { return slices.Equal(x.Tags, []string{"work"}) }},
			{store.Patch{Tags: &[]string{}}, func(x store.Task) bool { return x.Tags != nil && len(x.Tags) == 0 }},
			{store.Patch{DueDate: at("2031-01-01T00:00:00Z"), SetDueDate: true}, func(x store.Task) bool { return x.DueDate.Equal(*at("2031-01-01T00:00:00Z")) }},
			{store.Patch{SetDueDate: true}, func(x store.Task) bool { return x.DueDate == nil }},
			{store.Patch{Recurrence: ptr(store.RecurNone)}, func(x store.Task) bool { return x.Recurrence == store.RecurNone }},
			{store.Patch{SetRemindAt: true}, func(x store.Task) bool { return x.RemindAt == nil }},
			{store.Patch{Title: ptr("kept"), Priority: ptr(store.PriorityMedium)}, func(x store.Task) bool {
				return x.Title == "kept" && x.Priority == store.PriorityMedium && x.Description != nil && *x.Description == "2 litres"
			}},
		}
		for i, st := range steps {
			got, err := s.Update(ctx, "alice", a.ID, st.p)
			if err != nil || !st.check(got) {
				t.Errorf("step %d: %+v, %v", i, got, err)
			}
			if back, _ := s.Get(ctx, "alice", a.ID); !equal(back, got) {
				t.Errorf("step %d: Get %+v after Update returned %+v", i, back, got)
			}
			Check(t, s)
		}
	})
}

func testRecurrence(t *testing.T, s store.Store) {
	due := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Microsecond)
	remind := due.Add(-time.Hour)
	a, err := s.Create(ctx, "alice", store.NewTask{Title: "Water plants", Description: ptr("all of them"), Priority: store.PriorityMedium,
		Tags: []string{"home"}, DueDate: &due, Recurrence: store.RecurWeekly, RemindAt: &remind})
	if err != nil {
		t.Fatal(err)
	}
	MustCreate(t, s, "alice", "other")
	done, err := s.Update(ctx, "alice", a.ID, store.Patch{ToggleCompleted: true})
	if err != nil || !done.Completed || !done.Spawned || done.NextOccurrence != 3 {
		t.Fatalf("completing: %+v %v; want next occurrence 3", done, err)
	}
	next, err := s.Get(ctx, "alice", done.NextOccurrence)
	if err != nil {
		t.Fatal(err)
	}
	wantDue := due.AddDate(0, 0, 7)
	if next.Title != "Water plants" || *next.Description != "all of them" || next.Priority != store.PriorityMedium ||
		!slices.Equal(next.Tags, []string{"home"}) || next.Recurrence != store.RecurWeekly || next.Completed || next.Spawned ||
		!next.DueDate.Equal(wantDue) || !next.RemindAt.Equal(wantDue.Add(-time.Hour)) {
		t.Errorf("next occurrence %+v, want due %v", next, wantDue)
	}
	Check(t, s)

	// At most once in its life: un-complete and complete again.
	if again, _ := s.Update(ctx, "alice", a.ID, store.Patch{Completed: ptr(false)}); again.NextOccurrence != 0 || !again.Spawned {
		t.Errorf("un-completing: %+v", again)
	}
	for _, p := range []store.Patch{{Completed: ptr(true)}, {ToggleCompleted: true}, {ToggleCompleted: true}} {
		if again, _ := s.Update(ctx, "alice", a.ID, p); again.NextOccurrence != 0 {
			t.Errorf("a task spawned twice: %+v", again)
		}
	}
	if _, total := list(t, s, "alice", store.DefaultQuery()); total != 3 {
		t.Errorf("%d tasks, want 3", total)
	}
	// Completing a recurring task that has no due date: due one period after now.
	b, _ := s.Create(ctx, "alice", store.NewTask{Title: "Daily", Recurrence: store.RecurDaily})
	before := time.Now()
	b, _ = s.Update(ctx, "alice", b.ID, store.Patch{Title: ptr("Daily!"), Completed: ptr(true)})
	nb, err := s.Get(ctx, "alice", b.NextOccurrence)
	if err != nil || nb.DueDate == nil || nb.DueDate.Before(before.Add(24*time.Hour-time.Second)) || nb.DueDate.After(time.Now().Add(24*time.Hour)) || nb.Title != "Daily!" {
		t.Errorf("occurrence of a task without due date: %+v %v", nb, err)
	}
	// Completing a non-recurring task spawns nothing.
	if c, _ := s.Update(ctx, "alice", 2, store.Patch{Completed: ptr(true)}); c.NextOccurrence != 0 {
		t.Errorf("a plain task spawned: %+v", c)
	}
	Check(t, s)
}

func testTags(t *testing.T, s store.Store) {
	mk := func(owner string, done bool, tags ...string) store.Task {
		x, err := s.Create(ctx, owner, store.NewTask{Title: "t", Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		if done {
			x, _ = s.Update(ctx, owner, x.ID, store.Patch{Completed: ptr(true)})
		}
		return x
	}
	a := mk("alice", false, "Errands", "home")
	mk("alice", true, "errands")
	mk("alice", false, "ERRANDS", "Work")
	mk("alice", false, "zeta", "Alpha")
	mk("bob", false, "secret")
	tags, err := s.Tags(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.TagCount{{Name: "Alpha", Count: 1}, {Name: "Errands", Count: 3}, {Name: "home", Count: 1}, {Name: "Work", Count: 1}, {Name: "zeta", Count: 1}}
	if !slices.Equal(tags, want) {
		t.Errorf("tags = %v, want %v (by name without case, first spelling, completed tasks too)", tags, want)
	}
	if _, err := s.Update(ctx, "alice", a.ID, store.Patch{Tags: &[]string{"Errands"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "alice", 4); err != nil {
		t.Fatal(err)
	}
	tags, _ = s.Tags(ctx, "alice")
	if want := []store.TagCount{{Name: "Errands", Count: 3}, {Name: "Work", Count: 1}}; !slices.Equal(tags, want) {
		t.Errorf("after changes: %v, want %v (a tag no task has is gone)", tags, want)
	}
	if none, err := s.Tags(ctx, "nobody"); err != nil || none == nil || len(none) != 0 {
		t.Errorf("tags of a user without tasks: %v %v", none, err)
	}
	Check(t, s)
}

// testListModel checks every filter, sort, direction, combination and paging
// edge against store.ListQuery's own Match and Compare, on random tasks
// with many ties. seed makes the data; a failure names the query.
func testListModel(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(7, 11))
	now := *at("2030-06-01T12:00:00Z")
	titles := []string{"a", "b", "B", "ä", "a b", "milk", "Milk run"}
	tagSets := [][]string{nil, {"home"}, {"Work"}, {"home", "work"}, {"errands", "HOME"}, {"x"}}
	descs := []*string{nil, ptr("buy MILK"), ptr("other"), ptr("b")}
	model := map[uint64]store.Task{}
	for i := range 260 {
		in := store.NewTask{Title: titles[rng.IntN(len(titles))], Description: descs[rng.IntN(len(descs))],
			Priority: store.Priority(rng.IntN(4)), Tags: store.DedupTags(tagSets[rng.IntN(len(tagSets))])}
		if rng.IntN(10) < 7 {
			d := now.Add(time.Duration(rng.IntN(600)-300) * time.Hour)
			if i%9 == 0 {
				d = now // ties on the due date, and the overdue edge itself
			}
			in.DueDate = &d
		}
		task, err := s.Create(ctx, "alice", in)
		if err != nil {
			t.Fatal(err)
		}
		model[task.ID] = task
		if i%50 == 0 {
			MustCreate(t, s, "bob", "not alice's")
		}
	}
	for id := range model {
		switch rng.IntN(6) {
		case 0:
			if err := s.Delete(ctx, "alice", id); err != nil {
				t.Fatal(err)
			}
			delete(model, id)
		case 1, 2:
			task, err := s.Update(ctx, "alice", id, store.Patch{Completed: ptr(true)})
			if err != nil {
				t.Fatal(err)
			}
			model[id] = task
		}
	}
	Check(t, s)

	filters := []struct {
		name string
		set  func(q *store.ListQuery)
	}{
		{"none", func(q *store.ListQuery) {}},
		{"pending", func(q *store.ListQuery) { q.Status = store.StatusPending }},
		{"completed", func(q *store.ListQuery) { q.Status = store.StatusCompleted }},
		{"high", func(q *store.ListQuery) { q.Priorities = []store.Priority{store.PriorityHigh} }},
		{"low|medium", func(q *store.ListQuery) { q.Priorities = []store.Priority{store.PriorityMedium, store.PriorityLow} }},
		{"pending+none", func(q *store.ListQuery) {
			q.Status, q.Priorities = store.StatusPending, []store.Priority{store.PriorityNone}
		}},
		{"tag work", func(q *store.ListQuery) { q.Tags = []string{store.FoldTag("WORK")} }},
		{"tag missing", func(q *store.ListQuery) { q.Tags = []string{"zzz"} }},
		{"tags home+work", func(q *store.ListQuery) { q.Tags = []string{"home", "work"} }},
		{"tag home pending", func(q *store.ListQuery) { q.Tags, q.Status = []string{"home"}, store.StatusPending }},
		{"search milk", func(q *store.ListQuery) { q.Search = store.FoldText("MILK") }},
		{"search b", func(q *store.ListQuery) { q.Search = "b" }},
		{"search nothing", func(q *store.ListQuery) { q.Search = "qqq" }},
		{"due before now", func(q *store.ListQuery) { q.DueBefore = &now }},
		{"due before a date", func(q *store.ListQuery) { q.DueBefore = at("2030-06-03T00:00:00Z") }},
		{"due after a date", func(q *store.ListQuery) { q.DueAfter = at("2030-05-20T00:00:00Z") }},
		{"due after now-100h", func(q *store.ListQuery) { d := now.Add(-100 * time.Hour); q.DueAfter = &d }},
		{"due window", func(q *store.ListQuery) {
			a, b := now.Add(-50*time.Hour), now.Add(20*time.Hour)
			q.DueAfter, q.DueBefore = &a, &b
		}},
		{"due empty window", func(q *store.ListQuery) { a, b := now, now.Add(-time.Hour); q.DueAfter, q.DueBefore = &a, &b }},
		{"due before, pending", func(q *store.ListQuery) { q.DueBefore, q.Status = &now, store.StatusPending }},
		{"due after, completed", func(q *store.ListQuery) { q.DueAfter, q.Status = &now, store.StatusCompleted }},
		{"overdue", func(q *store.ListQuery) { q.Overdue = ptr(true) }},
		{"not overdue", func(q *store.ListQuery) { q.Overdue = ptr(false) }},
		{"not overdue, pending", func(q *store.ListQuery) { q.Overdue, q.Status = ptr(false), store.StatusPending }},
		{"overdue, completed", func(q *store.ListQuery) { q.Overdue, q.Status = ptr(true), store.StatusCompleted }},
		{"overdue+high", func(q *store.ListQuery) { q.Overdue, q.Priorities = ptr(true), []store.Priority{store.PriorityHigh} }},
		{"overdue+window", func(q *store.ListQuery) { d := now.Add(-100 * time.Hour); q.Overdue, q.DueAfter = ptr(true), &d }},
		{"everything", func(q *store.ListQuery) {
			d := now.Add(200 * time.Hour)
			q.Status, q.Priorities, q.Tags, q.Search, q.DueBefore = store.StatusPending, []store.Priority{store.PriorityHigh, store.PriorityNone}, []string{"home"}, "a", &d
		}},
		{"contradiction", func(q *store.ListQuery) { q.None = true }},
	}
	pages := [][2]int{{50, 0}, {7, 3}, {100, 150}, {5, 10000}, {1, 0}}
	queries := 0
	for _, f := range filters {
		for _, sk := range store.SortKeys {
			for _, desc := range []bool{false, true} {
				for _, pg := range pages {
					q := store.ListQuery{Status: store.StatusAll, Sort: store.SortKey(sk), Desc: desc, Limit: pg[0], Offset: pg[1], Now: now}
					f.set(&q)
					want, wantTotal := reference(model, q)
					got, total := list(t, s, "alice", q)
					queries++
					if total != wantTotal || !slices.Equal(ids(got), want) {
						t.Fatalf("%s sort=%s desc=%t limit=%d offset=%d:\n got   %v total %d\n want  %v total %d",
							f.name, sk, desc, pg[0], pg[1], ids(got), total, want, wantTotal)
					}
					for _, task := range got {
						if !equal(task, model[task.ID]) {
							t.Fatalf("listed %+v, stored %+v", task, model[task.ID])
						}
					}
				}
			}
		}
	}
	t.Logf("%d queries over %d tasks agree with the model", queries, len(model))
}

// reference answers q from the model with store.ListQuery's definitions.
func reference(model map[uint64]store.Task, q store.ListQuery) ([]uint64, int) {
	var match []store.Task
	for _, task := range model {
		if q.Match(&task) {
			match = append(match, task)
		}
	}
	slices.SortFunc(match, func(a, b store.Task) int { return q.Compare(&a, &b) })
	lo, hi := q.Page(len(match))
	out := []uint64{}
	for _, task := range match[lo:hi] {
		out = append(out, task.ID)
	}
	return out, len(match)
}

// testClosed: a closed store answers ErrUnavailable (503), never a panic or
// a 500.
func testClosed(t *testing.T, s store.Store) {
	MustCreate(t, s, "alice", "before")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "alice", store.NewTask{Title: "after"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Create: %v", err)
	}
	if _, _, err := s.List(ctx, "alice", store.DefaultQuery()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("List: %v", err)
	}
	if _, err := s.Update(ctx, "alice", 1, store.Patch{ToggleCompleted: true}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Update: %v", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping: %v", err)
	}
}

// testCancelled: a request whose context is done changes nothing.
func testCancelled(t *testing.T, s store.Store) {
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Create(done, "alice", store.NewTask{Title: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a cancelled context: %v", err)
	}
	if _, total := list(t, s, "alice", store.DefaultQuery()); total != 0 {
		t.Errorf("a cancelled create stored a task")
	}
}

// testConditional: a change with IfVersion, and DeleteIf, happen only at
// that version, checked inside the write.
func testConditional(t *testing.T, s store.Store) {
	a := MustCreate(t, s, "alice", "v1")
	if _, err := s.Update(ctx, "alice", a.ID, store.Patch{Title: ptr("stale"), IfVersion: a.Version() - 1}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("a stale IfVersion: %v", err)
	}
	if got, _ := s.Get(ctx, "alice", a.ID); got.Title != "v1" || got.Version() != a.Version() {
		t.Fatalf("a refused change changed the task: %+v", got)
	}
	b, err := s.Update(ctx, "alice", a.ID, store.Patch{Title: ptr("v2"), IfVersion: a.Version()})
	if err != nil || b.Title != "v2" || b.Version() <= a.Version() {
		t.Fatalf("the current IfVersion: %+v %v", b, err)
	}
	if _, err := s.Update(ctx, "alice", 999, store.Patch{ToggleCompleted: true, IfVersion: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("IfVersion on a missing task: %v", err)
	}
	d, ok := s.(store.ConditionalDeleter)
	if !ok {
		t.Fatal("the store cannot delete conditionally (store.ConditionalDeleter)")
	}
	if err := d.DeleteIf(ctx, "alice", a.ID, a.Version()); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("DeleteIf with the old version: %v", err)
	}
	if _, err := s.Get(ctx, "alice", a.ID); err != nil {
		t.Fatalf("a refused delete deleted: %v", err)
	}
	if err := d.DeleteIf(ctx, "alice", a.ID, b.Version()); err != nil {
		t.Fatalf("DeleteIf with the current version: %v", err)
	}
	if err := d.DeleteIf(ctx, "alice", a.ID, b.Version()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteIf of a deleted task: %v", err)
	}
	Check(t, s)
}
