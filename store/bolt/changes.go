package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

// The change log of a user has two parts, both in the user's bucket:
//
//   - logtail, a value in the user's bucket: the user's change sequence (8
//     bytes, big-endian), then the newest changes, each seq(8) len(4) entry.
//   - log, a bucket keyed by sequence (big-endian) holding the older
//     changes, one entry each.
//
// An entry is kind(1) at(8, unix µs) task id(8) data.
//
// Why two parts: every write already rewrites the page of the user's bucket
// (the tasks bucket's root moves), so a change appended to a value there costs
// no page of its own, where an append to the log bucket costs the commit two
// more pages per user (its leaf and branch) — 40 % of a write. The tail is
// moved to the log bucket in one go when it would pass logTailMax bytes, so
// the bucket's pages are written once per few changes, and that is when the
// log is pruned of what is past both store.LogKeep changes and
// store.LogMinAge. Written by putTask, deleteTask, Load and the reminder
// sweep, in the transaction of the change.
var (
	logBucket  = []byte("log")
	logTailKey = []byte("logtail")
)

const (
	logHeader = 17 // kind, at, task id
	// logTailMax bounds the tail, so that the user's bucket stays one page
	// (4 KiB) with its other keys.
	logTailMax = 2048
)

// logClock is the log's clock: when a change happened, for retention.
// Tests move it.
var logClock = time.Now

// logTail is a user's logtail value, decoded lazily.
type logTail []byte

func (t logTail) seq() uint64 {
	if len(t) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(t)
}

// each calls fn with every change in the tail, oldest first; it stops at
// the first error.
func (t logTail) each(fn func(seq uint64, entry []byte) error) error {
	for rest := t[min(8, len(t)):]; len(rest) > 0; {
		if len(rest) < 12 {
			return errCorrupt
		}
		seq, n := binary.BigEndian.Uint64(rest), int(binary.BigEndian.Uint32(rest[8:12]))
		if n < logHeader || len(rest) < 12+n {
			return errCorrupt
		}
		if err := fn(seq, rest[12:12+n]); err != nil {
			return err
		}
		rest = rest[12+n:]
	}
	return nil
}

// logChange appends a change to the user's log. The new sequence is kept in u
// for the notification after commit.
func logChange(u *userBuckets, kind store.ChangeKind, id uint64, data []byte) error {
	old := logTail(u.user.Get(logTailKey))
	seq := old.seq() + 1
	now := logClock()
	// A fresh slice every time: bbolt keeps the value given to Put until the
	// commit.
	tail := make(logTail, 8, max(len(old), 8)+12+logHeader+len(data))
	binary.BigEndian.PutUint64(tail, seq)
	if len(old) > 8 {
		tail = append(tail, old[8:]...)
	}
	tail = binary.BigEndian.AppendUint64(tail, seq)
	tail = binary.BigEndian.AppendUint32(tail, uint32(logHeader+len(data)))
	tail = append(tail, byte(kind))
	tail = binary.BigEndian.AppendUint64(tail, uint64(now.UnixMicro()))
	tail = binary.BigEndian.AppendUint64(tail, id)
	tail = append(tail, data...)
	u.seq = seq
	if len(tail) <= logTailMax {
		return u.user.Put(logTailKey, tail)
	}
	if err := flushLogTail(u, tail, now); err != nil {
		return err
	}
	return u.user.Put(logTailKey, tail[:8])
}

