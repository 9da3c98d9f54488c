package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/atomicfile"
)

// backup writes a consistent snapshot to FILE: straight from the database
// when nobody holds it, else from the running server's /admin/backup.
func backup(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("backup", stderr)
	server := serverFlag(fs, "back it up")
	file, cfg, err := oneFileArg(fs, args, environ, "output FILE")
	if err != nil {
		return err
	}
	_, driver := cfg.database()
	n, err := backupDirect(ctx, cfg, file)
	if errors.Is(err, store.ErrLocked) {
		n, err = backupFromServer(ctx, server(cfg), file, driver.verifyBackup)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stderr, "backup: wrote %d bytes to %s (checked: a whole, consistent database)\n", n, file)
	return nil
}

// backupDirect snapshots a database no server holds.
func backupDirect(ctx context.Context, cfg config, out string) (int64, error) {
	st, err := openStore(ctx, cfg, openOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	snap, ok := st.(store.Snapshotter)
	if !ok {
		return 0, fmt.Errorf("%s cannot be backed up by taskbolt: use the database's own backup tool, or `taskbolt export`", cfg.describeDatabase())
	}
	var n int64
	err = atomicfile.Write(out, func(w io.Writer) error {
		n, err = snap.Snapshot(ctx, w)
		return err
	}, nil)
	return n, err
}

// backupFromServer downloads a snapshot and replaces out only once verify
// says it is a whole, consistent database: a stream cut short must never
// pass for a backup, nor replace a good one.
func backupFromServer(ctx context.Context, admin adminClient, out string, verify func(string) error) (int64, error) {
	resp, err := admin.do(ctx, http.MethodGet, "/admin/backup", "", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n int64
	err = atomicfile.Write(out, func(w io.Writer) error {
		n, err = io.Copy(w, resp.Body)
		if err != nil {
			return fmt.Errorf("the snapshot stream broke after %d bytes (%w); %s was left as it was", n, err, out)
		}
		return nil
	}, func(tmp string) error {
		if verify == nil {
			return nil
		}
		if err := verify(tmp); err != nil {
			return fmt.Errorf("the %d bytes received are not a whole, consistent database (%w); %s was left as it was", n, err, out)
		}
		return nil
	})
	return n, err
}

func restore(_ context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("restore", stderr)
	force := fs.Bool("force", false, "replace an existing database")
	file, cfg, err := oneFileArg(fs, args, environ, "backup FILE")
	if err != nil {
		return err
	}
	u, driver := cfg.database()
	if driver.restore == nil {
		return fmt.Errorf("restore: %s is restored with the database's own tools, or with `taskbolt import`", cfg.describeDatabase())
	}
	if err := driver.restore(u, file, *force); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stderr, "restore: %s now holds the data of %s\n", cfg.describeDatabase(), file)
	return nil
}
