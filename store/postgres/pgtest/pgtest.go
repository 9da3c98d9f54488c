// Package pgtest gives tests a PostgreSQL of their own: a fresh schema in
// the server named by TASKBOLT_TEST_POSTGRES_URL, dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the server the PostgreSQL tests use.
const EnvVar = "TASKBOLT_TEST_POSTGRES_URL"

// URL is the test server's URL. Without one the test is skipped with how to
// get one, except under CI=true, where a skipped PostgreSQL test would hide
// a missing server: there it fails.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: under CI=true the PostgreSQL tests must run (.ci/run starts a server)", EnvVar)
		}
		tb.Skipf("SKIPPING PostgreSQL tests: set %s (`make postgres` starts a throwaway server and prints it)", EnvVar)
	}
	return u
}

// Schema creates an empty schema and returns the server's URL with
// search_path set to it, so a store opened there sees only its own tables.
func Schema(tb testing.TB) string {
	tb.Helper()
	base := URL(tb)
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	exec(tb, base, `CREATE SCHEMA `+name)
	tb.Cleanup(func() { exec(tb, base, `DROP SCHEMA `+name+` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs sql on the database at u.
func Exec(tb testing.TB, u, sql string, args ...any) {
	tb.Helper()
	exec(tb, u, sql, args...)
}

func exec(tb testing.TB, u, sql string, args ...any) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}
