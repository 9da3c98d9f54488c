// Package bolt is the embedded store: one bbolt file, one bucket per user.
//
// Layout:
//
//	meta/schema_version             = "6" (SchemaVersion)
//	users/<user_id>                 (its sequence is the user's next task id)
//	users/<user_id>/n               = the user's task count
//	users/<user_id>/tasks/<id>      = the task in a small binary record (codec.go)
//	users/<user_id>/idx, rec, counts  the indexes of a user past IndexAfter tasks (index.go)
//	users/<user_id>/logtail, log/<seq>  the user's change log (changes.go)
//	users/<user_id>/convs, msgs     the user's chat conversations (chat.go)
//	reminders/<remind_at><owner>\0<id>  reminders still to fire (reminders.go)
//	idempotency/<owner>\0<key>       recorded outcomes of Idempotency-Keys (idempotency.go)
//
// Task ids come from the user bucket's NextSequence, so they are unique per
// user and never reused after a delete. Every write goes through groupCommit
// (group.go), so concurrent requests share one fsync'd commit and stay durable.
package bolt

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/taskbolt/taskbolt/store"
)

// SchemaVersion is the layout version written to meta/schema_version. Open
// migrates an older file in place and refuses a newer one rather than
// misread it.
const SchemaVersion = 6

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
	// Now is the clock; tests replace it. Default time.Now.
	Now func() time.Time
	// ReadOnly opens the file for reading only, sharing it with other
	// readers; it never initialises an empty file nor migrates an old one.
	ReadOnly bool
	// Logger receives a line when a file is migrated. Default: none.
	Logger *slog.Logger
	// IndexAfter is the task count past which a user's lists are served from
	// indexes rather than a scan. Default DefaultIndexAfter; negative: every
	// user is indexed from its first task (tests).
	IndexAfter int
}

// initialMmapSize is the address space the file is mapped with from the
// start. bbolt remaps the file when a write grows it past its mapping, and a
// remap waits for every read transaction to end: a hot backup read over a
// slow link (minutes) would hold every write that grows the file until the
// backup ends. A large first mapping costs address space only (a page is
// read in when touched), so a file under 1 GiB is never remapped. Not on
// Windows, where bbolt grows the file itself to the mapping's size, nor where
// address space is 32 bits.
var initialMmapSize = func() int {
	if runtime.GOOS == "windows" || strconv.IntSize < 64 {
		return 0
	}
	return 1 << 30
}()

// growStep is how much a file grows at a time when it must (see Open).
const growStep = 1 << 20

// Store is a store.Store over a bbolt file.
type Store struct {
	db   *bbolt.DB
	path string
	now  func() time.Time
	log  *slog.Logger
	// indexAfter is Options.IndexAfter.
	indexAfter int
	notify     notifier // OnChange's functions
	writes     *groupCommit
	// openUsers are the users' buckets the current write transaction has
	// opened (openUser). Only its writer touches them, under bbolt's
	// writer lock.
	openUsers map[string]*userBuckets
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.JSONLister = (*Store)(nil)
	_ store.Changelog  = (*Store)(nil)
	_ store.ChatStore  = (*Store)(nil)
	_ store.ChatDumper = (*Store)(nil)
)

