// Package storetest is the conformance suite every store.Store must pass.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{Open: ..., Reopen: ...})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

// Harness tells the suite how to get stores.
type Harness struct {
	// Open returns a new, empty store. The suite closes it.
	Open func(t testing.TB) store.Store
	// Reopen closes s and opens the same data again. Optional: stores without
	// persistence leave it nil and the persistence test is skipped for them.
	Reopen func(t testing.TB, s store.Store) store.Store
}

var ctx = context.Background()

func ptr[T any](v T) *T { return &v }

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	open := func(t *testing.T) store.Store {
		s := h.Open(t)
		t.Cleanup(func() {
			Check(t, s) // every test leaves indexes and counts that agree with the tasks
			s.Close()
		})
		return s
	}
	t.Run("Create", func(t *testing.T) { testCreate(t, open(t)) })
	t.Run("Get", func(t *testing.T) { testGet(t, open(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open(t)) })
	t.Run("Toggle", func(t *testing.T) { testToggle(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("ListOrder", func(t *testing.T) { testListOrder(t, open(t)) })
	t.Run("ListFilterAndPage", func(t *testing.T) { testListFilterAndPage(t, open(t)) })
	t.Run("ListJSON", func(t *testing.T) { testListJSON(t, open(t)) })
	t.Run("OwnerIsolation", func(t *testing.T) { testOwnerIsolation(t, open(t)) })
	t.Run("ErrInvalidOwner", func(t *testing.T) { testInvalidOwner(t, open(t)) })
	t.Run("Unicode", func(t *testing.T) { testUnicode(t, open(t)) })
	t.Run("ConcurrentCreates", func(t *testing.T) { testConcurrentCreates(t, open(t)) })
	t.Run("DumpAndLoad", func(t *testing.T) { testDumpAndLoad(t, open(t), open(t)) })
	t.Run("Reset", func(t *testing.T) { testReset(t, open(t)) })
	t.Run("Fields", func(t *testing.T) { testFields(t, open(t)) })
	t.Run("Recurrence", func(t *testing.T) { testRecurrence(t, open(t)) })
	t.Run("Tags", func(t *testing.T) { testTags(t, open(t)) })
	t.Run("ListModel", func(t *testing.T) { testListModel(t, open(t)) })
	t.Run("ErrUnavailableWhenClosed", func(t *testing.T) { testClosed(t, h.Open(t)) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelled(t, open(t)) })
	t.Run("Conditional", func(t *testing.T) { testConditional(t, open(t)) })
	t.Run("Changes", func(t *testing.T) { testChanges(t, open(t)) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, open(t)) })
	t.Run("Reminders", func(t *testing.T) { testReminders(t, open(t)) })
	t.Run("DeleteWithReminders", func(t *testing.T) { testDeleteCompleted(t, open(t)) })
	t.Run("Chat", func(t *testing.T) { testChat(t, open(t)) })
	t.Run("ChatIdempotency", func(t *testing.T) { testChatIdempotency(t, open(t)) })
	t.Run("ChatConcurrent", func(t *testing.T) { testChatConcurrent(t, open(t)) })
	t.Run("ChatDumpAndLoad", func(t *testing.T) { testChatDumpAndLoad(t, open(t), open(t)) })
	t.Run("Reopen", func(t *testing.T) {
		if h.Reopen == nil {
			t.Skip("store has no persistence")
		}
		testReopen(t, h.Open(t), h.Reopen)
	})
}

// MustCreate creates a task or fails the test.
func MustCreate(tb testing.TB, s store.Store, owner, title string) store.Task {
	tb.Helper()
	task, err := s.Create(ctx, owner, store.NewTask{Title: title})
	if err != nil {
		tb.Fatalf("Create(%q, %q): %v", owner, title, err)
	}
	return task
}

func testCreate(t *testing.T, s store.Store) {
	before := time.Now().Add(-time.Second)
	a, err := s.Create(ctx, "alice", store.NewTask{Title: "Buy milk", Description: ptr("2 litres")})
	if err != nil {
		t.Fatal(err)
	}
	b := MustCreate(t, s, "alice", "Walk dog")
	if a.ID != 1 || b.ID != 2 {
		t.Errorf("ids = %d, %d; want 1, 2", a.ID, b.ID)
	}
	if a.UserID != "alice" || a.Title != "Buy milk" || a.Description == nil || *a.Description != "2 litres" || a.Completed {
		t.Errorf("created task = %+v", a)
	}
	if b.Description != nil {
		t.Errorf("absent description = %q, want nil", *b.Description)
	}
	if a.CreatedAt.Location() != time.UTC || a.CreatedAt.Before(before) || a.CreatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("created_at = %v, want UTC, now, microsecond precision", a.CreatedAt)
	}
	if !a.UpdatedAt.Equal(a.CreatedAt) {
		t.Errorf("updated_at %v != created_at %v on create", a.UpdatedAt, a.CreatedAt)
	}
	got, err := s.Get(ctx, "alice", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got, a) {
		t.Errorf("Get = %+v, want %+v", got, a)
	}
}

func testGet(t *testing.T, s store.Store) {
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := s.Get(ctx, "nobody", 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get on an unknown owner: err = %v, want ErrNotFound", err)
		}
		MustCreate(t, s, "bob", "x")
		for _, id := range []uint64{0, 2, 1 << 63} {
			if _, err := s.Get(ctx, "bob", id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(%d): err = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func testUpdate(t *testing.T, s store.Store) {
	orig, err := s.Create(ctx, "alice", store.NewTask{Title: "old", Description: ptr("desc")})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("TitleOnlyKeepsTheRest", func(t *testing.T) {
		got, err := s.Update(ctx, "alice", orig.ID, store.Patch{Title: ptr("new")})
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "new" || got.Description == nil || *got.Description != "desc" || got.Completed {
			t.Errorf("after title patch: %+v", got)
		}
		if !got.CreatedAt.Equal(orig.CreatedAt) {
			t.Errorf("created_at changed: %v -> %v", orig.CreatedAt, got.CreatedAt)
		}
		if !got.UpdatedAt.After(orig.UpdatedAt) {
			t.Errorf("updated_at did not move forward: %v -> %v", orig.UpdatedAt, got.UpdatedAt)
		}
	})
	t.Run("DescriptionToNull", func(t *testing.T) {
		got, err := s.Update(ctx, "alice", orig.ID, store.Patch{SetDescription: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.Description != nil || got.Title != "new" {
			t.Errorf("after null description: %+v", got)
		}
	})
	t.Run("Completed", func(t *testing.T) {
		got, err := s.Update(ctx, "alice", orig.ID, store.Patch{Completed: ptr(true), ToggleCompleted: true})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Completed {
			t.Error("Completed: true (with a toggle that must be ignored) did not set completed")
		}
		stored, _ := s.Get(ctx, "alice", orig.ID)
		if !equal(stored, got) {
			t.Errorf("stored %+v, returned %+v", stored, got)
		}
	})
	t.Run("UpdatedAtStrictlyIncreases", func(t *testing.T) {
		prev, _ := s.Get(ctx, "alice", orig.ID)
		for range 50 {
			got, err := s.Update(ctx, "alice", orig.ID, store.Patch{ToggleCompleted: true})
			if err != nil {
				t.Fatal(err)
			}
			if !got.UpdatedAt.After(prev.UpdatedAt) {
				t.Fatalf("updated_at %v not after %v", got.UpdatedAt, prev.UpdatedAt)
			}
			prev = got
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := s.Update(ctx, "alice", 999, store.Patch{Title: ptr("x")}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
		if _, err := s.Update(ctx, "mallory", orig.ID, store.Patch{Title: ptr("pwned")}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("other owner: err = %v, want ErrNotFound", err)
		}
		if got, _ := s.Get(ctx, "alice", orig.ID); got.Title != "new" {
			t.Errorf("title after another owner's update = %q", got.Title)
		}
	})
}

func testToggle(t *testing.T, s store.Store) {
	task := MustCreate(t, s, "alice", "t")
	for i, want := range []bool{true, false, true} {
		got, err := s.Update(ctx, "alice", task.ID, store.Patch{ToggleCompleted: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.Completed != want {
			t.Errorf("toggle %d: completed = %v, want %v", i, got.Completed, want)
		}
	}
	got, _ := s.Update(ctx, "alice", task.ID, store.Patch{Completed: ptr(true)})
	if !got.Completed {
		t.Error("set completed=true on a completed task changed it")
	}
}

func testDelete(t *testing.T, s store.Store) {
	a := MustCreate(t, s, "alice", "a")
	b := MustCreate(t, s, "alice", "b")
	if err := s.Delete(ctx, "mallory", a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete by another owner: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "alice", b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "alice", b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after delete: err = %v", err)
	}
	if err := s.Delete(ctx, "alice", b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "alice", a.ID); err != nil {
		t.Errorf("the other task is gone: %v", err)
	}
	c := MustCreate(t, s, "alice", "c")
	if c.ID != b.ID+1 {
		t.Errorf("id after deleting the newest = %d, want %d (ids are never reused)", c.ID, b.ID+1)
	}
}

func ids(tasks []store.Task) []uint64 {
	out := make([]uint64, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID
	}
	return out
}

func list(t *testing.T, s store.Store, owner string, q store.ListQuery) ([]store.Task, int) {
	t.Helper()
	tasks, total, err := s.List(ctx, owner, q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	return tasks, total
}

// seedOrder creates tasks 1..4 with titles out of id order, then updates 2 so
// that updated order differs from created order.
func seedOrder(t *testing.T, s store.Store) {
	for _, title := range []string{"b", "d", "a", "c"} {
		MustCreate(t, s, "alice", title)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := s.Update(ctx, "alice", 2, store.Patch{Completed: ptr(true)}); err != nil {
		t.Fatal(err)
	}
}

func testListOrder(t *testing.T, s store.Store) {
	seedOrder(t, s)
	cases := []struct {
		sort store.SortKey
		desc bool
		want []uint64
	}{
		{store.SortCreated, true, []uint64{4, 3, 2, 1}},
		{store.SortCreated, false, []uint64{1, 2, 3, 4}},
		{store.SortUpdated, true, []uint64{2, 4, 3, 1}},
		{store.SortUpdated, false, []uint64{1, 3, 4, 2}},
		{store.SortTitle, false, []uint64{3, 1, 4, 2}},
		{store.SortTitle, true, []uint64{2, 4, 1, 3}},
		{store.SortID, false, []uint64{1, 2, 3, 4}},
		{store.SortID, true, []uint64{4, 3, 2, 1}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/desc=%v", c.sort, c.desc), func(t *testing.T) {
			q := store.DefaultQuery()
			q.Sort, q.Desc = c.sort, c.desc
			got, total := list(t, s, "alice", q)
			if !slices.Equal(ids(got), c.want) || total != 4 {
				t.Errorf("ids = %v total %d, want %v total 4", ids(got), total, c.want)
			}
		})
	}
	t.Run("TiesBrokenByID", func(t *testing.T) {
		for range 3 {
			MustCreate(t, s, "tie", "same")
		}
		q := store.DefaultQuery()
		q.Sort, q.Desc = store.SortTitle, false
		if got, _ := list(t, s, "tie", q); !slices.Equal(ids(got), []uint64{1, 2, 3}) {
			t.Errorf("asc ties = %v", ids(got))
		}
		q.Desc = true
		if got, _ := list(t, s, "tie", q); !slices.Equal(ids(got), []uint64{3, 2, 1}) {
			t.Errorf("desc ties = %v", ids(got))
		}
	})
}

func testListFilterAndPage(t *testing.T, s store.Store) {
	t.Run("EmptyIsNotNil", func(t *testing.T) {
		got, total := list(t, s, "nobody", store.DefaultQuery())
		if got == nil || len(got) != 0 || total != 0 {
			t.Errorf("empty list = %#v, %d", got, total)
		}
	})
	for i := 1; i <= 7; i++ {
		task := MustCreate(t, s, "alice", fmt.Sprintf("t%d", i))
		if i%3 == 0 {
			if _, err := s.Update(ctx, "alice", task.ID, store.Patch{Completed: ptr(true)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	q := store.DefaultQuery()
	q.Sort, q.Desc = store.SortID, false
	for _, c := range []struct {
		status store.Status
		want   []uint64
	}{
		{store.StatusAll, []uint64{1, 2, 3, 4, 5, 6, 7}},
		{store.StatusPending, []uint64{1, 2, 4, 5, 7}},
		{store.StatusCompleted, []uint64{3, 6}},
	} {
		q.Status = c.status
		got, total := list(t, s, "alice", q)
		if !slices.Equal(ids(got), c.want) || total != len(c.want) {
			t.Errorf("status %s: %v total %d, want %v", c.status, ids(got), total, c.want)
		}
	}
	q.Status = store.StatusPending
	for _, c := range []struct {
		limit, offset int
		want          []uint64
	}{
		{2, 0, []uint64{1, 2}},
		{2, 2, []uint64{4, 5}},
		{2, 4, []uint64{7}},
		{2, 5, []uint64{}},
		{100, 100, []uint64{}},
	} {
		q.Limit, q.Offset = c.limit, c.offset
		got, total := list(t, s, "alice", q)
		if !slices.Equal(ids(got), c.want) || total != 5 {
			t.Errorf("limit %d offset %d: %v total %d, want %v total 5", c.limit, c.offset, ids(got), total, c.want)
		}
	}
}

func testListJSON(t *testing.T, s store.Store) {
	jl, ok := s.(store.JSONLister)
	if !ok {
		t.Skip("store does not implement store.JSONLister")
	}
	seedOrder(t, s)
	if _, err := s.Create(ctx, "alice", store.NewTask{Title: "q\"uo\\te\n<&>", Description: ptr("")}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.ListQuery{
		store.DefaultQuery(),
		{Status: store.StatusCompleted, Sort: store.SortTitle, Limit: 10},
		{Status: store.StatusPending, Sort: store.SortUpdated, Desc: true, Limit: 2, Offset: 1},
		{Status: store.StatusAll, Sort: store.SortID, Limit: 5, Offset: 50},
	} {
		tasks, total := list(t, s, "alice", q)
		want := string(store.AppendTasksJSON(nil, tasks))
		got, gotTotal, seq, err := jl.ListJSON(ctx, "alice", q, []byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "prefix"+want || gotTotal != total {
			t.Errorf("ListJSON(%+v) = %s (%d)\nwant prefix%s (%d)", q, got, gotTotal, want, total)
		}
		if cl, ok := s.(store.Changelog); ok {
			if want, err := cl.Seq(ctx, "alice"); err != nil || seq != want || seq == 0 {
				t.Errorf("ListJSON's seq = %d, Seq = %d (%v)", seq, want, err)
			}
		}
	}
	got, total, seq, err := jl.ListJSON(ctx, "nobody", store.DefaultQuery(), nil)
	if err != nil || string(got) != "[]" || total != 0 || seq != 0 {
		t.Errorf("empty ListJSON = %q, %d, %d, %v", got, total, seq, err)
	}
}

func testOwnerIsolation(t *testing.T, s store.Store) {
	a := MustCreate(t, s, "alice", "alice's")
	b := MustCreate(t, s, "bob", "bob's")
	if a.ID != 1 || b.ID != 1 {
		t.Errorf("ids are per owner: alice %d, bob %d; want 1, 1", a.ID, b.ID)
	}
	// Owner ids that are prefixes, case variants or near-misses of each other
	// are different owners.
	for _, other := range []string{"Alice", "alic", "alice ", "alice\x00", "alicex", "bob"} {
		if other == "alice\x00" || other == "alice " {
			continue // not valid user ids; see ErrInvalidOwner
		}
		tasks, _ := list(t, s, other, store.DefaultQuery())
		for _, task := range tasks {
			if task.UserID != other {
				t.Errorf("List(%q) returned a task of %q", other, task.UserID)
			}
		}
		if got, err := s.Get(ctx, other, a.ID); other != "alice" && err == nil && got.UserID == "alice" {
			t.Errorf("Get(%q, %d) returned alice's task", other, a.ID)
		}
	}
	if _, err := s.Update(ctx, "bob", a.ID, store.Patch{Title: ptr("x")}); err != nil {
		t.Fatal(err) // bob's own task 1
	}
	if got, _ := s.Get(ctx, "alice", a.ID); got.Title != "alice's" {
		t.Errorf("bob's update changed alice's task: %+v", got)
	}
	if err := s.Delete(ctx, "bob", b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "alice", a.ID); err != nil {
		t.Errorf("bob's delete removed alice's task: %v", err)
	}
}

func testInvalidOwner(t *testing.T, s store.Store) {
	for _, owner := range []string{"", "a/b", "a b", "tab\t", "nul\x00", "ü", strings.Repeat("x", 129)} {
		if _, err := s.Create(ctx, owner, store.NewTask{Title: "x"}); !errors.Is(err, store.ErrInvalidOwner) {
			t.Errorf("Create(%q): err = %v, want ErrInvalidOwner", owner, err)
		}
		if _, _, err := s.List(ctx, owner, store.DefaultQuery()); !errors.Is(err, store.ErrInvalidOwner) {
			t.Errorf("List(%q): err = %v, want ErrInvalidOwner", owner, err)
		}
		if _, err := s.Get(ctx, owner, 1); !errors.Is(err, store.ErrInvalidOwner) {
			t.Errorf("Get(%q): err = %v", owner, err)
		}
		if _, err := s.Update(ctx, owner, 1, store.Patch{}); !errors.Is(err, store.ErrInvalidOwner) {
			t.Errorf("Update(%q): err = %v", owner, err)
		}
		if err := s.Delete(ctx, owner, 1); !errors.Is(err, store.ErrInvalidOwner) {
			t.Errorf("Delete(%q): err = %v", owner, err)
		}
	}
	if _, err := s.Create(ctx, strings.Repeat("x", 128), store.NewTask{Title: "x"}); err != nil {
		t.Errorf("a 128-byte owner id: %v", err)
	}
}

func testUnicode(t *testing.T, s store.Store) {
	titles := []string{"Émile 🧑‍🚀 café", "e\u0301\u0301 combining", "עברית RTL \u202e", "日本語のタスク", "nul\x00inside", "line\u2028sep"}
	for _, title := range titles {
		created, err := s.Create(ctx, "uni", store.NewTask{Title: title, Description: ptr(title)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "uni", created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != title || *got.Description != title {
			t.Errorf("round trip: %q -> %q", title, got.Title)
		}
	}
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	const n = 64
	var wg sync.WaitGroup
	got := make([]uint64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			task, err := s.Create(ctx, "alice", store.NewTask{Title: fmt.Sprintf("t%d", i)})
			got[i], errs[i] = task.ID, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	for i, id := range got {
		if id != uint64(i+1) {
			t.Fatalf("ids = %v, want 1..%d each once", got, n)
		}
	}
	q := store.DefaultQuery()
	q.Limit = store.MaxLimit
	if tasks, total := list(t, s, "alice", q); total != n || len(tasks) != n {
		t.Errorf("listed %d of total %d, want %d", len(tasks), total, n)
	}
}

func testReopen(t *testing.T, s store.Store, reopen func(testing.TB, store.Store) store.Store) {
	a, _ := s.Create(ctx, "alice", store.NewTask{Title: "keep", Description: ptr("me")})
	b := MustCreate(t, s, "alice", "gone")
	done, _ := s.Update(ctx, "alice", a.ID, store.Patch{Completed: ptr(true)})
	if err := s.Delete(ctx, "alice", b.ID); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	defer s.Close()
	got, err := s.Get(ctx, "alice", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got, done) {
		t.Errorf("after reopen: %+v, want %+v", got, done)
	}
	if c := MustCreate(t, s, "alice", "next"); c.ID != 3 {
		t.Errorf("id after reopen = %d, want 3 (sequence persisted)", c.ID)
	}
}

func equal(a, b store.Task) bool {
	return string(a.AppendJSON(nil)) == string(b.AppendJSON(nil))
}

// dumpAll collects what a Dumper visits.
func dumpAll(t *testing.T, d store.Dumper) map[string][]store.Task {
	t.Helper()
	out := map[string][]store.Task{}
	err := d.Dump(ctx, func(owner string, _ uint64, tasks []store.Task) error {
		out[owner] = append([]store.Task(nil), tasks...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testDumpAndLoad(t *testing.T, src, dst store.Store) {
	d, okD := src.(store.Dumper)
	l, okL := dst.(store.Loader)
	if !okD || !okL {
		t.Skip("store does not implement store.Dumper and store.Loader")
	}
	a := MustCreate(t, src, "alice", "one")
	MustCreate(t, src, "alice", "two")
	MustCreate(t, src, "alice", "three")
	if err := src.Delete(ctx, "alice", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Update(ctx, "alice", a.ID, store.Patch{Completed: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	MustCreate(t, src, "bob", "b")
	want := dumpAll(t, d)
	var lastIDs = map[string]uint64{}
	d.Dump(ctx, func(owner string, last uint64, _ []store.Task) error { lastIDs[owner] = last; return nil })
	if lastIDs["alice"] != 3 {
		t.Errorf("alice's last id = %d, want 3 (task 3 was deleted, its id used)", lastIDs["alice"])
	}
	for range 2 { // loading twice changes nothing
		for owner, tasks := range want {
			if _, err := l.Load(ctx, owner, lastIDs[owner], tasks); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := dumpAll(t, dst.(store.Dumper))
	for owner, tasks := range want {
		if len(got[owner]) != len(tasks) {
			t.Fatalf("%s: %d tasks after load, want %d", owner, len(got[owner]), len(tasks))
		}
		for i := range tasks {
			if !equal(got[owner][i], tasks[i]) {
				t.Errorf("%s: loaded %+v, want %+v (ids and timestamps kept)", owner, got[owner][i], tasks[i])
			}
		}
	}
	if next := MustCreate(t, dst, "alice", "next"); next.ID != 4 {
		t.Errorf("id after load = %d, want 4: the next id is never lowered", next.ID)
	}
	added, err := l.Load(ctx, "carol", 0, []store.Task{{Title: "seeded"}, {Title: "seeded too", Completed: true}})
	if err != nil || added[0].ID != 1 || added[1].ID != 2 || added[0].CreatedAt.IsZero() || !added[1].Completed {
		t.Errorf("loading tasks without ids: %+v, %v", added, err)
	}
	if _, err := l.Load(ctx, "a/b", 0, nil); !errors.Is(err, store.ErrInvalidOwner) {
		t.Errorf("load for an invalid owner: %v", err)
	}
}

func testReset(t *testing.T, s store.Store) {
	r, ok := s.(store.Resetter)
	if !ok {
		t.Skip("store does not implement store.Resetter")
	}
	MustCreate(t, s, "alice", "x")
	MustCreate(t, s, "bob", "y")
	if err := r.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"alice", "bob"} {
		if _, total := list(t, s, owner, store.DefaultQuery()); total != 0 {
			t.Errorf("%s has %d tasks after reset", owner, total)
		}
	}
	if c := MustCreate(t, s, "alice", "fresh"); c.ID != 1 {
		t.Errorf("first id after reset = %d, want 1", c.ID)
	}
}
