package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskbolt/taskbolt/store/dump"
)

// readFastAPI reads the `task` table of a Phase II FastAPI/SQLModel backend
// (id, user_id, title, description, completed, created_at, updated_at) as a
// taskbolt export: each user's tasks keep their ids (FastAPI's ids are
// global, so they are unique per user too) and timestamps, naive ones taken
// as UTC. The document is validated like an export file: nothing is loaded
// from a table with rows taskbolt would refuse.
func readFastAPI(ctx context.Context, rawURL, table string, progress func(int)) (*dump.Document, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("--from must be a postgres:// or postgresql:// URL")
	}
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", u.Redacted(), errors.Unwrap(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name := pgx.Identifier(strings.Split(table, ".")).Sanitize()
	rows, err := conn.Query(ctx, `SELECT id, user_id::text, title, description, completed, created_at, updated_at
		FROM `+name+` ORDER BY user_id, id`)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", table, u.Redacted(), err)
	}
	defer rows.Close()
	doc := &dump.Document{Format: dump.Format, Version: dump.Version}
	n := 0
	for rows.Next() {
		var (
			id               int64
			user, title      string
			description      *string
			completed        bool
			created, updated *time.Time
		)
		if err := rows.Scan(&id, &user, &title, &description, &completed, &created, &updated); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		if len(doc.Users) == 0 || doc.Users[len(doc.Users)-1].UserID != user {
			doc.Users = append(doc.Users, dump.User{UserID: user})
		}
		u := &doc.Users[len(doc.Users)-1]
		if id < 1 {
			return nil, fmt.Errorf("read %s: user %q has a task with id %d; ids start at 1", table, user, id)
		}
		u.Tasks = append(u.Tasks, dump.Task{ID: uint64(id), Title: title, Description: description, Completed: completed,
			CreatedAt: naiveUTC(created), UpdatedAt: naiveUTC(updated)})
		u.LastID = max(u.LastID, uint64(id))
		n++
		progress(n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	var errs []error
	for i, u := range doc.Users {
		if err := u.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("user %q (users[%d]): %w", u.UserID, i, err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s has rows taskbolt refuses; nothing was imported:\n%w", table, errors.Join(errs...))
	}
	return doc, nil
}

// naiveUTC formats a timestamp as an export does. A `timestamp without time
// zone` (SQLModel's datetime) arrives as its wall clock in UTC: that is the
// rule, naive timestamps are UTC. Empty: the import's now.
func naiveUTC(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}
