package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

func TestDatabaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"./a.db": "./a.db", "bolt:///var/lib/t.db": "/var/lib/t.db", "bolt://rel.db": "rel.db",
		"bolt://./data/t.db": "./data/t.db", "./100% done.db": "./100% done.db", "BOLT://x.db": "x.db",
	} {
		u, err := parseDatabaseURL(in)
		if err != nil || u.Scheme != "bolt" || boltPath(u) != want {
			t.Errorf("%q -> %v, %v; want bolt file %q", in, u, err, want)
		}
	}
	for _, in := range []string{"", "bolt://", "mysql://u:p@h/db"} {
		if _, err := parseDatabaseURL(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// TestStoreRegistry adds a store kind the way a new store package would, and
// checks that its opener gets the whole DATABASE_URL and a context, while
// the start-up log never shows the URL's password.
func TestStoreRegistry(t *testing.T) {
	var got *url.URL
	var gotCtx context.Context
	stores["testdb"] = storeDriver{open: func(ctx context.Context, u *url.URL, o openOptions) (store.Store, error) {
		got, gotCtx = u, ctx
		return bolt.Open(filepath.Join(t.TempDir(), "t.db"), bolt.Options{ReadOnly: o.ReadOnly})
	}}
	t.Cleanup(func() { delete(stores, "testdb") })

	const raw = "testdb://app:s3cr3t-pw@db.internal:5433/tasks?sslmode=require"
	s := start(t, baseEnv(t, raw, "LOG_LEVEL=info"))
	if got == nil || got.String() != raw || gotCtx == nil {
		t.Fatalf("opener got %v (ctx %v), want the whole URL %s", got, gotCtx, raw)
	}
	if p, _ := got.User.Password(); p != "s3cr3t-pw" {
		t.Errorf("opener's password = %q", p)
	}
	logs := s.logs.String()
	if strings.Contains(logs, "s3cr3t-pw") || !strings.Contains(logs, `database="testdb://app:xxxxx@db.internal:5433/tasks?sslmode=require"`) {
		t.Errorf("start-up log:\n%s", logs)
	}
	if code, _ := call(t, "GET", s.url+"/api/alice/tasks", mint(t, "alice"), ""); code != 200 {
		t.Errorf("list through the registered store: %d", code)
	}
	s.shutdown(t)

	// A store without file backups: the commands say what to use instead.
	_, _, err := runCmd(t, baseEnv(t, raw), "restore", filepath.Join(t.TempDir(), "b.db"))
	if err == nil || !strings.Contains(err.Error(), "own tools") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("restore on a store that cannot: %v", err)
	}
}
