package bolt_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

// BenchmarkWritesManyUsers is the load test's writes at the store: 64
// writers over 100 users of 20 tasks, sharing commits (group.go); create1
// is perf-guard's create1, every write by the first user, who is past
// IndexAfter from the start and so writes every index entry. It
// reports the pages each write costs the commit (bbolt's write count), which
// is what the change log adds to a writer.
//
//	go test -run '^$' -bench WritesManyUsers -benchtime 20000x ./store/bolt/
func BenchmarkWritesManyUsers(b *testing.B) {
	for _, op := range []string{"toggle", "create", "create1"} {
		b.Run(op, func(b *testing.B) {
			s := MustOpen(b, bolt.Options{})
			ctx := context.Background()
			desc := "created by the benchmark"
			due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			in := store.NewTask{Title: "load test task", Description: &desc, Tags: []string{"load"}, Priority: store.PriorityMedium, DueDate: &due}
			for u := range 100 {
				n := 20
				if u == 0 && op == "create1" {
					n = bolt.DefaultIndexAfter + 100
				}
				for range n {
					if _, err := s.Create(ctx, fmt.Sprintf("user%03d", u), in); err != nil {
						b.Fatal(err)
					}
				}
			}
			before := s.DB().Stats().TxStats
			var n atomic.Int64
			b.ResetTimer()
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					user := fmt.Sprintf("user%03d", i%100)
					if op == "create1" {
						user = "user000"
					}
					var err error
					if op == "toggle" {
						_, err = s.Update(ctx, user, uint64(i/100%20+1), store.Patch{ToggleCompleted: true})
					} else {
						_, err = s.Create(ctx, user, in)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			st := s.DB().Stats().TxStats
			b.ReportMetric(float64(st.GetWrite()-before.GetWrite())/float64(b.N), "pages/op")
			b.ReportMetric(float64(st.GetSpillTime()-before.GetSpillTime())/float64(b.N), "spill-ns/op")
		})
	}
}
