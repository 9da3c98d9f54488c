package postgres_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/postgres"
	"github.com/taskbolt/taskbolt/store/postgres/pgtest"
	"github.com/taskbolt/taskbolt/store/storetest"
)

// TestTwoReplicas: two stores on one database, as two replicas are.
func TestTwoReplicas(t *testing.T) {
	u := pgtest.Schema(t)
	a, b := open(t, u), open(t, u)

	t.Run("WrittenThroughOneReadThroughTheOther", func(t *testing.T) {
		c := storetest.MustCreate(t, a, "alice", "via a")
		got, err := b.Get(ctx, "alice", c.ID)
		if err != nil || got.Title != "via a" || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Fatalf("%+v %v", got, err)
		}
		if err := b.Delete(ctx, "alice", c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Get(ctx, "alice", c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted through b, still in a: %v", err)
		}
	})
	t.Run("ConcurrentTogglesKeepParity", func(t *testing.T) {
		task := storetest.MustCreate(t, a, "bob", "toggled")
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				s := a
				if i%2 == 1 {
					s = b
				}
				if _, err := s.Update(ctx, "bob", task.ID, store.Patch{ToggleCompleted: true}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, _ := b.Get(ctx, "bob", task.ID)
		if got.Completed {
			t.Errorf("64 toggles over two replicas left the task completed: one was lost or doubled")
		}
		if !got.UpdatedAt.After(task.UpdatedAt.Add(63 * time.Microsecond)) {
			t.Errorf("updated_at %v did not move forward on each of 64 changes from %v", got.UpdatedAt, task.UpdatedAt)
		}
	})
	t.Run("ConcurrentCreatesNeverShareAnID", func(t *testing.T) {
		const n = 200
		ids := make(chan uint64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				s := a
				if i%2 == 1 {
					s = b
				}
				c, err := s.Create(ctx, "carol", store.NewTask{Title: fmt.Sprint(i)})
				if err != nil {
					t.Error(err)
					return
				}
				ids <- c.ID
			})
		}
		wg.Wait()
		close(ids)
		seen := map[uint64]bool{}
		for id := range ids {
			if seen[id] {
				t.Fatalf("id %d handed out twice", id)
			}
			seen[id] = true
		}
		for id := uint64(1); id <= n; id++ {
			if !seen[id] {
				t.Fatalf("id %d missing: ids must run from 1 without gaps", id)
			}
		}
	})
}

// TestMigrations: replicas starting together migrate once; a database a
// newer taskbolt migrated is refused with a clear message.
func TestMigrations(t *testing.T) {
	u := pgtest.Schema(t)
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 8)
	for i := range stores {
		wg.Go(func() {
			s, err := postgres.Open(ctx, u, postgres.Options{Logger: quiet})
			if err != nil {
				t.Error(err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			s.Close()
		}
	}
	if n := count(t, u, "SELECT count(*) FROM taskbolt_schema_migrations"); n != postgres.SchemaVersion() {
		t.Fatalf("%d migration rows after 8 concurrent starts, want %d", n, postgres.SchemaVersion())
	}
	pgtest.Exec(t, u, "INSERT INTO taskbolt_schema_migrations (version, name) VALUES (999, '0999_future.sql')")
	_, err := postgres.Open(ctx, u, postgres.Options{Logger: quiet})
	if !errors.Is(err, postgres.ErrSchemaTooNew) || !strings.Contains(err.Error(), "schema version 999") {
		t.Fatalf("a newer schema: %v", err)
	}
	if _, err := postgres.Open(ctx, u, postgres.Options{ReadOnly: true}); !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Fatalf("a newer schema, read-only: %v", err)
	}
	fresh := pgtest.Schema(t)
	if _, err := postgres.Open(ctx, fresh, postgres.Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "no taskbolt schema") {
		t.Fatalf("read-only open of an empty database: %v", err)
	}
}

// TestUnreachable: a database that cannot be reached is ErrUnavailable at
// open, and the error never shows the password.
func TestUnreachable(t *testing.T) {
	_, err := postgres.Open(ctx, "postgres://taskbolt:hunter2-secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1", postgres.Options{})
	if !errors.Is(err, store.ErrUnavailable) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("%v", err)
	}
	u, _ := url.Parse(pgtest.URL(t))
	u.User = url.UserPassword("postgres", "wrong-password-xyzzy")
	if _, err := postgres.Open(ctx, u.String(), postgres.Options{}); err != nil && strings.Contains(err.Error(), "xyzzy") {
		t.Fatalf("the password in an error: %v", err)
	}
}

// TestConnectionsKilled: every connection dropped under the store (a
// failover, a restart) is ErrUnavailable at worst, never a wrong answer,
// and the pool recovers by itself.
func TestConnectionsKilled(t *testing.T) {
	u := pgtest.Schema(t)
	s := open(t, u)
	storetest.MustCreate(t, s, "alice", "before")
	pgtest.Exec(t, u, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'taskbolt' AND pid <> pg_backend_pid()")
	for range 3 {
		if _, _, err := s.List(ctx, "alice", store.DefaultQuery()); err != nil && !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("a killed connection: %v, want ErrUnavailable", err)
		}
	}
	tasks, total, err := s.List(ctx, "alice", store.DefaultQuery())
	if err != nil || total != 1 || tasks[0].Title != "before" {
		t.Fatalf("after the connections came back: %v %d %v", tasks, total, err)
	}
}

var quiet = slog.New(slog.DiscardHandler)

func count(t *testing.T, u, sql string) int {
	t.Helper()
	s := open(t, u)
	var n int
	if err := s.Pool().QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