// Open opens or creates the taskbolt database at path. It fails fast with a
// clear error when another process holds the file, when the file is not a
// bbolt database, or when it is a bbolt database that taskbolt did not create;
// in those cases the file is left untouched.
func Open(path string, opt Options) (*Store, error) {
	if opt.LockTimeout <= 0 {
		opt.LockTimeout = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	// Our own Options, never a mutated bbolt.DefaultOptions.
	bopts := &bbolt.Options{Timeout: opt.LockTimeout, FreelistType: bbolt.FreelistMapType, ReadOnly: opt.ReadOnly,
		InitialMmapSize: initialMmapSize}
	if opt.ReadOnly {
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%s: no such database file (check DATABASE_URL)", path)
		case err == nil && fi.Size() == 0:
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
	if initialMmapSize > 0 {
		// Past its mapping bbolt grows a file AllocSize at a time (16 MiB by
		// default); with the large first mapping that would be every file,
		// an empty one included. 1 MiB keeps a file close to its data.
		db.AllocSize = growStep
	}
	if opt.IndexAfter == 0 {
		opt.IndexAfter = DefaultIndexAfter
	}
	s := &Store{db: db, path: path, now: opt.Now, log: opt.Logger, indexAfter: opt.IndexAfter}
	s.writes = &groupCommit{db: db, endTx: s.forgetOpenUsers}
	if err := s.checkSchema(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkSchema initialises an empty file, migrates an older one in place
// (migrate.go) and refuses a newer one. A read-only store reads an older file
// as it is: backups and exports of it work, lists need the migration.
func (s *Store) checkSchema() error {
	var empty bool
	var version int
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if meta == nil {
			k, _ := tx.Cursor().First()
			empty = k == nil
			if !empty {
				return fmt.Errorf("open %s: a bbolt file that taskbolt did not create (no meta bucket); the file was left untouched", s.path)
			}
			return nil
		}
		v := meta.Get(schemaVersion)
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return fmt.Errorf("open %s: schema version %q is not one taskbolt wrote; the file was left untouched", s.path, v)
		}
		if n > SchemaVersion {
			return fmt.Errorf("open %s: schema version %d is newer than this taskbolt (%d) reads: use the taskbolt that wrote it, or a newer one; the file was left untouched", s.path, n, SchemaVersion)
		}
		version = n
		return nil
	})
	switch {
	case err != nil:
		return err
	case s.db.IsReadOnly():
		if empty {
			return fmt.Errorf("open %s: an empty file is not a taskbolt database", s.path)
		}
		return nil
	case empty:
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
	case version < SchemaVersion:
		return s.migrate(version)
	}
	return nil
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
// Reads reach a user's data only through it and readUser, and are always
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
	var (
		t       store.Task
		seq     uint64
		verdict idemVerdict
	)
	// A group commit may run this more than once; it sets t, seq and verdict on every run.
	err := s.writes.write(func(tx *bbolt.Tx) error {
		now := s.clock()
		var err error
		if verdict, err = idemCheck(tx, owner, in.Idem, now); err != nil || verdict.stop() {
			return err // a replay or a reused key writes nothing
		}
		u, err := s.openUser(tx, owner)
		if err != nil {
			return err
		}
		if t, err = create(u, owner, in, now); err != nil {
			return err
		}
		seq = u.seq
		return idemRecordOutcome(tx, owner, in.Idem, &t)
	})
	if err != nil {
		return store.Task{}, classify(err)
	}
	if err := verdict.err(); err != nil {
		return store.Task{}, err
	}
	s.changed(owner, seq)
	return t, nil
}

// create adds a task with the user's next id.
func create(u *userBuckets, owner string, in store.NewTask, now time.Time) (store.Task, error) {
	id, err := u.user.NextSequence()
	if err != nil {
		return store.Task{}, err
	}
	t := in.New(owner, id, now)
	return t, putTask(u, nil, &t)
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
		t, err = decodeTask(owner, id, v)
		return err
	})
	return t, classify(err)
}

// Update applies p to one task of the owner (store.Task.Apply), and creates
// its next occurrence in the same transaction when p completes a recurring
// task.
func (s *Store) Update(ctx context.Context, owner string, id uint64, p store.Patch) (store.Task, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return store.Task{}, err
	}
	var t store.Task
	var verdict idemVerdict
	stale := false // flags, not errors: an error would roll back the whole batch
	err := s.writeTask(owner, id, func(u *userBuckets, v []byte) error {
		now := s.clock()
		var err error
		if verdict, err = idemCheck(u.user.Tx(), owner, p.Idem, now); err != nil || verdict.stop() {
			return err
		}
		old, err := decodeTask(owner, id, v)
		if err != nil {
			return err
		}
		if stale = p.IfVersion != 0 && old.Version() != p.IfVersion; stale {
			return nil
		}
		t = old
		if spawn := t.Apply(p, now); spawn {
			next, err := create(u, owner, t.Recur(now), now)
			if err != nil {
				return err
			}
			t.NextOccurrence = next.ID
		}
		if err := putTask(u, &old, &t); err != nil {
			return err
		}
		return idemRecordOutcome(u.user.Tx(), owner, p.Idem, &t)
	})
	switch {
	case err != nil:
		return store.Task{}, err
	case verdict.stop():
		return store.Task{}, verdict.err()
	case stale:
		return store.Task{}, store.ErrPreconditionFailed
	}
	return t, nil
}

