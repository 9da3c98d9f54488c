package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

var _ store.Checker = (*Store)(nil)

// Check verifies, in one read transaction, that every user's indexes, rec
// entries and counts are exactly what the user's tasks call for, and that
// the file passes bbolt's own consistency check. It reads the whole file.
func (s *Store) Check(ctx context.Context) error {
	return s.db.View(func(tx *bbolt.Tx) error {
		if v := string(tx.Bucket(metaBucket).Get(schemaVersion)); v != strconv.Itoa(SchemaVersion) {
			return fmt.Errorf("schema version %s: open it read-write once (start taskbolt) to migrate it to %d first", v, SchemaVersion)
		}
		for err := range tx.Check() {
			return fmt.Errorf("bbolt consistency: %w", err)
		}
		users := tx.Bucket(usersBucket)
		return users.ForEachBucket(func(name []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := checkUser(string(name), users.Bucket(name), s.indexAfter); err != nil {
				return fmt.Errorf("user %q: %w", name, err)
			}
			if err := checkChats(users.Bucket(name)); err != nil {
				return fmt.Errorf("user %q: %w", name, err)
			}
			return nil
		})
	})
}

func checkUser(owner string, user *bbolt.Bucket, indexAfter int) error {
	u, err := userBucketsOf(user, indexAfter)
	if err != nil {
		return err
	}
	if u.tasks == nil {
		if user.Bucket(convsBucket) != nil && user.Sequence() == 0 {
			return nil // a user who has only chatted
		}
		return errors.New("tasks bucket missing")
	}
	wantIdx := map[store.SortKey]map[string]string{}
	for k := range sortBuckets {
		wantIdx[k] = map[string]string{}
	}
	wantRec := map[string]string{}
	wantCounts := map[string]uint64{}
	var maxID uint64
	n := 0
	err = u.tasks.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("task key %x is not 8 bytes", k)
		}
		t, err := decodeTask(owner, keyID(k), v)
		if err != nil {
			return fmt.Errorf("task %d: %w", keyID(k), err)
		}
		maxID = max(maxID, t.ID)
		n++
		if u.indexed() {
			wantRec[string(k)] = string(encodeRec(&t))
			for _, e := range indexEntries(&t) {
				wantIdx[e.sort][string(e.key)] = string(e.value)
			}
			for _, c := range countKeys(&t) {
				wantCounts[string(c.key)]++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if maxID > u.user.Sequence() {
		return fmt.Errorf("task %d is past the next id %d", maxID, u.user.Sequence()+1)
	}
	if u.taskCount() != n {
		return fmt.Errorf("the task count says %d, there are %d", u.taskCount(), n)
	}
	if err := checkLog(user); err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	if !u.indexed() {
		if n > indexAfter {
			return fmt.Errorf("%d tasks and no index (indexed after %d)", n, indexAfter)
		}
		if user.Bucket(countsBucket) != nil || user.Bucket(recBucket) != nil {
			return errors.New("counts or rec without an index")
		}
		return nil
	}
	if err := sameEntries("rec", u.rec, wantRec); err != nil {
		return err
	}
	for k, want := range wantIdx {
		if err := sameEntries("index "+string(k), u.sortBucket(k), want); err != nil {
			return err
		}
	}
	got := map[string]uint64{}
	err = u.counts.ForEach(func(k, v []byte) error {
		if len(v) < 8 {
			return fmt.Errorf("count %q: short value", k)
		}
		got[string(k)] = binary.BigEndian.Uint64(v)
		return nil
	})
	if err != nil {
		return err
	}
	for k, c := range wantCounts {
		if got[k] != c {
			return fmt.Errorf("count %q is %d, the tasks say %d", k, got[k], c)
		}
	}
	for k, c := range got {
		if _, ok := wantCounts[k]; !ok {
			return fmt.Errorf("count %q is %d, no task has it", k, c)
		}
	}
	return nil
}

func sameEntries(what string, b interface {
	ForEach(func(k, v []byte) error) error
}, want map[string]string) error {
	n := 0
	err := b.ForEach(func(k, v []byte) error {
		w, ok := want[string(k)]
		if !ok {
			return fmt.Errorf("%s has an entry no task calls for: %x", what, k)
		}
		if !bytes.Equal([]byte(w), v) {
			return fmt.Errorf("%s entry %x holds %x, want %x", what, k, v, w)
		}
		n++
		return nil
	})
	if errors.Is(err, errCorrupt) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err != nil {
		return err
	}
	if n != len(want) {
		return fmt.Errorf("%s has %d entries, the tasks call for %d", what, n, len(want))
	}
	return nil
}

// checkLog verifies that the user's change log reads in order: the log
// bucket's changes, then the tail's, one sequence after another, ending at
// the user's sequence.
func checkLog(user *bbolt.Bucket) error {
	tail := logTail(user.Get(logTailKey))
	if tail != nil && len(tail) < 8 {
		return errors.New("short tail")
	}
	var prev uint64
	next := func(seq uint64, entry []byte) error {
		switch {
		case len(entry) < logHeader:
			return fmt.Errorf("change %d: short entry", seq)
		case prev != 0 && seq != prev+1:
			return fmt.Errorf("change %d follows %d", seq, prev)
		}
		prev = seq
		return nil
	}
	if err := walkLog(user, 0, next); err != nil {
		return err
	}
	if prev > tail.seq() {
		return fmt.Errorf("change %d is past the sequence %d", prev, tail.seq())
	}
	return nil
}
