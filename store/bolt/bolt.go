// Package bolt is the embedded store: one bbolt file, one bucket per user.
//
// Layout:
//
//	meta/schema_version             = "1"
//	users/<user_id>                 (its sequence is the user's next task id)
//	users/<user_id>/tasks/<id>      = header + wire JSON (see codec.go)
//
// Task ids come from the user bucket's NextSequence, so they are unique per
// user and never reused after a delete. Every write goes through db.Batch, so
// concurrent requests share one fsync'd commit (group commit) and stay durable.
package bolt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"taskbolt/store"
)

// SchemaVersion is the layout version written to meta/schema_version. Open
// refuses a file with any other version rather than misread it.
const SchemaVersion = 1

var (
	metaBucket    = []byte("meta")
	usersBucket   = []byte("users")
	tasksBucket   = []byte("tasks")
	schemaVersion = []byte("schema_version")
)

// Options tune Open. The zero value is the production default.
type Options struct {
	// LockTimeout is how long Open waits for the file lock held by another
	// process before it fails. Default 1s.
	LockTimeout time.Duration
	// MaxBatchDelay is how long a write waits for others to share its commit.
	// Longer batches more writes per fsync but adds latency. Default 1ms.
	MaxBatchDelay time.Duration
	// Now is the clock; tests replace it. Default time.Now.
	Now func() time.Time
	// ReadOnly opens the file for reading only, sharing it with other
	// readers; it never initialises an empty file.
	ReadOnly bool
}

// Store is a store.Store over a bbolt file.
type Store struct {
	db   *bbolt.DB
	path string
	now  func() time.Time
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.JSONLister = (*Store)(nil)
)

// Open opens or creates the taskbolt database at path. It fails fast with a
// clear error when another process holds the file, when the file is not a
// bbolt database, or when it is a bbolt database that taskbolt did not create;
// in those cases the file is left untouched.
func Open(path string, opt Options) (*Store, error) {
	if opt.LockTimeout <= 0 {
		opt.LockTimeout = time.Second
	}
	if opt.MaxBatchDelay <= 0 {
		opt.MaxBatchDelay = time.Millisecond
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	// Our own Options, never a mutated bbolt.DefaultOptions.
	bopts := &bbolt.Options{Timeout: opt.LockTimeout, FreelistType: bbolt.FreelistMapType, ReadOnly: opt.ReadOnly}
	if opt.ReadOnly {
		if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
			return nil, fmt.Errorf("open %s: an empty file is not a taskbolt database", path)
		}
	}
	if err := checkNotTruncated(path); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(path, 0o600, bopts)
	switch {
	case errors.Is(err, bberrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w", path, store.ErrLocked)
	case errors.Is(err, bberrors.ErrInvalid), errors.Is(err, bberrors.ErrVersionMismatch), errors.Is(err, bberrors.ErrChecksum):
		return nil, fmt.Errorf("open %s: not a taskbolt database: corrupted, or another kind of file (%v); the file was left untouched", path, err)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.MaxBatchDelay = opt.MaxBatchDelay
	s := &Store{db: db, path: path, now: opt.Now}
	if err := s.checkSchema(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkSchema initialises an empty file and verifies an existing one.
func (s *Store) checkSchema() error {
	var empty bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if meta == nil {
			k, _ := tx.Cursor().First()
			empty = k == nil
			return nil
		}
		v := meta.Get(schemaVersion)
		if string(v) != strconv.Itoa(SchemaVersion) {
			return fmt.Errorf("open %s: schema version %q, this taskbolt reads %d", s.path, v, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !empty || s.db.IsReadOnly() {
		return s.db.View(func(tx *bbolt.Tx) error {
			if tx.Bucket(metaBucket) == nil {
				return fmt.Errorf("open %s: a bbolt file that taskbolt did not create (no meta bucket); the file was left untouched", s.path)
			}
			return nil
		})
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(usersBucket); err != nil {
			return err
		}
		return meta.Put(schemaVersion, []byte(strconv.Itoa(SchemaVersion)))
	})
}

// Path is the file the store uses.
func (s *Store) Path() string { return s.path }

// DB exposes the underlying handle for tools that need it (backups, checks).
func (s *Store) DB() *bbolt.DB { return s.db }

// Close closes the file. Call it only after the HTTP server has drained.
func (s *Store) Close() error { return s.db.Close() }

// Ping runs an empty read transaction.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return classify(s.db.View(func(*bbolt.Tx) error { return nil }))
}

// tasksOf returns the owner's tasks bucket, or nil when the owner has none.
// It is the only way this package reaches a user's data, and it is always
// given the authenticated owner.
func tasksOf(tx *bbolt.Tx, owner string) *bbolt.Bucket {
	users := tx.Bucket(usersBucket)
	if users == nil {
		return nil
	}
	u := users.Bucket([]byte(owner))
	if u == nil {
		return nil
	}
	return u.Bucket(tasksBucket)
}

// createUser returns the owner's bucket and its tasks bucket, creating both
// when the owner writes for the first time. Only for write transactions.
func createUser(tx *bbolt.Tx, owner string) (user, tasks *bbolt.Bucket, err error) {
	user, err = tx.Bucket(usersBucket).CreateBucketIfNotExists([]byte(owner))
	if err != nil {
		return nil, nil, err
	}
	tasks, err = user.CreateBucketIfNotExists(tasksBucket)
	return user, tasks, err
}

func checkOwner(ctx context.Context, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidUserID(owner) {
		return store.ErrInvalidOwner
	}
	return nil
}

// clock returns the current time at the precision we store.
func (s *Store) clock() time.Time { return time.UnixMicro(s.now().UnixMicro()).UTC() }

// Create stores a new task with the next id of the owner.
func (s *Store) Create(ctx context.Context, owner string, in store.NewTask) (store.Task, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return store.Task{}, err
	}
	var t store.Task
	// Batch may run this more than once; it sets t on every run.
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		u, tasks, err := createUser(tx, owner)
		if err != nil {
			return err
		}
		id, err := u.NextSequence()
		if err != nil {
			return err
		}
		now := s.clock()
		t = store.Task{ID: id, UserID: owner, Title: in.Title, Description: in.Description,
			CreatedAt: now, UpdatedAt: now}
		return tasks.Put(idKey(id), encodeTask(&t))
	})
	if err != nil {
		return store.Task{}, classify(err)
	}
	return t, nil
}

// Get returns one task of the owner.
func (s *Store) Get(ctx context.Context, owner string, id uint64) (store.Task, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return store.Task{}, err
	}
	var t store.Task
	err := s.db.View(func(tx *bbolt.Tx) error {
		tasks := tasksOf(tx, owner)
		if tasks == nil {
			return store.ErrNotFound
		}
		v := tasks.Get(idKey(id))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		t, err = decodeTask(v)
		return err
	})
	return t, classify(err)
}

