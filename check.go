package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

// check verifies that the database's indexes and counts agree with its
// tasks, on a stopped server's database. It opens the database read-only:
// it never creates one, nor changes one.
func check(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("check", stderr)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadConfig(environ)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, openOptions{ReadOnly: true})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("check: %w: stop the server first", err)
	}
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	defer st.Close()
	c, ok := st.(store.Checker)
	if !ok {
		return fmt.Errorf("check: %s has no derived data for taskbolt to check", cfg.describeDatabase())
	}
	start := time.Now()
	if err := c.Check(ctx); err != nil {
		return fmt.Errorf("check: %s is NOT consistent: %w", cfg.describeDatabase(), err)
	}
	fmt.Fprintf(stdout, "check: %s is consistent: every index and count agrees with the tasks (%v)\n", cfg.describeDatabase(), time.Since(start).Round(time.Millisecond))
	return nil
}
