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
	"maps"
	"slices"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

const (
	Format = "taskbolt-export"
	// Version 2 added priority, tags, due_date, recurrence, remind_at and
	// spawned; a version-1 document reads as tasks without them. Version 3
	// added each user's conversations with the chat assistant.
	Version = 3
)

// User is one user's part of a document.
type User struct {
	UserID string `json:"user_id"`
	LastID uint64 `json:"last_id,omitempty"`
	Tasks  []Task `json:"tasks"`
	// Conversations are the user's chats, each with its messages, ids and
	// times as stored.
	Conversations []store.Conversation `json:"conversations,omitempty"`
}

// Task is a task as exported; on import only Title is required.
type Task struct {
	ID          uint64   `json:"id,omitempty"`
	Title       string   `json:"title"`
	Description *string  `json:"description"`
	Completed   bool     `json:"completed"`
	Priority    string   `json:"priority,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	DueDate     *string  `json:"due_date,omitempty"`
	Recurrence  *string  `json:"recurrence,omitempty"`
	RemindAt    *string  `json:"remind_at,omitempty"`
	// Spawned: this recurring task has created its next occurrence already.
	Spawned   bool   `json:"spawned,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

// fromStore is t as exported.
func fromStore(t *store.Task) Task {
	out := Task{ID: t.ID, Title: t.Title, Description: t.Description, Completed: t.Completed, Tags: t.Tags, Spawned: t.Spawned,
		DueDate: formatTime(t.DueDate), RemindAt: formatTime(t.RemindAt),
		CreatedAt: t.CreatedAt.UTC().Format(store.TimeLayout), UpdatedAt: t.UpdatedAt.UTC().Format(store.TimeLayout)}
	if t.Priority != store.PriorityNone {
		out.Priority = t.Priority.String()
	}
	if t.Recurrence != store.RecurNone {
		r := string(t.Recurrence)
		out.Recurrence = &r
	}
	return out
}

func formatTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(store.TimeLayout)
	return &s
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
//
// A store that keeps conversations (store.ChatDumper) has them read first
// and written with their user's tasks; a user who has only chatted is
// written after the others, with no tasks.
func Export(ctx context.Context, d store.Dumper, w io.Writer, user string, progress func(tasks int)) (int, error) {
	chats := map[string][]store.Conversation{}
	if cd, ok := d.(store.ChatDumper); ok {
		err := cd.DumpChats(ctx, func(owner string, convs []store.Conversation) error {
			if user == "" || owner == user {
				chats[owner] = slices.Clone(convs)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	dw := newWriter(w, progress)
	err := d.Dump(ctx, func(owner string, lastID uint64, tasks []store.Task) error {
		if user != "" && owner != user {
			return nil
		}
		u := User{UserID: owner, LastID: lastID, Tasks: make([]Task, len(tasks)), Conversations: chats[owner]}
		delete(chats, owner)
		for i, t := range tasks {
			u.Tasks[i] = fromStore(&t)
		}
		return dw.user(u)
	})
	if err != nil {
		return dw.tasks, err
	}
	for _, owner := range slices.Sorted(maps.Keys(chats)) {
		if err := dw.user(User{UserID: owner, Tasks: []Task{}, Conversations: chats[owner]}); err != nil {
			return dw.tasks, err
		}
	}
	return dw.tasks, dw.close()
}

// Copy reads a document from r user by user and writes it to w as Export
// would have, reporting the running task count to progress: how an export
// streamed from a running server is received. It fails, having written only
// whole users, on a document that is cut short or not an export, so a
// truncated stream never passes for a whole one. It holds one user at a time.
func Copy(w io.Writer, r io.Reader, progress func(tasks int)) (int, error) {
	dw := newWriter(w, progress)
	err := decode(r, dw.user)
	if err != nil {
		return dw.tasks, fmt.Errorf("not a whole taskbolt export: %w", err)
	}
	return dw.tasks, dw.close()
}

// decode reads a document's users one at a time.
func decode(r io.Reader, fn func(User) error) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	sawUsers := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		switch key {
		case "format":
			var f string
			if err := dec.Decode(&f); err != nil || f != Format {
				return fmt.Errorf("format %q, want %q", f, Format)
			}
		case "version":
			var v int
			if err := dec.Decode(&v); err != nil || v > Version {
				return fmt.Errorf("version %d is newer than this taskbolt reads (%d)", v, Version)
			}
		case "users":
			sawUsers = true
			if err := expectDelim(dec, '['); err != nil {
				return err
			}
			for dec.More() {
				var u User
				if err := dec.Decode(&u); err != nil {
					return err
				}
				if err := fn(u); err != nil {
					return err
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown field %q", key)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if !sawUsers {
		return errors.New("no users field")
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("want %q, found %v", want, tok)
	}
	return nil
}

// writer writes a document user by user.
type writer struct {
	bw       *bufio.Writer
	progress func(int)
	users    int
	tasks    int
}

func newWriter(w io.Writer, progress func(int)) *writer {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `{"format":%q,"version":%d,"users":[`, Format, Version)
	return &writer{bw: bw, progress: progress}
}

func (w *writer) user(u User) error {
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if w.users > 0 {
		w.bw.WriteByte(',')
	}
	w.bw.WriteString("\n")
	if _, err := w.bw.Write(b); err != nil {
		return err
	}
	w.users++
	w.tasks += len(u.Tasks)
	if w.progress != nil {
		w.progress(w.tasks)
	}
	return nil
}

func (w *writer) close() error {
	w.bw.WriteString("\n]}\n")
	return w.bw.Flush()
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
		if err := u.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("users[%d]: %w", i, err))
		}
	}
	return &doc, errors.Join(errs...)
}

// Validate reports every problem of one user's part, with where it is.
func (u User) Validate() error {
	var errs []error
	if !store.ValidUserID(u.UserID) {
		errs = append(errs, fmt.Errorf("user_id %q is not 1-128 visible ASCII characters without '/'", u.UserID))
	}
	for j, c := range u.Conversations {
		if err := validConversation(c); err != nil {
			errs = append(errs, fmt.Errorf("conversations[%d]: %w", j, err))
		}
	}
	for j, t := range u.Tasks {
		if _, err := t.toStore(); err != nil {
			errs = append(errs, fmt.Errorf("tasks[%d]: %w", j, err))
		}
	}
	return errors.Join(errs...)
}

// toStore checks t with the task rules of package store and converts it.
func (t Task) toStore() (store.Task, error) {
	var errs []error
	bad := func(field string, p *store.Problem) { errs = append(errs, fmt.Errorf("%s: %s", field, p.Msg)) }
	title, p := store.CleanTitle(t.Title)
	if p != nil {
		bad("title", p)
	}
	if t.Description != nil {
		if p := store.CheckDescription(*t.Description); p != nil {
			bad("description", p)
		}
	}
	out := store.Task{ID: t.ID, Title: title, Description: t.Description, Completed: t.Completed, Spawned: t.Spawned, Tags: []string{}}
	if t.Priority != "" {
		if out.Priority, p = store.ParsePriority(t.Priority); p != nil {
			bad("priority", p)
		}
	}
	if t.Recurrence != nil {
		if out.Recurrence, p = store.ParseRecurrence(*t.Recurrence); p != nil {
			bad("recurrence", p)
		}
	}
	for i, tag := range t.Tags {
		clean, p := store.CleanTag(tag)
		if p != nil {
			bad(fmt.Sprintf("tags[%d]", i), p)
		}
		out.Tags = append(out.Tags, clean)
	}
	if out.Tags = store.DedupTags(out.Tags); len(out.Tags) > store.MaxTags {
		bad("tags", store.TooManyTags(len(out.Tags)))
	}
	for _, d := range []struct {
		name string
		raw  *string
		dst  **time.Time
	}{{"due_date", t.DueDate, &out.DueDate}, {"remind_at", t.RemindAt, &out.RemindAt}} {
		if d.raw == nil {
			continue
		}
		parsed, p := store.ParseDateTime(*d.raw)
		if p != nil {
			bad(d.name, p)
			continue
		}
		*d.dst = &parsed
	}
	for _, ts := range []struct {
		raw string
		dst *time.Time
	}{{t.CreatedAt, &out.CreatedAt}, {t.UpdatedAt, &out.UpdatedAt}} {
		if ts.raw == "" {
			continue
		}
		parsed, err := time.Parse(time.RFC3339Nano, ts.raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("timestamp %q is not RFC 3339", ts.raw))
			continue
		}
		*ts.dst = parsed
	}
	return out, errors.Join(errs...)
}

// Import loads a validated document, user by user, reporting the running
// task count to progress. It returns the number of tasks loaded. It takes
// each user's tasks out of doc as it converts them, so that a big user is
// not held twice while it loads.
func Import(ctx context.Context, l store.Loader, doc *Document, progress func(tasks int)) (int, error) {
	n := 0
	for i := range doc.Users {
		u := doc.Users[i]
		doc.Users[i].Tasks = nil
		loaded, err := u.Load(ctx, l)
		n += loaded
		if err != nil {
			return n, err
		}
		if progress != nil {
			progress(n)
		}
	}
	return n, nil
}

// Load loads one validated user's part and returns how many tasks it loaded.
// It lets go of u's tasks once they are converted: of a part that only it
// holds (Import's), the collector may take them while the store loads.
func (u User) Load(ctx context.Context, l store.Loader) (int, error) {
	tasks := make([]store.Task, len(u.Tasks))
	for i, t := range u.Tasks {
		var err error
		if tasks[i], err = t.toStore(); err != nil {
			return 0, err
		}
	}
	u.Tasks = nil
	if _, err := l.Load(ctx, u.UserID, u.LastID, tasks); err != nil {
		return 0, fmt.Errorf("user %q: %w", u.UserID, err)
	}
	if len(u.Conversations) > 0 {
		cl, ok := l.(store.ChatDumper)
		if !ok {
			return len(tasks), fmt.Errorf("user %q: this store keeps no conversations", u.UserID)
		}
		if err := cl.LoadChats(ctx, u.UserID, u.Conversations); err != nil {
			return len(tasks), fmt.Errorf("user %q: conversations: %w", u.UserID, err)
		}
	}
	return len(tasks), nil
}

// validConversation checks what LoadChats needs of an imported conversation.
func validConversation(c store.Conversation) error {
	var errs []error
	if c.ID == 0 {
		errs = append(errs, errors.New("id is required"))
	}
	for i, m := range c.Messages {
		switch {
		case m.ID == 0:
			errs = append(errs, fmt.Errorf("messages[%d]: id is required", i))
		case m.Role != store.RoleUser && m.Role != store.RoleAssistant:
			errs = append(errs, fmt.Errorf("messages[%d]: role %q is neither user nor assistant", i, m.Role))
		case m.ToolCalls != nil && !json.Valid(m.ToolCalls):
			errs = append(errs, fmt.Errorf("messages[%d]: tool_calls is not JSON", i))
		}
	}
	return errors.Join(errs...)
}

// Batches splits a user's part into parts whose tasks take at most maxBytes
// of JSON each (and at least one task each), so that each fits in one request body. Every
// part keeps the user's last_id; loading them in order equals loading u.
func (u User) Batches(maxBytes int) ([]User, error) {
	taskParts, err := chunks(u.Tasks, maxBytes)
	if err != nil {
		return nil, err
	}
	// Conversations follow, in parts of their own: a conversation is
	// loaded whole, so a part holds at least one.
	convParts, err := chunks(u.Conversations, maxBytes)
	if err != nil {
		return nil, err
	}
	var out []User
	for _, p := range taskParts {
		out = append(out, User{UserID: u.UserID, LastID: u.LastID, Tasks: p})
	}
	if len(out) == 0 { // a user without tasks is still a part: its last_id
		out = append(out, User{UserID: u.UserID, LastID: u.LastID, Tasks: []Task{}})
	}
	for _, p := range convParts {
		out = append(out, User{UserID: u.UserID, LastID: u.LastID, Tasks: []Task{}, Conversations: p})
	}
	return out, nil
}

// chunks splits items into runs whose JSON array takes at most maxBytes
// (and at least one item each).
func chunks[T any](items []T, maxBytes int) ([][]T, error) {
	const brackets = 2
	var out [][]T
	var cur []T
	size := brackets
	for _, item := range items {
		b, err := json.Marshal(item)
		if err != nil {
			return nil, err
		}
		if len(cur) > 0 && size+len(b)+1 > maxBytes {
			out, cur, size = append(out, cur), nil, brackets
		}
		cur = append(cur, item)
		size += len(b) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}
