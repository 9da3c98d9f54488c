package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
	"github.com/taskbolt/taskbolt/store/storetest"
)

// MustOpen opens a store on a fresh file in t.TempDir and, at cleanup, checks
// the file's consistency with bbolt's own checker.
func MustOpen(tb testing.TB, opt bolt.Options) *bolt.Store {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tasks.db")
	s, err := bolt.Open(path, opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Close()
		checkFile(tb, path)
	})
	return s
}

func checkFile(tb testing.TB, path string) {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		tb.Errorf("reopen for check: %v", err)
		return
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil {
		tb.Errorf("consistency check: %v", err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(tb testing.TB) store.Store { return MustOpen(tb, bolt.Options{}) },
		Reopen: func(tb testing.TB, s store.Store) store.Store {
			path := s.(*bolt.Store).Path()
			if err := s.Close(); err != nil {
				tb.Fatal(err)
			}
			s2, err := bolt.Open(path, bolt.Options{})
			if err != nil {
				tb.Fatal(err)
			}
			return s2
		},
	})
}

// TestConformanceEveryPlan runs the suite again with every user indexed
// from its first task, with the plans' thresholds so small that the
// fallbacks (a filtered walk giving up, a scan with many matches walking an
// index) run on the suite's little data, and with users indexed midway.
func TestConformanceEveryPlan(t *testing.T) {
	opening := func(opt bolt.Options) storetest.Harness {
		return storetest.Harness{Open: func(tb testing.TB) store.Store { return MustOpen(tb, opt) }}
	}
	t.Run("Indexed", func(t *testing.T) { storetest.Run(t, opening(bolt.Options{IndexAfter: -1})) })
	t.Run("IndexedTinyPlanLimits", func(t *testing.T) {
		defer bolt.SetPlanLimits(1, 2)()
		storetest.Run(t, opening(bolt.Options{IndexAfter: -1}))
	})
	t.Run("IndexedMidway", func(t *testing.T) { storetest.Run(t, opening(bolt.Options{IndexAfter: 100})) }) // the model test's user crosses it
}

func TestUpdatedAtMovesForwardWithAFrozenClock(t *testing.T) {
	frozen := time.Date(2026, 11, 30, 8, 51, 42, 123456789, time.UTC)
	s := MustOpen(t, bolt.Options{Now: func() time.Time { return frozen }})
	ctx := context.Background()
	task := storetest.MustCreate(t, s, "alice", "x")
	if want := frozen.Truncate(time.Microsecond); !task.CreatedAt.Equal(want) {
		t.Fatalf("created_at = %v, want %v", task.CreatedAt, want)
	}
	prev := task.UpdatedAt
	for i := 1; i <= 3; i++ {
		got, err := s.Update(ctx, "alice", task.ID, store.Patch{ToggleCompleted: true})
		if err != nil {
			t.Fatal(err)
		}
		if want := prev.Add(time.Microsecond); !got.UpdatedAt.Equal(want) {
			t.Errorf("update %d: updated_at = %v, want %v", i, got.UpdatedAt, want)
		}
		if !got.CreatedAt.Equal(task.CreatedAt) {
			t.Errorf("created_at moved")
		}
		prev = got.UpdatedAt
	}
}

