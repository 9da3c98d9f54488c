package bolt

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"taskbolt/store"
)

// The change log: a "log" bucket in each user's bucket, keyed by the user's
// change sequence (the bucket's own sequence, big-endian), each value
// kind(1) at(8, unix µs) task id(8) data. It is written by putTask,
// deleteTask, Load and the reminder sweep, in the transaction of the change,
// and pruned as it grows.
var logBucket = []byte("log")

const logHeader = 17

// logClock is the log's clock: when a change happened, for retention.
// Tests move it.
var logClock = time.Now

// logChange appends a change to the user's log and prunes what is past both
// store.LogKeep changes and store.LogMinAge. The new sequence is kept in u
// for the notification after commit.
func logChange(u *userBuckets, kind store.ChangeKind, id uint64, data []byte) error {
	log, err := u.user.CreateBucketIfNotExists(logBucket)
	if err != nil {
		return err
	}
	log.FillPercent = appendFill // keys only ever grow: fill pages, do not split them in half
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	now := logClock()
	v := make([]byte, 0, logHeader+len(data))
	v = append(v, byte(kind))
	v = binary.BigEndian.AppendUint64(v, uint64(now.UnixMicro()))
	v = binary.BigEndian.AppendUint64(v, id)
	if err := log.Put(idKey(seq), append(v, data...)); err != nil {
		return err
	}
	u.seq = seq
	oldest := now.Add(-store.LogMinAge).UnixMicro()
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
	return logChange(u, kind, t.ID, t.AppendJSON(nil))
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
		users := tx.Bucket(usersBucket)
		user := users.Bucket([]byte(owner))
		if user == nil {
			gap = after > 0
			return nil
		}
		log := user.Bucket(logBucket)
		if log == nil {
			gap = after > 0
			return nil
		}
		last = log.Sequence()
		c := log.Cursor()
		first, _ := c.First()
		if after > last || first != nil && keyID(first) > after+1 || first == nil && after < last {
			gap = true
			return nil
		}
		for k, v := c.Seek(idKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			if len(v) < logHeader {
				return errCorrupt
			}
			out = append(out, store.Change{Seq: keyID(k), Kind: store.ChangeKind(v[0]),
				At:     time.UnixMicro(int64(binary.BigEndian.Uint64(v[1:9]))).UTC(),
				TaskID: binary.BigEndian.Uint64(v[9:17]), Data: append([]byte(nil), v[logHeader:]...)})
		}
		return nil
	})
	return out, last, gap, classify(err)
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
			if log := user.Bucket(logBucket); log != nil {
				seq = log.Sequence()
			}
		}
		return nil
	})
	return seq, classify(err)
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
