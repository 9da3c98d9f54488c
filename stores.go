package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
	"github.com/taskbolt/taskbolt/store/postgres"
)

// storeDriver is what package main knows of one kind of store. Only open is
// required; a nil capability makes the command that needs it say so.
type storeDriver struct {
	// open opens the store u names.
	open func(ctx context.Context, u *url.URL, o openOptions) (store.Store, error)
	// describe is u as the start-up log shows it; it must never show a
	// password. Default u.Redacted().
	describe func(u *url.URL) string
	// verifyBackup checks that a backup file is a whole, consistent database.
	verifyBackup func(path string) error
	// restore replaces the database u names with a backup file.
	restore func(u *url.URL, backup string, force bool) error
}

// openOptions say how a command opens its store.
type openOptions struct {
	// ReadOnly is for commands that only read (backup, export): they share
	// the store with other readers and never create or migrate it.
	ReadOnly bool
	Logger   *slog.Logger // for a migration's report; nil: none
	// Pool settings of a database server (DATABASE_POOL_SIZE, …).
	PoolSize                         int
	ConnectTimeout, StatementTimeout time.Duration
}

// stores are the store implementations, by DATABASE_URL scheme. Adding a
// store is one entry here plus its package.
var stores = map[string]storeDriver{
	"bolt": {
		open: func(_ context.Context, u *url.URL, o openOptions) (store.Store, error) {
			opt := bolt.Options{ReadOnly: o.ReadOnly, Logger: o.Logger}
			if o.ReadOnly {
				opt.LockTimeout = 200 * time.Millisecond // a server holds it: ask the server instead
			}
			return bolt.Open(boltPath(u), opt)
		},
		describe:     boltPath,
		verifyBackup: bolt.Verify,
		restore: func(u *url.URL, backup string, force bool) error {
			return bolt.Restore(backup, boltPath(u), force)
		},
	},
	"postgres":   postgresDriver,
	"postgresql": postgresDriver,
}

// postgresDriver opens PostgreSQL (many replicas over one database). It has
// no file backup: back it up with pg_dump, or move it with export/import.
var postgresDriver = storeDriver{
	open: func(ctx context.Context, u *url.URL, o openOptions) (store.Store, error) {
		return postgres.Open(ctx, u.String(), postgres.Options{ReadOnly: o.ReadOnly, Logger: o.Logger,
			PoolSize: o.PoolSize, ConnectTimeout: o.ConnectTimeout, StatementTimeout: o.StatementTimeout})
	},
}

// parseDatabaseURL parses DATABASE_URL. A plain path, or bolt://PATH, is a
// bolt file: its path is taken as written, never URL-decoded.
func parseDatabaseURL(raw string) (*url.URL, error) {
	scheme, rest, found := strings.Cut(raw, "://")
	if !found {
		scheme, rest = "bolt", raw
	}
	scheme = strings.ToLower(scheme)
	if _, ok := stores[scheme]; !ok {
		return nil, fmt.Errorf("DATABASE_URL scheme %q is not supported; known: %s", scheme, strings.Join(slices.Sorted(maps.Keys(stores)), ", "))
	}
	if scheme == "bolt" {
		if rest == "" {
			return nil, errors.New("DATABASE_URL names no file")
		}
		return &url.URL{Scheme: "bolt", Path: rest}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which may hold a password.
		return nil, fmt.Errorf("DATABASE_URL is not a valid %s URL", scheme)
	}
	u.Scheme = scheme
	return u, nil
}

// boltPath is the file a bolt URL names.
func boltPath(u *url.URL) string { return u.Host + u.Path }

// database is DATABASE_URL parsed (validated by loadConfig) with its driver.
func (c config) database() (*url.URL, storeDriver) {
	u, err := parseDatabaseURL(c.DatabaseURL)
	if err != nil {
		panic("DATABASE_URL not validated: " + err.Error())
	}
	return u, stores[u.Scheme]
}

// describeDatabase is DATABASE_URL as logs and messages show it: never a password.
func (c config) describeDatabase() string {
	u, d := c.database()
	if d.describe != nil {
		return d.describe(u)
	}
	return u.Redacted()
}

// openStore opens the store DATABASE_URL names.
func openStore(ctx context.Context, cfg config, o openOptions) (store.Store, error) {
	u, d := cfg.database()
	o.PoolSize, o.ConnectTimeout, o.StatementTimeout = cfg.DatabasePoolSize, cfg.DatabaseConnectTimeout, cfg.DatabaseStatementTimeout
	return d.open(ctx, u, o)
}