// Update applies p to one task of the owner. updated_at always moves forward,
// by at least one microsecond, even when the clock did not.
func (s *Store) Update(ctx context.Context, owner string, id uint64, p store.Patch) (store.Task, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return store.Task{}, err
	}
	var t store.Task
	err := s.writeTask(owner, id, func(tasks *bbolt.Bucket, key, v []byte) error {
		cur, err := decodeTask(v)
		if err != nil {
			return err
		}
		floor := cur.UpdatedAt.Add(time.Microsecond)
		applyPatch(&cur, p)
		cur.UpdatedAt = s.clock()
		if cur.UpdatedAt.Before(floor) {
			cur.UpdatedAt = floor
		}
		t = cur
		return tasks.Put(key, encodeTask(&t))
	})
	if err != nil {
		return store.Task{}, err
	}
	return t, nil
}

// writeTask runs fn in a batched write transaction on the owner's task id,
// with its stored value. A missing task is ErrNotFound, noted in a flag rather
// than returned from the batch function: an error there would make Batch roll
// back and re-run every other write of the batch. fn may run more than once.
func (s *Store) writeTask(owner string, id uint64, fn func(tasks *bbolt.Bucket, key, value []byte) error) error {
	var found bool
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		found = false
		tasks := tasksOf(tx, owner)
		if tasks == nil {
			return nil
		}
		key := idKey(id)
		v := tasks.Get(key)
		if v == nil {
			return nil
		}
		found = true
		return fn(tasks, key, v)
	})
	switch {
	case err != nil:
		return classify(err)
	case !found:
		return store.ErrNotFound
	}
	return nil
}

