package bolt

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

// encodeTaskV2 is a task value as schemas 2 to 5 wrote it: a 36-byte header
// and the task's wire JSON.
func encodeTaskV2(t *store.Task) []byte {
	v := make([]byte, v2HeaderLen)
	putFixed(v, v2Format, t)
	if t.DueDate != nil {
		binary.BigEndian.PutUint64(v[20:28], uint64(t.DueDate.UnixMicro()))
	}
	if t.RemindAt != nil {
		binary.BigEndian.PutUint64(v[28:36], uint64(t.RemindAt.UnixMicro()))
	}
	return t.AppendJSON(v)
}

// downgrade rewrites a file of this schema as schema `to` (2 to 5) laid it
// out, undoing each migration from the newest down:
//
//	6 → 5  task values in format 2
//	5 → 4  one bbolt entry per index entry, not packed blocks
//	4 → 3  the change log's sequence kept on the log bucket, no log tail
//	3 → 2  no reminders bucket
func downgrade(tb testing.TB, path string, to int) {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		err := eachUser(tx, func(name []byte, user *bbolt.Bucket) error {
			tasks := user.Bucket(tasksBucket)
			var keys, values [][]byte
			tasks.ForEach(func(k, v []byte) error {
				t, err := decodeTask(string(name), keyID(k), v)
				keys, values = append(keys, slices.Clone(k)), append(values, encodeTaskV2(&t))
				return err
			})
			for i := range keys {
				if err := tasks.Put(keys[i], values[i]); err != nil {
					return err
				}
			}
			if idx := user.Bucket(idxBucket); idx != nil && to <= 4 {
				for _, sort := range sortBuckets {
					var es []entry
					if err := (packed{b: idx.Bucket(sort)}).ForEach(func(k, v []byte) error {
						es = append(es, entry{slices.Clone(k), slices.Clone(v)})
						return nil
					}); err != nil {
						return err
					}
					if err := idx.DeleteBucket(sort); err != nil {
						return err
					}
					b, err := idx.CreateBucket(sort)
					if err != nil {
						return err
					}
					for _, e := range es {
						if err := b.Put(e.k, e.v); err != nil {
							return err
						}
					}
				}
			}
			if to <= 3 {
				if tail := logTail(user.Get(logTailKey)); tail != nil {
					// Schema 3 kept every change in the log bucket: flush
					// the tail there (a flush keeps the newest LogKeep).
					if err := flushLogTail(&userBuckets{user: user}, tail, time.Now()); err != nil {
						return err
					}
					log := user.Bucket(logBucket)
					if err := log.SetSequence(tail.seq()); err != nil {
						return err
					}
					if err := user.Delete(logTailKey); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if to <= 2 {
			if err := tx.DeleteBucket(remindersBucket); err != nil {
				return err
			}
		}
		return tx.Bucket(metaBucket).Put(schemaVersion, fmt.Appendf(nil, "%d", to))
	})
	if err != nil {
		tb.Fatalf("downgrade to schema %d: %v", to, err)
	}
}

// TestMigrateFromEverySchema builds a file with every kind of task, writes
// it as each earlier schema laid it out, and opens and compacts each: the
// result is checked, of this schema, and serves every task, page, change and
// reminder as the original did. (Schema 1, which had none of these fields,
// is TestMigrateFromV1.)
func TestMigrateFromEverySchema(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.db")
	s, err := Open(orig, Options{IndexAfter: 40})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	base := time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)
	remind := time.Date(2099, 5, 1, 8, 0, 0, 0, time.UTC)
	var alice []store.Task // indexed
	for i := range 90 {
		task := store.Task{Title: fmt.Sprintf("task %03d %s", (i*37)%90, []string{"buy milk", `say "hi"\`, "Grüße ✓", "a\u2028b\x01"}[i%4]),
			Priority: store.Priority(i % 4), Tags: [][]string{{}, {"home"}, {"Work", "home"}}[i%3], Completed: i%5 == 0,
			Recurrence: recurrenceCodes[i%len(recurrenceCodes)], Spawned: i%7 == 0,
			CreatedAt: base.Add(time.Duration(i) * time.Minute), UpdatedAt: base.Add(time.Duration(i) * time.Hour)}
		if i%2 == 0 {
			due := base.Add(time.Duration(i%30-10) * 24 * time.Hour)
			task.DueDate = &due
		}
		if i%3 == 0 {
			d := strings.Repeat("long description ", i%11*10)
			task.Description = &d
		}
		if i%9 == 0 {
			r := remind.Add(time.Duration(i) * time.Hour)
			task.RemindAt = &r
		}
		alice = append(alice, task)
	}
	if _, err := s.Load(ctx, "alice", 0, alice); err != nil {
		t.Fatal(err)
	}
	d := ""
	if _, err := s.Load(ctx, "bob", 0, []store.Task{{Title: "only one", Description: &d, RemindAt: &remind, Tags: []string{"x"}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 { // changes in the log
		if _, err := s.Update(ctx, "alice", uint64(i+1), store.Patch{ToggleCompleted: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, "bob", store.NewTask{Title: "second"}); err != nil {
		t.Fatal(err)
	}
	want := serves(t, s)
	s.Close()
	wantReminders := reminderKeys(t, orig)

	for to := 5; to >= 2; to-- {
		t.Run(fmt.Sprintf("schema%d", to), func(t *testing.T) {
			old := filepath.Join(t.TempDir(), "old.db")
			copyFileTo(t, orig, old)
			downgrade(t, old, to)
			kept := filepath.Join(t.TempDir(), "kept.db")
			copyFileTo(t, old, kept)

			s, err := Open(old, Options{IndexAfter: 40})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Check(ctx); err != nil {
				t.Fatalf("after migration: %v", err)
			}
			got := serves(t, s)
			s.Close()
			sameServes(t, "migrated", got, want, to)
			if got := reminderKeys(t, old); !slices.Equal(got, wantReminders) {
				t.Errorf("reminders after migration %q, want %q", got, wantReminders)
			}
			valueFormats(t, old)

			out := filepath.Join(t.TempDir(), "out.db")
			if _, _, err := Compact(kept, out, Options{}); err != nil {
				t.Fatalf("compact: %v", err)
			}
			s, err = Open(out, Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Check(ctx); err != nil {
				t.Fatalf("compacted: %v", err)
			}
			sameServes(t, "compacted", serves(t, s), want, to)
		})
	}
}

// serves is what a store answers for the test's users: every task, pages
// in every sort and some filters, the change log and the export.
func serves(t *testing.T, s *Store) []string {
	t.Helper()
	ctx := t.Context()
	var out []string
	for _, owner := range []string{"alice", "bob"} {
		for _, k := range store.SortKeys {
			for _, desc := range []bool{false, true} {
				for fi, f := range []func(*store.ListQuery){
					func(*store.ListQuery) {},
					func(q *store.ListQuery) { q.Status = store.StatusCompleted },
					func(q *store.ListQuery) { q.Tags = []string{"work"} },
					func(q *store.ListQuery) { q.Search = "GRÜSSE" },
				} {
					q := store.ListQuery{Status: store.StatusAll, Sort: store.SortKey(k), Desc: desc, Limit: 25, Offset: 5}
					f(&q)
					page, total, _, err := s.ListJSON(ctx, owner, q, nil)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, fmt.Sprintf("%s sort %s desc %v filter %d: %d %s", owner, k, desc, fi, total, page))
				}
			}
		}
		for id := uint64(1); id <= 92; id++ {
			if task, err := s.Get(ctx, owner, id); err == nil {
				out = append(out, fmt.Sprintf("%s get %d: %s spawned %v", owner, id, task.AppendJSON(nil), task.Spawned))
			}
		}
		changes, last, gap, err := s.Changes(ctx, owner, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s log to %d gap %v", owner, last, gap))
		for _, c := range changes {
			out = append(out, fmt.Sprintf("%s change %d %s %d %s", owner, c.Seq, c.Kind.Event(), c.TaskID, c.Data))
		}
	}
	err := s.Dump(ctx, func(owner string, lastID uint64, tasks []store.Task) error {
		out = append(out, fmt.Sprintf("dump %s last %d: %s", owner, lastID, store.AppendTasksJSON(nil, tasks)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameServes(t *testing.T, what string, got, want []string, schema int) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("%s from schema %d: line %d\n got %s\nwant %s", what, schema, i, got[i], want[i])
		}
	}
	t.Fatalf("%s from schema %d: %d lines, want %d", what, schema, len(got), len(want))
}

func reminderKeys(t *testing.T, path string) []string {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys []string
	db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(remindersBucket); b != nil {
			b.ForEach(func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
		}
		return nil
	})
	return keys
}

// valueFormats fails unless every task value in the file is of this format.
func valueFormats(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	db.View(func(tx *bbolt.Tx) error {
		return eachUser(tx, func(name []byte, user *bbolt.Bucket) error {
			return user.Bucket(tasksBucket).ForEach(func(k, v []byte) error {
				n++
				if v[0] != valueFormat {
					t.Errorf("%s's task %d is in format %d", name, keyID(k), v[0])
				}
				return nil
			})
		})
	})
	if n != 96 { // 93 put, and 3 next occurrences of recurring tasks completed
		t.Errorf("%d task values, want 96", n)
	}
}

func copyFileTo(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
