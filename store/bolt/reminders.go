package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	"go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

// Pending reminders live in one root bucket, keyed by remind_at (unix µs,
// big-endian), owner, NUL, id: the sweep reads the due ones in order
// without touching any user. putTask and deleteTask keep it (in the
// transaction of the change); FireReminders removes an entry in the
// transaction that logs its task.reminder, so each fires once.
var remindersBucket = []byte("reminders")

func reminderKey(at time.Time, owner string, id uint64) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(at.UnixMicro()))
	k = append(append(k, owner...), 0)
	return binary.BigEndian.AppendUint64(k, id)
}

// pendingReminder reports whether t waits for its reminder.
func pendingReminder(t *store.Task) bool { return t != nil && t.RemindAt != nil && !t.Completed }

// keepReminder updates t's reminder entry for a change from old (nil: a new
// task) to t (nil: deleted). A reminder fires once: a change that keeps the
// remind_at and the status leaves the entry as it was (pending or fired),
// and reopening a task does not bring back a reminder whose time has passed.
func keepReminder(tx *bbolt.Tx, owner string, old, t *store.Task) error {
	if old != nil && t != nil && old.Completed == t.Completed && equalTime(old.RemindAt, t.RemindAt) {
		return nil
	}
	reopened := old != nil && t != nil && old.Completed && equalTime(old.RemindAt, t.RemindAt)
	return moveReminder(tx, owner, old, t, func(at time.Time) bool { return !reopened || at.After(logClock()) })
}

// moveReminder removes old's pending entry and adds t's when wanted(its
// remind_at) says so.
func moveReminder(tx *bbolt.Tx, owner string, old, t *store.Task, wanted func(at time.Time) bool) error {
	b, err := tx.CreateBucketIfNotExists(remindersBucket)
	if err != nil {
		return err
	}
	if pendingReminder(old) {
		if err := b.Delete(reminderKey(*old.RemindAt, owner, old.ID)); err != nil {
			return err
		}
	}
	if pendingReminder(t) && wanted(*t.RemindAt) {
		return b.Put(reminderKey(*t.RemindAt, owner, t.ID), nil)
	}
	return nil
}

func equalTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

// FireReminders implements store.Reminders: up to limit due reminders, each
// logged as a task.reminder change of its owner, in one transaction.
func (s *Store) FireReminders(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	fired := map[string]uint64{}
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		clear(fired)
		n = 0
		b := tx.Bucket(remindersBucket)
		if b == nil {
			return nil
		}
		end := binary.BigEndian.AppendUint64(nil, uint64(now.UnixMicro()))
		var due [][]byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) <= 0 && len(due) < limit; k, _ = c.Next() {
			due = append(due, append([]byte(nil), k...))
		}
		for _, k := range due {
			if err := b.Delete(k); err != nil {
				return err
			}
			owner, id := string(k[8:len(k)-9]), binary.BigEndian.Uint64(k[len(k)-8:])
			user := tx.Bucket(usersBucket).Bucket([]byte(owner))
			if user == nil {
				continue
			}
			u, err := userBucketsOf(user, s.indexAfter)
			if err != nil || u.tasks == nil {
				return err
			}
			v := u.tasks.Get(idKey(id))
			if v == nil {
				continue
			}
			t, err := decodeTask(owner, id, v)
			if err != nil {
				return err
			}
			if !pendingReminder(&t) || int64(binary.BigEndian.Uint64(k[:8])) != t.RemindAt.UnixMicro() {
				continue // a stale entry: the task changed since
			}
			if err := logTask(u, store.ChangeReminder, &t); err != nil {
				return err
			}
			fired[owner] = u.seq
			n++
		}
		return nil
	})
	if err != nil {
		return 0, classify(err)
	}
	for owner, seq := range fired { // after the commit
		s.changed(owner, seq)
	}
	return n, nil
}

// importReminder keeps the entry of a task an import replaced or added:
// only a reminder still to come is pending (one that passed belongs to the
// system the task came from).
func importReminder(tx *bbolt.Tx, owner string, old, t *store.Task) error {
	return moveReminder(tx, owner, old, t, func(at time.Time) bool { return at.After(logClock()) })
}

// migrateTo3 indexes the reminders still to come (schema 3 adds reminders;
// the ones that passed before it were never promised).
func migrateTo3(tx *bbolt.Tx, _ int) (users, tasks int, err error) {
	all := tx.Bucket(usersBucket)
	err = all.ForEachBucket(func(name []byte) error {
		users++
		b := all.Bucket(name).Bucket(tasksBucket)
		if b == nil {
			return nil
		}
		owner := string(name)
		return b.ForEach(func(k, v []byte) error {
			t, err := decodeTask(owner, keyID(k), v)
			if err != nil {
				return err
			}
			tasks++
			return importReminder(tx, owner, nil, &t)
		})
	})
	return users, tasks, err
}
