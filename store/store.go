// Package store defines the task domain: the Task type, the Store interface every
// backend implements, list queries, validation limits and sentinel errors.
//
// It imports only the standard library. Backends live in subpackages (store/bolt)
// and are proven by the shared conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Limits of the contract, in Unicode code points.
const (
	MaxTitleLen       = 200
	MaxDescriptionLen = 1000
	MaxUserIDLen      = 128
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	// ErrNotFound means the task does not exist for this owner. A task that
	// exists for another owner is, by design, the same answer.
	ErrNotFound = errors.New("store: task not found")
	// ErrInvalidOwner means the owner id is not a valid user id. It is
	// checked before any bucket is touched.
	ErrInvalidOwner = errors.New("store: invalid owner id")
	// ErrLocked means another process holds the database.
	ErrLocked = errors.New("database is locked by another process")
	// ErrUnavailable means the backend cannot serve the request right now
	// (closed, out of space, read-only); the data already stored is intact.
	ErrUnavailable = errors.New("store: unavailable")
)

// Task is one to-do item as the API serves it.
type Task struct {
	ID          uint64
	UserID      string
	Title       string
	Description *string // nil is JSON null
	Completed   bool
	CreatedAt   time.Time // UTC, microsecond precision
	UpdatedAt   time.Time // UTC, microsecond precision, strictly increasing per change
}

// NewTask is the input of Store.Create. Title is already trimmed and validated.
type NewTask struct {
	Title       string
	Description *string
}

// Patch is a partial update. A nil pointer leaves the field as it is.
type Patch struct {
	Title *string
	// Description is applied only when SetDescription is true, so a patch can
	// both keep the description (false) and set it to null (true, nil).
	Description    *string
	SetDescription bool
	Completed      *bool
	// ToggleCompleted flips Completed atomically inside the write
	// transaction. It is ignored when Completed is set.
	ToggleCompleted bool
}

// Store keeps tasks per owner. Every method takes the owner explicitly, and an
// implementation must never read or write another owner's tasks on its behalf:
// a task of another owner is ErrNotFound.
//
// Implementations are safe for concurrent use.
type Store interface {
	Create(ctx context.Context, owner string, in NewTask) (Task, error)
	Get(ctx context.Context, owner string, id uint64) (Task, error)
	// List returns one page of the owner's tasks matching q and the number of
	// matching tasks before paging.
	List(ctx context.Context, owner string, q ListQuery) (tasks []Task, total int, err error)
	Update(ctx context.Context, owner string, id uint64, p Patch) (Task, error)
	Delete(ctx context.Context, owner string, id uint64) error
	// Ping reports whether the store can serve reads.
	Ping(ctx context.Context) error
	// Close releases the store. Call it only after all requests have finished.
	Close() error
}

// JSONLister is an optional capability: a store that keeps tasks in their wire
// encoding can append one page as a JSON array without decoding each task.
// The result must be byte-for-byte what encoding the List result with
// AppendTasksJSON would give.
type JSONLister interface {
	ListJSON(ctx context.Context, owner string, q ListQuery, dst []byte) (out []byte, total int, err error)
}

// ValidUserID reports whether id is 1–128 bytes of visible ASCII (0x21–0x7E)
// other than '/'. Comparison of user ids is always byte for byte; nothing is
// folded, trimmed or unescaped.
func ValidUserID(id string) bool {
	if len(id) == 0 || len(id) > MaxUserIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < 0x21 || c > 0x7e || c == '/' {
			return false
		}
	}
	return true
}

// Optional capabilities, found by type assertion. A store that lacks one
// makes the feature that needs it unavailable with a clear message.

// Snapshotter writes a consistent copy of the whole store while it serves.
type Snapshotter interface {
	Snapshot(ctx context.Context, w io.Writer) (int64, error)
}

// Dumper visits every owner with the last id handed out and all its tasks
// in id order, for exports. fn must not keep tasks beyond the call.
type Dumper interface {
	Dump(ctx context.Context, fn func(owner string, lastID uint64, tasks []Task) error) error
}

// Loader puts tasks back as they were, ids and timestamps included; a task
// with the same id is replaced, so loading twice changes nothing. A task
// with ID 0 gets the next id. The owner's next id is never lowered, and ends
// above lastID and every loaded id.
type Loader interface {
	Load(ctx context.Context, owner string, lastID uint64, tasks []Task) ([]Task, error)
}

// Resetter removes every task of every owner (fixture mode).
type Resetter interface {
	Reset(ctx context.Context) error
}

// Sizer reports how many bytes the store's data takes (a metrics gauge).
type Sizer interface {
	Size(ctx context.Context) (int64, error)
}