func TestOpen(t *testing.T) {
	t.Run("ErrLockedByAnotherProcess", func(t *testing.T) {
		s := MustOpen(t, bolt.Options{})
		start := time.Now()
		_, err := bolt.Open(s.Path(), bolt.Options{LockTimeout: 200 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "database is locked by another process") || !strings.Contains(err.Error(), s.Path()) {
			t.Fatalf("err = %v, want a locked error naming the file", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v to fail", d)
		}
	})
	t.Run("ErrForeignFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "foreign")
		content := []byte(strings.Repeat("not a database\n", 1000))
		os.WriteFile(path, content, 0o600)
		if _, err := bolt.Open(path, bolt.Options{}); err == nil || !strings.Contains(err.Error(), "not a taskbolt database") {
			t.Fatalf("err = %v", err)
		}
		if got, _ := os.ReadFile(path); string(got) != string(content) {
			t.Error("the foreign file was modified")
		}
	})
	t.Run("ErrCorrupted", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "corrupt.db")
		s, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		storetest.MustCreate(t, s, "alice", "x")
		s.Close()
		content, _ := os.ReadFile(path)
		// Damage both meta pages (pages 0 and 1), as a torn or garbled write would.
		pageSize := os.Getpagesize()
		for _, off := range []int{16 + 8, pageSize + 16 + 8} {
			content[off] ^= 0xff
		}
		os.WriteFile(path, content, 0o600)
		if _, err := bolt.Open(path, bolt.Options{}); err == nil || !strings.Contains(err.Error(), "corrupted") {
			t.Fatalf("err = %v", err)
		}
		if got, _ := os.ReadFile(path); string(got) != string(content) {
			t.Error("the corrupted file was modified")
		}
	})
	t.Run("ErrBoltFileOfAnotherApp", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		db, _ := bbolt.Open(path, 0o600, nil)
		db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("sessions")); return err })
		db.Close()
		if _, err := bolt.Open(path, bolt.Options{}); err == nil || !strings.Contains(err.Error(), "did not create") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrSchemaVersion", func(t *testing.T) {
		s := MustOpen(t, bolt.Options{})
		path := s.Path()
		s.Close()
		db, _ := bbolt.Open(path, 0o600, nil)
		db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("99")) })
		db.Close()
		if _, err := bolt.Open(path, bolt.Options{}); err == nil || !strings.Contains(err.Error(), "schema version") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLayoutIsPerUserBuckets(t *testing.T) {
	s := MustOpen(t, bolt.Options{})
	storetest.MustCreate(t, s, "alice", "a")
	storetest.MustCreate(t, s, "bob", "b")
	err := s.DB().View(func(tx *bbolt.Tx) error {
		users := tx.Bucket([]byte("users"))
		for _, u := range []string{"alice", "bob"} {
			tasks := users.Bucket([]byte(u)).Bucket([]byte("tasks"))
			if tasks == nil || tasks.Get([]byte{0, 0, 0, 0, 0, 0, 0, 1}) == nil {
				return errors.New("missing users/" + u + "/tasks/1")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := MustOpen(t, bolt.Options{})
	s.Close()
	if _, err := s.Create(context.Background(), "alice", store.NewTask{Title: "x"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if err := s.Ping(context.Background()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping err = %v, want ErrUnavailable", err)
	}
}

func BenchmarkCreate(b *testing.B) {
	// Store.Create under concurrency: writes share commits (group.go).
	s := MustOpen(b, bolt.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(32) // 64 writers on 2 cores, like the load test
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Create(ctx, "alice", store.NewTask{Title: "benchmark"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCommit compares one transaction per write (Update) with group
// commit (Batch) for the same put, 64 concurrent writers, durable fsyncs.
func BenchmarkCommit(b *testing.B) {
	for _, mode := range []string{"Update", "Batch"} {
		b.Run(mode, func(b *testing.B) {
			s := MustOpen(b, bolt.Options{})
			db := s.DB()
			db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("bench")); return err })
			commit := db.Update
			if mode == "Batch" {
				commit = db.Batch
			}
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				val := make([]byte, 200)
				for pb.Next() {
					err := commit(func(tx *bbolt.Tx) error {
						bk := tx.Bucket([]byte("bench"))
						id, _ := bk.NextSequence()
						return bk.Put([]byte(strconv.FormatUint(id, 10)), val)
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkList(b *testing.B) {
	for _, n := range []int{20, 1000} {
		s := MustOpen(b, bolt.Options{})
		for i := range n {
			storetest.MustCreate(b, s, "alice", "task "+strconv.Itoa(i))
		}
		ctx := context.Background()
		q := store.DefaultQuery()
		q.Limit = store.MaxLimit
		b.Run(fmt.Sprintf("Decoded/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.List(ctx, "alice", q); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("JSON/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1<<20)
			for b.Loop() {
				var err error
				if buf, _, _, err = s.ListJSON(ctx, "alice", q, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestOpenTruncatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "whole.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		storetest.MustCreate(t, s, "alice", strings.Repeat("x", 150)+strconv.Itoa(i))
	}
	s.Close()
	content, _ := os.ReadFile(path)
	// bbolt grows files ahead of use, so only a cut into the used pages is a
	// truncation; half of them and three pages both are.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var used int
	db.View(func(tx *bbolt.Tx) error { used = int(tx.Size()); return nil })
	db.Close()
	for _, cut := range []int{used / 2, 3 * os.Getpagesize()} {
		short := filepath.Join(t.TempDir(), "short.db")
		os.WriteFile(short, content[:cut], 0o600)
		for _, ro := range []bool{false, true} {
			s, err := bolt.Open(short, bolt.Options{ReadOnly: ro})
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "truncated") {
				t.Errorf("cut at %d (read-only %v): err = %v, want truncated", cut, ro, err)
			}
		}
		if got, _ := os.ReadFile(short); len(got) != cut {
			t.Errorf("the truncated file was modified")
		}
	}
}
