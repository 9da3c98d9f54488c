package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema's migrations, applied in order of their number. A migration is
// never edited once released: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key replicas take to migrate one at a
// time: the first to get it migrates, the others then find nothing to do.
const migrationLock int64 = 0x7461736b626f6c74 // "taskbolt"

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		name := path.Base(f)
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: the name must start with its number", name)
		}
		b, err := migrationFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

// SchemaVersion is the newest schema this binary knows.
func SchemaVersion() int {
	m, err := migrations()
	if err != nil || len(m) == 0 {
		return 0
	}
	return m[len(m)-1].version
}

// migrate brings the schema up to date under the advisory lock, each
// migration in its own transaction with its version row, and refuses a
// database that a newer taskbolt has migrated past what this one knows.
// It returns the versions it applied.
func migrate(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	all, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	// A session lock on this connection; replicas starting together wait here.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return nil, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS taskbolt_schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, err
	}
	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM taskbolt_schema_migrations").Scan(&current); err != nil {
		return nil, err
	}
	if current > SchemaVersion() {
		return nil, tooNew(current)
	}
	var applied []int
	for _, m := range all {
		if m.version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO taskbolt_schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}

// checkVersion is the read-only open's check: the schema must exist and be
// the one this taskbolt knows (serve migrates; readers never do).
func checkVersion(ctx context.Context, pool *pgxpool.Pool) error {
	var current int
	err := pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM taskbolt_schema_migrations").Scan(&current)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		return errors.New("postgres: the database has no taskbolt schema yet (`taskbolt serve` creates it)")
	case err != nil:
		return fmt.Errorf("postgres: %w", classify(ctx, err))
	case current > SchemaVersion():
		return tooNew(current)
	case current < SchemaVersion():
		return fmt.Errorf("postgres: the database is at schema version %d; `taskbolt serve` migrates it to %d", current, SchemaVersion())
	}
	return nil
}

// tooNew refuses a database a newer taskbolt has migrated.
func tooNew(current int) error {
	return fmt.Errorf("%w: the database is at schema version %d, and this taskbolt knows only up to %d: run a newer taskbolt (or restore a backup made for this version)",
		ErrSchemaTooNew, current, SchemaVersion())
}