func applyPatch(t *store.Task, p store.Patch) {
	if p.Title != nil {
		t.Title = *p.Title
	}
	if p.SetDescription {
		t.Description = p.Description
	}
	switch {
	case p.Completed != nil:
		t.Completed = *p.Completed
	case p.ToggleCompleted:
		t.Completed = !t.Completed
	}
}

// Delete removes one task of the owner. Its id is never handed out again.
func (s *Store) Delete(ctx context.Context, owner string, id uint64) error {
	if err := checkOwner(ctx, owner); err != nil {
		return err
	}
	return s.writeTask(owner, id, func(tasks *bbolt.Bucket, key, _ []byte) error {
		return tasks.Delete(key)
	})
}

// entry is a task as a list sees it: header fields and the stored value, which
// aliases the database and is valid only inside the read transaction.
type entry struct {
	id      uint64
	created int64
	updated int64
	title   string // only read when sorting by title
	value   []byte
}

// selectPage runs inside a read transaction: it filters the owner's tasks by
// q.Status, orders them, and calls emit for each one of the page.
func selectPage(tx *bbolt.Tx, owner string, q store.ListQuery, emit func(e *entry) error) (total int, err error) {
	tasks := tasksOf(tx, owner)
	if tasks == nil {
		return 0, nil
	}
	var entries []entry
	c := tasks.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		h, err := decodeHeader(v)
		if err != nil {
			return 0, fmt.Errorf("task %d of %q: %w", keyID(k), owner, err)
		}
		if !q.Status.Matches(h.completed) {
			continue
		}
		e := entry{id: keyID(k), created: h.created, updated: h.updated, value: v}
		if q.Sort == store.SortTitle {
			if e.title, err = decodeTitle(h); err != nil {
				return 0, err
			}
		}
		entries = append(entries, e)
	}
	sortEntries(entries, q)
	lo, hi := q.Page(len(entries))
	for i := lo; i < hi; i++ {
		if err := emit(&entries[i]); err != nil {
			return 0, err
		}
	}
	return len(entries), nil
}

// sortEntries orders by q.Sort, ties by id, all in q's direction. The cursor
// yields ascending ids, so sorting by id is a reversal at most.
func sortEntries(entries []entry, q store.ListQuery) {
	if q.Sort != store.SortID {
		slices.SortFunc(entries, func(a, b entry) int {
			var c int
			switch q.Sort {
			case store.SortCreated:
				c = cmp.Compare(a.created, b.created)
			case store.SortUpdated:
				c = cmp.Compare(a.updated, b.updated)
			case store.SortTitle:
				c = strings.Compare(a.title, b.title)
			}
			if c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
	}
	if q.Desc {
		slices.Reverse(entries)
	}
}

// List returns one page of the owner's tasks, decoded.
func (s *Store) List(ctx context.Context, owner string, q store.ListQuery) ([]store.Task, int, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return nil, 0, err
	}
	out := []store.Task{}
	var total int
	err := s.db.View(func(tx *bbolt.Tx) error {
		out = out[:0]
		var err error
		total, err = selectPage(tx, owner, q, func(e *entry) error {
			t, err := decodeTask(e.value)
			if err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, 0, classify(err)
	}
	return out, total, nil
}

// ListJSON appends one page as a JSON array to dst, copying each task's stored
// JSON without decoding it.
func (s *Store) ListJSON(ctx context.Context, owner string, q store.ListQuery, dst []byte) ([]byte, int, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return dst, 0, err
	}
	start := len(dst)
	var total int
	err := s.db.View(func(tx *bbolt.Tx) error {
		dst = append(dst[:start], '[')
		var err error
		total, err = selectPage(tx, owner, q, func(e *entry) error {
			if len(dst) > start+1 {
				dst = append(dst, ',')
			}
			dst = append(dst, e.value[headerLen:]...) // copies out of the mmap
			return nil
		})
		dst = append(dst, ']')
		return err
	})
	if err != nil {
		return dst[:start], 0, classify(err)
	}
	return dst, total, nil
}

// classify marks the errors that mean "cannot write now, data intact" as
// store.ErrUnavailable, so the API answers 503 instead of 500.
func classify(err error) error {
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrUnavailable):
		return err
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EROFS),
		errors.Is(err, os.ErrPermission), errors.Is(err, bberrors.ErrDatabaseNotOpen),
		errors.Is(err, bberrors.ErrDatabaseReadOnly):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