// flushLogTail moves the tail's changes to the log bucket and prunes it.
func flushLogTail(u *userBuckets, tail logTail, now time.Time) error {
	log, err := u.user.CreateBucketIfNotExists(logBucket)
	if err != nil {
		return err
	}
	log.FillPercent = appendFill // keys only ever grow: fill pages, do not split them in half
	err = tail.each(func(seq uint64, entry []byte) error {
		return log.Put(idKey(seq), entry)
	})
	if err != nil {
		return err
	}
	seq, oldest := tail.seq(), now.Add(-store.LogMinAge).UnixMicro()
	c := log.Cursor()
	for k, v := c.First(); k != nil; k, v = c.First() {
		if keyID(k)+store.LogKeep > seq || int64(binary.BigEndian.Uint64(v[1:9])) >= oldest {
			break
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// logTask logs a task's creation or change, with its JSON as the data.
func logTask(u *userBuckets, kind store.ChangeKind, t *store.Task) error {
	var room [512]byte // most tasks' JSON fits, and logChange copies it
	return logChange(u, kind, t.ID, t.AppendJSON(room[:0]))
}

// decodeChange makes a store.Change of a log entry, copying its data out of
// the transaction's memory.
func decodeChange(seq uint64, entry []byte) (store.Change, error) {
	if len(entry) < logHeader {
		return store.Change{}, errCorrupt
	}
	return store.Change{Seq: seq, Kind: store.ChangeKind(entry[0]),
		At:     time.UnixMicro(int64(binary.BigEndian.Uint64(entry[1:9]))).UTC(),
		TaskID: binary.BigEndian.Uint64(entry[9:17]), Data: append([]byte(nil), entry[logHeader:]...)}, nil
}

// Changes implements store.Changelog.
func (s *Store) Changes(ctx context.Context, owner string, after uint64, limit int) ([]store.Change, uint64, bool, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return nil, 0, false, err
	}
	var (
		out  []store.Change
		last uint64
		gap  bool
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		out, last, gap = nil, 0, false
		user := tx.Bucket(usersBucket).Bucket([]byte(owner))
		if user == nil {
			gap = after > 0
			return nil
		}
		last = logTail(user.Get(logTailKey)).seq()
		var first uint64 // the oldest change kept (0: none)
		if err := walkLog(user, 0, func(seq uint64, _ []byte) error { first = seq; return errEnough }); err != nil {
			return err
		}
		if after > last || first != 0 && first > after+1 || first == 0 && after < last {
			gap = true
			return nil
		}
		return walkLog(user, after, func(seq uint64, entry []byte) error {
			if len(out) >= limit {
				return errEnough
			}
			c, err := decodeChange(seq, entry)
			out = append(out, c)
			return err
		})
	})
	return out, last, gap, classify(err)
}

// errEnough is what a walkLog function returns to stop the walk early.
var errEnough = errors.New("enough")

// walkLog calls fn with each change in the user's log after an id, oldest
// first: the log bucket's, then the tail's. It stops at fn's first error,
// which it returns unless it is errEnough.
func walkLog(user *bbolt.Bucket, after uint64, fn func(seq uint64, entry []byte) error) error {
	err := func() error {
		if log := user.Bucket(logBucket); log != nil {
			c := log.Cursor()
			for k, v := c.Seek(idKey(after + 1)); k != nil; k, v = c.Next() {
				if err := fn(keyID(k), v); err != nil {
					return err
				}
			}
		}
		return logTail(user.Get(logTailKey)).each(func(seq uint64, entry []byte) error {
			if seq <= after {
				return nil
			}
			return fn(seq, entry)
		})
	}()
	if errors.Is(err, errEnough) {
		return nil
	}
	return err
}

// Seq implements store.Changelog.
func (s *Store) Seq(ctx context.Context, owner string) (uint64, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return 0, err
	}
	var seq uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		seq = 0
		if user := tx.Bucket(usersBucket).Bucket([]byte(owner)); user != nil {
			seq = logTail(user.Get(logTailKey)).seq()
		}
		return nil
	})
	return seq, classify(err)
}

// migrateTo4 starts each user's log tail at the sequence of its log bucket,
// where schema 3 kept it.
func migrateTo4(tx *bbolt.Tx, _ int) (users, tasks int, err error) {
	all := tx.Bucket(usersBucket)
	err = all.ForEachBucket(func(name []byte) error {
		users++
		user := all.Bucket(name)
		tasks += (&userBuckets{user: user}).taskCount()
		if log := user.Bucket(logBucket); log != nil {
			return user.Put(logTailKey, binary.BigEndian.AppendUint64(nil, log.Sequence()))
		}
		return nil
	})
	return users, tasks, err
}

// notifier calls the registered functions after commits.
type notifier struct {
	mu  sync.RWMutex
	fns []func(owner string, seq uint64)
}

// OnChange implements store.Changelog.
func (s *Store) OnChange(fn func(owner string, seq uint64)) {
	s.notify.mu.Lock()
	s.notify.fns = append(s.notify.fns, fn)
	s.notify.mu.Unlock()
}

// changed tells the registered functions, after the commit, that owner is at
// seq (0: nothing was logged).
func (s *Store) changed(owner string, seq uint64) {
	if seq == 0 {
		return
	}
	s.notify.mu.RLock()
	defer s.notify.mu.RUnlock()
	for _, fn := range s.notify.fns {
		fn(owner, seq)
	}
}
