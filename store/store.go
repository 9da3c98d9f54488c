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
	MaxTagLen         = 50
	MaxTags           = 20
	MaxSearchLen      = 200
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
	// ErrPreconditionFailed means a conditional change (Patch.IfVersion,
	// DeleteIf) found the task at another version: nothing was changed.
	ErrPreconditionFailed = errors.New("store: the task has changed")
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
	Priority    Priority
	Tags        []string   // never nil on a task a store returns; see CleanTags
	DueDate     *time.Time // UTC, microsecond precision; nil is JSON null
	Recurrence  Recurrence
	RemindAt    *time.Time // UTC, microsecond precision; nil is JSON null
	CreatedAt   time.Time  // UTC, microsecond precision
	UpdatedAt   time.Time  // UTC, microsecond precision, strictly increasing per change
	// Spawned records that this recurring task has created its next
	// occurrence: a task does so at most once in its life. Not served.
	Spawned bool
	// NextOccurrence is set only on the task Update returns, when that update
	// completed a recurring task and so created its next occurrence (this id,
	// in the same transaction). It is not stored.
	NextOccurrence uint64
}

// NewTask is the input of Store.Create, already validated and normalized
// (see CleanTitle, CleanTags, ParseDateTime).
type NewTask struct {
	// Idem, when set, records the outcome under an Idempotency-Key.
	Idem        *Idempotency
	Title       string
	Description *string
	Priority    Priority
	Tags        []string
	DueDate     *time.Time
	Recurrence  Recurrence
	RemindAt    *time.Time
}

// Patch is a partial update. A nil pointer leaves the field as it is; a
// nullable field is applied only when its Set flag is true, so a patch can
// both keep it (false) and set it to null (true, nil).
type Patch struct {
	Title          *string
	Description    *string
	SetDescription bool
	Completed      *bool
	// ToggleCompleted flips Completed atomically inside the write
	// transaction. It is ignored when Completed is set.
	ToggleCompleted bool
	Priority        *Priority
	Tags            *[]string
	DueDate         *time.Time
	SetDueDate      bool
	Recurrence      *Recurrence
	RemindAt        *time.Time
	SetRemindAt     bool
	// IfVersion, when not 0, makes the change only if the task is at this
	// Version, checked inside the write; otherwise ErrPreconditionFailed.
	IfVersion int64
	// Idem, when set, records the outcome under an Idempotency-Key.
	Idem *Idempotency
}

// Version is the task's version, its ETag: updated_at in microseconds,
// which moves forward on every change.
func (t Task) Version() int64 { return t.UpdatedAt.UnixMicro() }

// TagCount is one entry of a user's tags: the name as first written, and how
// many of the user's tasks (completed ones too) carry it.
type TagCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Store keeps tasks per owner. Every method takes the owner explicitly, and an
// implementation must never read or write another owner's tasks on its behalf:
// a task of another owner is ErrNotFound.
//
// Implementations are safe for concurrent use.
//
// Guarantees every implementation keeps (store/storetest checks them):
//   - ids are per owner, from 1, without gaps under concurrent creates, and
//     never reused after a delete (Reset starts them at 1 again);
//   - timestamps are UTC at microsecond precision; updated_at moves forward by
//     at least a microsecond on every change; created_at never changes;
//   - titles sort by Unicode code point (PostgreSQL: COLLATE "C");
//   - completing a recurring task that has not spawned creates its next
//     occurrence (Next) in the same transaction.
type Store interface {
	Create(ctx context.Context, owner string, in NewTask) (Task, error)
	Get(ctx context.Context, owner string, id uint64) (Task, error)
	// List returns one page of the owner's tasks matching q and the number of
	// matching tasks before paging.
	List(ctx context.Context, owner string, q ListQuery) (tasks []Task, total int, err error)
	// Update applies p. When it completes a recurring task that has not
	// spawned yet, the same transaction creates the next occurrence and the
	// returned task's NextOccurrence is its id.
	Update(ctx context.Context, owner string, id uint64, p Patch) (Task, error)
	Delete(ctx context.Context, owner string, id uint64) error
	// Tags lists every tag on the owner's tasks with its count, ordered by
	// name without regard to case.
	Tags(ctx context.Context, owner string) ([]TagCount, error)
	// Ping reports whether the store can serve reads.
	Ping(ctx context.Context) error
	// Close releases the store. Call it only after all requests have finished.
	Close() error
}

// JSONLister is an optional capability: a store that keeps tasks in their wire
// encoding can append one page as a JSON array without decoding each task.
// The result must be byte-for-byte what encoding the List result with
// AppendTasksJSON would give. seq is the owner's change sequence as of the
// page (Changelog.Seq in the same read), 0 for a store without a change log:
// a list's ETag needs it, and one read is cheaper than two.
type JSONLister interface {
	ListJSON(ctx context.Context, owner string, q ListQuery, dst []byte) (out []byte, total int, seq uint64, err error)
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
// above lastID and every loaded id. Load returns the tasks as stored; it may
// fill them in (ids, owner, times) in the slice it is given.
type Loader interface {
	Load(ctx context.Context, owner string, lastID uint64, tasks []Task) ([]Task, error)
}

// ConditionalDeleter is a store that can delete a task only if it is at a
// version (If-Match on DELETE): ErrPreconditionFailed otherwise.
type ConditionalDeleter interface {
	DeleteIf(ctx context.Context, owner string, id uint64, version int64) error
}

// Resetter removes every task of every owner (fixture mode).
type Resetter interface {
	Reset(ctx context.Context) error
}

// Sizer reports how many bytes the store's data takes (a metrics gauge).
type Sizer interface {
	Size(ctx context.Context) (int64, error)
}

// Checker verifies that a store's derived data (indexes, counts) agrees with
// its tasks: `taskbolt check`, and the tests after every step.
type Checker interface {
	Check(ctx context.Context) error
}

// PoolStats is a snapshot of a database server's connection pool.
type PoolStats struct {
	Max, Total, Idle, InUse int     // connections: the limit, open, idle, in use
	Acquires, EmptyAcquires int64   // requests for a connection, and those that had to wait
	AcquireWait             float64 // seconds waited for connections, in all
}

// Pooler is an optional capability of a store on a database server: its
// connection pool, for metrics.
type Pooler interface {
	PoolStats() PoolStats
}
