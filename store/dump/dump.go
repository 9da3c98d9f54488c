// Package dump is taskbolt's export format: one JSON document with every
// user's tasks, ids and timestamps included, so that an import restores them
// exactly and importing twice changes nothing.
//
//	{"format": "taskbolt-export", "version": 1, "users": [
//	  {"user_id": "…", "last_id": 3, "tasks": [{"id": 1, "title": "…", …}]}]}
//
// A seed file for fixtures is the same document with less in it: only
// user_id and each task's title are required; missing ids and timestamps are
// assigned on import.
package dump

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"taskbolt/store"
)

const (
	Format  = "taskbolt-export"
	Version = 1
)

// User is one user's part of a document.
type User struct {
	UserID string `json:"user_id"`
	LastID uint64 `json:"last_id,omitempty"`
	Tasks  []Task `json:"tasks"`
}

// Task is a task as exported; on import only Title is required.
type Task struct {
	ID          uint64  `json:"id,omitempty"`
	Title       string  `json:"title"`
	Description *string `json:"description"`
	Completed   bool    `json:"completed"`
	CreatedAt   string  `json:"created_at,omitempty"`
	UpdatedAt   string  `json:"updated_at,omitempty"`
}

// Document is a whole export or seed file.
type Document struct {
	Format  string `json:"format,omitempty"`
	Version int    `json:"version,omitempty"`
	Users   []User `json:"users"`
}

// Export writes every user's tasks (or only user's, when not empty) to w as
// one document, streaming user by user, and reports the running task count
// to progress. It returns the number of tasks written.
func Export(ctx context.Context, d store.Dumper, w io.Writer, user string, progress func(tasks int)) (int, error) {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `{"format":%q,"version":%d,"users":[`, Format, Version)
	n, users := 0, 0
	err := d.Dump(ctx, func(owner string, lastID uint64, tasks []store.Task) error {
		if user != "" && owner != user {
			return nil
		}
		u := User{UserID: owner, LastID: lastID, Tasks: make([]Task, len(tasks))}
		for i, t := range tasks {
			u.Tasks[i] = Task{ID: t.ID, Title: t.Title, Description: t.Description, Completed: t.Completed,
				CreatedAt: t.CreatedAt.UTC().Format(store.TimeLayout), UpdatedAt: t.UpdatedAt.UTC().Format(store.TimeLayout)}
		}
		b, err := json.Marshal(u)
		if err != nil {
			return err
		}
		if users > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n")
		bw.Write(b)
		users++
		n += len(tasks)
		if progress != nil {
			progress(n)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	bw.WriteString("\n]}\n")
	return n, bw.Flush()
}

// Read parses and validates a document: every problem is reported with
// where it is, and nothing is loaded from a document with problems.
func Read(r io.Reader) (*Document, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a taskbolt export or seed file: %w", err)
	}
	if doc.Format != "" && doc.Format != Format {
		return nil, fmt.Errorf("format %q, want %q", doc.Format, Format)
	}
	if doc.Version > Version {
		return nil, fmt.Errorf("version %d is newer than this taskbolt reads (%d)", doc.Version, Version)
	}
	var errs []error
	for i, u := range doc.Users {
		if !store.ValidUserID(u.UserID) {
			errs = append(errs, fmt.Errorf("users[%d]: user_id %q is not 1-128 visible ASCII characters without '/'", i, u.UserID))
		}
		for j, t := range u.Tasks {
			if _, err := t.toStore(); err != nil {
				errs = append(errs, fmt.Errorf("users[%d].tasks[%d]: %w", i, j, err))
			}
		}
	}
	return &doc, errors.Join(errs...)
}

func (t Task) toStore() (store.Task, error) {
	title := strings.TrimSpace(t.Title)
	if n := utf8.RuneCountInString(title); n < 1 || n > store.MaxTitleLen {
		return store.Task{}, fmt.Errorf("title must be 1-%d characters", store.MaxTitleLen)
	}
	if t.Description != nil && utf8.RuneCountInString(*t.Description) > store.MaxDescriptionLen {
		return store.Task{}, fmt.Errorf("description longer than %d characters", store.MaxDescriptionLen)
	}
	out := store.Task{ID: t.ID, Title: title, Description: t.Description, Completed: t.Completed}
	for _, ts := range []struct {
		raw string
		dst *time.Time
	}{{t.CreatedAt, &out.CreatedAt}, {t.UpdatedAt, &out.UpdatedAt}} {
		if ts.raw == "" {
			continue
		}
		parsed, err := time.Parse(time.RFC3339Nano, ts.raw)
		if err != nil {
			return store.Task{}, fmt.Errorf("timestamp %q is not RFC 3339", ts.raw)
		}
		*ts.dst = parsed
	}
	return out, nil
}

// Import loads a validated document, user by user, reporting the running
// task count to progress. It returns the number of tasks loaded.
func Import(ctx context.Context, l store.Loader, doc *Document, progress func(tasks int)) (int, error) {
	n := 0
	for _, u := range doc.Users {
		tasks := make([]store.Task, len(u.Tasks))
		for i, t := range u.Tasks {
			var err error
			if tasks[i], err = t.toStore(); err != nil {
				return n, err
			}
		}
		if _, err := l.Load(ctx, u.UserID, u.LastID, tasks); err != nil {
			return n, fmt.Errorf("user %q: %w", u.UserID, err)
		}
		n += len(tasks)
		if progress != nil {
			progress(n)
		}
	}
	return n, nil
}
