package postgres_test

import (
	"context"
	"testing"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/postgres"
	"github.com/taskbolt/taskbolt/store/postgres/pgtest"
	"github.com/taskbolt/taskbolt/store/storetest"
)

var ctx = context.Background()

func open(tb testing.TB, u string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(ctx, u, postgres.Options{Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestConformance: the store contract, the same suite as bbolt's, unchanged.
func TestConformance(t *testing.T) {
	pgtest.URL(t)
	urls := map[store.Store]string{}
	storetest.Run(t, storetest.Harness{
		Open: func(tb testing.TB) store.Store {
			u := pgtest.Schema(tb)
			s := open(tb, u)
			urls[s] = u
			return s
		},
		Reopen: func(tb testing.TB, s store.Store) store.Store {
			s.Close()
			return open(tb, urls[s])
		},
	})
}
