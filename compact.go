package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

// compact rewrites the bbolt file into a fresh, dense one: in place when no
// server holds it, or, with --url, from the running server's snapshot into
// --out (the server's own file cannot be replaced under it).
func compact(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("compact", stderr)
	out := fs.String("out", "", "write the compacted database to this file instead of replacing the database")
	server := serverFlag(fs, "compact it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{errors.New("compact: takes no arguments (the database is DATABASE_URL's)")}
	}
	cfg, _, err := loadConfig(environ)
	if err != nil {
		return err
	}
	u, _ := cfg.database()
	if u.Scheme != "bolt" {
		return fmt.Errorf("compact: %s is compacted by the database itself (PostgreSQL: VACUUM FULL, or autovacuum)", cfg.describeDatabase())
	}
	src := boltPath(u)
	before, after, err := bolt.Compact(src, *out, bolt.Options{})
	if errors.Is(err, store.ErrLocked) {
		if *out == "" {
			return fmt.Errorf("compact: %s is held by a running server: stop it, or compact its snapshot with --out FILE (then stop the server and `taskbolt restore --force FILE`)", src)
		}
		before, after, err = compactFromServer(ctx, server(cfg), *out)
	}
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	target := src
	if *out != "" {
		target = *out
	}
	fmt.Fprintf(stderr, "compact: %s: %d bytes before, %d after (%.0f%%); checked: a whole, consistent database\n",
		target, before, after, 100*float64(after)/float64(max(before, 1)))
	return nil
}

// compactFromServer fetches the running server's snapshot and compacts it
// into out. before is the snapshot's size.
func compactFromServer(ctx context.Context, admin adminClient, out string) (before, after int64, err error) {
	dir, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".snapshot-*")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	snapshot := filepath.Join(dir, "snapshot.db")
	if _, err := backupFromServer(ctx, admin, snapshot, bolt.Verify); err != nil {
		return 0, 0, err
	}
	return bolt.Compact(snapshot, out, bolt.Options{})
}
