package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
	"github.com/taskbolt/taskbolt/store/dump"
)

// writeV1 makes a schema-1 file as taskbolt 1 wrote it: users/<id>/tasks/<id>
// = flags, created, updated (18 bytes) + the 7-field wire JSON.
func writeV1(tb testing.TB, path string, users, perUser int) {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	created := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket([]byte("meta"))
		meta.Put([]byte("schema_version"), []byte("1"))
		all, _ := tx.CreateBucket([]byte("users"))
		for u := range users {
			name := fmt.Sprintf("user%d", u)
			ub, _ := all.CreateBucket([]byte(name))
			tasks, _ := ub.CreateBucket([]byte("tasks"))
			for i := 1; i <= perUser; i++ {
				ts := created.Add(time.Duration(i) * time.Second)
				v := make([]byte, 18)
				v[0] = 1
				if i%3 == 0 {
					v[1] = 1
				}
				binary.BigEndian.PutUint64(v[2:10], uint64(ts.UnixMicro()))
				binary.BigEndian.PutUint64(v[10:18], uint64(ts.UnixMicro()))
				v = fmt.Appendf(v, `{"id":%d,"user_id":%q,"title":"task %d","description":null,"completed":%t,"created_at":%q,"updated_at":%q}`,
					i, name, i, i%3 == 0, ts.Format(store.TimeLayout), ts.Format(store.TimeLayout))
				if err := tasks.Put(binary.BigEndian.AppendUint64(nil, uint64(i)), v); err != nil {
					return err
				}
			}
			ub.SetSequence(uint64(perUser + 2)) // two deleted after the last
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	writeV1(t, path, 3, 40)

	t.Run("ExportOfAV1FileReadOnly", func(t *testing.T) {
		ro, err := bolt.Open(path, bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		var buf bytes.Buffer
		if n, err := dump.Export(context.Background(), ro, &buf, "user1", nil); err != nil || n != 40 || !strings.Contains(buf.String(), `"title":"task 40"`) {
			t.Fatalf("export of a v1 file: %d %v", n, err)
		}
	})

	var logs bytes.Buffer
	s, err := bolt.Open(path, bolt.Options{IndexAfter: 30, Logger: slog.New(slog.NewTextHandler(&logs, nil))}) // users of 40: indexed
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "database migrated") || !strings.Contains(logs.String(), fmt.Sprintf("from_version=1 to_version=%d users=3 tasks=120", bolt.SchemaVersion)) {
		t.Errorf("migration log: %s", logs.String())
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("after migration: %v", err)
	}
	ctx := context.Background()
	got, err := s.Get(ctx, "user1", 3)
	if err != nil || got.Title != "task 3" || !got.Completed || got.Priority != store.PriorityNone || got.Tags == nil || got.DueDate != nil ||
		got.CreatedAt != time.Date(2026, 1, 2, 3, 4, 8, 6000, time.UTC) {
		t.Errorf("migrated task %+v %v", got, err)
	}
	q := store.DefaultQuery()
	q.Status = store.StatusCompleted
	if tasks, total, err := s.List(ctx, "user2", q); err != nil || total != 13 || len(tasks) != 13 {
		t.Errorf("completed of a migrated user: %d %d %v", len(tasks), total, err)
	}
	if c, _ := s.Create(ctx, "user0", store.NewTask{Title: "new"}); c.ID != 43 {
		t.Errorf("next id after migration %d, want 43 (the sequence is kept)", c.ID)
	}
	s.Close()
	logs.Reset()
	s, err = bolt.Open(path, bolt.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil || logs.Len() != 0 {
		t.Fatalf("reopening a migrated file: %v, logged %q", err, logs.String())
	}
	s.Close()
	checkFile(t, path)
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	writeV1(t, path, 1, 1)
	db, _ := bbolt.Open(path, 0o600, nil)
	db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte(strconv.Itoa(bolt.SchemaVersion+1)))
	})
	db.Close()
	_, err := bolt.Open(path, bolt.Options{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d is newer than this taskbolt (%d)", bolt.SchemaVersion+1, bolt.SchemaVersion)) || !strings.Contains(err.Error(), "left untouched") {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkMigrate100k migrates a version-1 file of 100,000 tasks: 100
// users of 1,000, and one user of 100,000.
func BenchmarkMigrate100k(b *testing.B) {
	for _, shape := range [][2]int{{100, 1000}, {1, 100_000}} {
		b.Run(fmt.Sprintf("%dx%d", shape[0], shape[1]), func(b *testing.B) {
			dir := b.TempDir()
			src := filepath.Join(dir, "v1.db")
			writeV1(b, src, shape[0], shape[1])
			for b.Loop() {
				b.StopTimer()
				path := filepath.Join(dir, "copy.db")
				copyFile(b, src, path)
				b.StartTimer()
				s, err := bolt.Open(path, bolt.Options{})
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TestLoadListsATaskTwice: an import that names one id twice loads the last.
func TestLoadListsATaskTwice(t *testing.T) {
	s := MustOpen(t, bolt.Options{})
	out, err := s.Load(context.Background(), "alice", 0, []store.Task{{ID: 2, Title: "first"}, {ID: 2, Title: "second", Tags: []string{"x"}}, {Title: "new"}})
	if err != nil || out[0].Title != "second" || out[1].Title != "second" || out[2].ID != 3 {
		t.Fatalf("%+v %v", out, err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}
