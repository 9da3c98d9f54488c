package bolt_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

// flatUsers builds one store with a user of 20 tasks and one of 100,000,
// with the same random mix of fields, through Load (one transaction).
func flatUsers(b *testing.B) *bolt.Store { return flatUsersT(b) }

func flatUsersT(b testing.TB) *bolt.Store {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "flat.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tags := []string{"home", "work", "errands", "health", "money", "garden", "kids", "car"}
	words := []string{"buy", "milk", "call", "mum", "report", "taxes", "fix", "bike", "book", "dentist", "plan", "trip"}
	for _, n := range []int{20, 100_000} {
		tasks := make([]store.Task, n)
		for i := range tasks {
			desc := words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
			t := store.Task{Title: fmt.Sprintf("%s %s %d", words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(1000)),
				Description: &desc, Completed: rng.IntN(2) == 0, Priority: store.Priority(rng.IntN(4)),
				Tags:      []string{tags[rng.IntN(len(tags))]},
				CreatedAt: base.Add(time.Duration(i) * time.Second), UpdatedAt: base.Add(time.Duration(i+rng.IntN(1000)) * time.Second)}
			if rng.IntN(10) < 7 {
				d := base.Add(time.Duration(rng.IntN(24*365)-24*180) * time.Hour)
				t.DueDate = &d
			}
			tasks[i] = t
		}
		if _, err := s.Load(context.Background(), fmt.Sprintf("user%d", n), 0, tasks); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkListFlat is the cost of a page of 50 for every sort key, alone
// and with each single filter, for a user with 20 tasks and one with
// 100,000: the two should cost about the same.
//
//	go test -run '^$' -bench ListFlat -benchtime 300x ./store/bolt/
func BenchmarkListFlat(b *testing.B) {
	s := flatUsers(b)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	before, after := now.Add(30*24*time.Hour), now.Add(-30*24*time.Hour)
	filters := []struct {
		name string
		set  func(q *store.ListQuery)
	}{
		{"none", func(q *store.ListQuery) {}},
		{"pending", func(q *store.ListQuery) { q.Status = store.StatusPending }},
		{"priority=high", func(q *store.ListQuery) { q.Priorities = []store.Priority{store.PriorityHigh} }},
		{"tag=home", func(q *store.ListQuery) { q.Tags = []string{"home"} }},
		{"due_before", func(q *store.ListQuery) { q.DueBefore = &before }},
		{"due_after", func(q *store.ListQuery) { q.DueAfter = &after }},
		{"overdue", func(q *store.ListQuery) { q.Overdue = ptr(true) }},
	}
	var buf []byte
	for _, sk := range store.SortKeys {
		for _, f := range filters {
			for _, n := range []int{20, 100_000} {
				q := store.ListQuery{Status: store.StatusAll, Sort: store.SortKey(sk), Desc: store.DefaultDesc(store.SortKey(sk)), Limit: 50, Now: now}
				f.set(&q)
				b.Run(fmt.Sprintf("sort=%s/%s/%d", sk, f.name, n), func(b *testing.B) {
					for b.Loop() {
						var err error
						if buf, _, _, err = s.ListJSON(ctx, fmt.Sprintf("user%d", n), q, buf[:0]); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkSearch is q over every task of a user: a scan of compact data.
func BenchmarkSearch(b *testing.B) {
	s := flatUsers(b)
	ctx := context.Background()
	for _, n := range []int{20, 100_000} {
		for _, q := range []string{"milk", "zzz"} {
			b.Run(fmt.Sprintf("q=%s/%d", q, n), func(b *testing.B) {
				lq := store.DefaultQuery()
				lq.Search = q
				var buf []byte
				for b.Loop() {
					var err error
					if buf, _, _, err = s.ListJSON(ctx, fmt.Sprintf("user%d", n), lq, buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
func ptr[T any](v T) *T { return &v }

// BenchmarkCreateManyUsers is the load test's create: 64 writers, tasks
// spread over 100 users, each with tags, a priority and a due date.
func BenchmarkCreateManyUsers(b *testing.B) {
	s := MustOpen(b, bolt.Options{})
	ctx := context.Background()
	due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	desc := "created by the benchmark"
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			user := fmt.Sprintf("user%03d", n.Add(1)%100)
			if _, err := s.Create(ctx, user, store.NewTask{Title: "load test task", Description: &desc, Tags: []string{"load"}, Priority: store.PriorityMedium, DueDate: &due}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFileSize reports the size of a fresh file holding one user of
// 100,000 tasks, without indexes and with them.
//
//	go test -run '^$' -bench FileSize -benchtime 1x ./store/bolt/
func BenchmarkFileSize(b *testing.B) {
	for _, c := range []struct {
		name  string
		after int
	}{{"scanned", 1 << 30}, {"indexed", -1}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				path := filepath.Join(b.TempDir(), "size.db")
				s, err := bolt.Open(path, bolt.Options{IndexAfter: c.after})
				if err != nil {
					b.Fatal(err)
				}
				tasks := make([]store.Task, 100_000)
				desc := "a description of average length"
				due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
				for i := range tasks {
					tasks[i] = store.Task{Title: fmt.Sprintf("task number %d", i), Description: &desc, Tags: []string{"home"}, DueDate: &due}
				}
				if _, err := s.Load(context.Background(), "alice", 0, tasks); err != nil {
					b.Fatal(err)
				}
				size, _ := s.Size(context.Background())
				s.Close()
				b.ReportMetric(float64(size)/1e6, "MB")
			}
		})
	}
}