// writeTask runs fn in a group-committed write transaction on the owner's task id,
// with its stored value. A missing task is ErrNotFound, noted in a flag rather
// than returned from the write function: an error there would make the group roll
// back and re-run every other write of the group. fn may run more than once.
func (s *Store) writeTask(owner string, id uint64, fn func(u *userBuckets, value []byte) error) error {
	var found bool
	var seq uint64
	err := s.writes.write(func(tx *bbolt.Tx) error {
		found, seq = false, 0
		if tasksOf(tx, owner) == nil {
			return nil
		}
		u, err := s.openUser(tx, owner)
		if err != nil {
			return err
		}
		v := u.tasks.Get(idKey(id))
		if v == nil {
			return nil
		}
		found = true
		err = fn(u, v)
		seq = u.seq
		return err
	})
	switch {
	case err != nil:
		return classify(err)
	case !found:
		return store.ErrNotFound
	}
	s.changed(owner, seq) // after the commit, never from inside the write (fn may run again)
	return nil
}

// Delete removes one task of the owner. Its id is never handed out again.
func (s *Store) Delete(ctx context.Context, owner string, id uint64) error {
	return s.DeleteIf(ctx, owner, id, 0)
}

// DeleteIf implements store.ConditionalDeleter: version 0 is any version.
func (s *Store) DeleteIf(ctx context.Context, owner string, id uint64, version int64) error {
	if err := checkOwner(ctx, owner); err != nil {
		return err
	}
	stale := false
	err := s.writeTask(owner, id, func(u *userBuckets, v []byte) error {
		old, err := decodeTask(owner, id, v)
		if err != nil {
			return err
		}
		if stale = version != 0 && old.Version() != version; stale {
			return nil
		}
		return deleteTask(u, &old)
	})
	if err == nil && stale {
		return store.ErrPreconditionFailed
	}
	return err
}

// selectPage runs inside a read transaction: it picks the page's ids with
// the plan q calls for (query.go) and calls emit with each stored value.
func selectPage(tx *bbolt.Tx, owner string, q store.ListQuery, emit func(id uint64, v []byte) error) (total int, seq uint64, err error) {
	u, err := readUser(tx, owner)
	if u == nil || err != nil {
		return 0, 0, err
	}
	seq = logTail(u.user.Get(logTailKey)).seq()
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	ids, values, total, err := listIDs(u, &q)
	if err != nil {
		return 0, 0, fmt.Errorf("list of %q: %w", owner, err)
	}
	if values == nil {
		// Read in id order: a page's ids are often near one another.
		tasks := newByID(u.tasks)
		values = make([][]byte, len(ids))
		order := make([]int, len(ids))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
		for _, i := range order {
			values[i] = tasks.get(ids[i])
		}
	}
	for i, id := range ids {
		v := values[i]
		if v == nil {
			return 0, 0, fmt.Errorf("list of %q: index names task %d, which is not there: %w", owner, id, errCorrupt)
		}
		if err := emit(id, v); err != nil {
			return 0, 0, err
		}
	}
	return total, seq, nil
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
		total, _, err = selectPage(tx, owner, q, func(id uint64, v []byte) error {
			t, err := decodeTask(owner, id, v)
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

// ListJSON appends one page as a JSON array to dst, encoding each task
// straight from its stored value.
func (s *Store) ListJSON(ctx context.Context, owner string, q store.ListQuery, dst []byte) ([]byte, int, uint64, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return dst, 0, 0, err
	}
	start := len(dst)
	var (
		total int
		seq   uint64
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		dst = append(dst[:start], '[')
		var (
			err  error
			view taskView
		)
		total, seq, err = selectPage(tx, owner, q, func(id uint64, v []byte) error {
			if len(dst) > start+1 {
				dst = append(dst, ',')
			}
			dst, err = appendValueJSON(dst, &view, owner, id, v)
			return err
		})
		dst = append(dst, ']')
		return err
	})
	if err != nil {
		return dst[:start], 0, 0, classify(err)
	}
	return dst, total, seq, nil
}

// Tags lists the owner's tags from the kept counts (a small user's from its
// rec entries), ordered by folded name.
func (s *Store) Tags(ctx context.Context, owner string) ([]store.TagCount, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return nil, err
	}
	out := []store.TagCount{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		out = out[:0]
		u, err := readUser(tx, owner)
		if u == nil || err != nil {
			return err
		}
		if !u.indexed() {
			out, err = scanTags(u)
			return err
		}
		c := u.counts.Cursor()
		for k, v := c.Seek([]byte{cntTag}); k != nil && k[0] == cntTag; k, v = c.Next() {
			if len(v) < 8 {
				return errCorrupt
			}
			out = append(out, store.TagCount{Name: string(v[8:]), Count: int(binary.BigEndian.Uint64(v))})
		}
		return nil
	})
	return out, classify(err)
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
