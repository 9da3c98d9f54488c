package bolt

import (
	"fmt"
	"strconv"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

// migrations[i] brings a file from schema version i+1 to i+2. Each runs in
// the one transaction that also records the new version, so a crash leaves
// the file at the old version or the new one, never between.
var migrations = []func(tx *bbolt.Tx, indexAfter int) (users, tasks int, err error){
	migrateTo2,
	migrateTo3,
	migrateTo4,
	migrateTo5,
	migrateTo6,
}

// migrate runs every migration from version up, in one transaction.
func (s *Store) migrate(version int) error {
	start := time.Now()
	var users, tasks int
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for v := version; v < SchemaVersion; v++ {
			u, t, err := migrations[v-1](tx, s.indexAfter)
			if err != nil {
				return fmt.Errorf("migration to schema version %d: %w", v+1, err)
			}
			users, tasks = u, t
		}
		return tx.Bucket(metaBucket).Put(schemaVersion, []byte(strconv.Itoa(SchemaVersion)))
	})
	if err != nil {
		return fmt.Errorf("open %s: %w; the file was left at schema version %d", s.path, classify(err), version)
	}
	if s.log != nil {
		s.log.Info("database migrated", "file", s.path, "from_version", version, "to_version", SchemaVersion,
			"users", users, "tasks", tasks, "duration", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// migrateTo2 rewrites every task in the format-2 value (priority none, no
// tags, no dates) and builds each user's indexes and counts.
func migrateTo2(tx *bbolt.Tx, indexAfter int) (users, tasks int, err error) {
	err = eachUser(tx, func(name []byte, user *bbolt.Bucket) error {
		var list []store.Task
		if b := user.Bucket(tasksBucket); b != nil {
			if err := b.ForEach(func(k, v []byte) error {
				t, err := decodeTask(string(name), keyID(k), v)
				if t.Tags == nil {
					t.Tags = []string{}
				}
				list = append(list, t)
				return err
			}); err != nil {
				return fmt.Errorf("user %q: %w", name, err)
			}
		}
		u, err := userBucketsOf(user, indexAfter)
		if err != nil {
			return err
		}
		for i := range list {
			if err := u.tasks.Put(idKey(list[i].ID), encodeTask(&list[i])); err != nil {
				return err
			}
		}
		if err := u.addTasks(len(list)); err != nil {
			return err
		}
		if len(list) > indexAfter {
			all := make([]*store.Task, len(list))
			for i := range list {
				all[i] = &list[i]
			}
			if err := createIndex(u); err != nil {
				return err
			}
			if err := indexAll(u, all); err != nil {
				return err
			}
		}
		users++
		tasks += len(list)
		return nil
	})
	return users, tasks, err
}

// migrateTo5 rebuilds every indexed user's indexes: schema 5 keeps the sort
// buckets packed (packed.go; one bbolt entry per index entry before), and
// rec entries without a folded copy of ASCII text (index.go). The counts
// come out as they were; rebuilding them from the tasks too keeps one way
// to build an index.
func migrateTo5(tx *bbolt.Tx, indexAfter int) (users, tasks int, err error) {
	err = eachUser(tx, func(name []byte, user *bbolt.Bucket) error {
		users++
		tasks += (&userBuckets{user: user}).taskCount()
		if user.Bucket(idxBucket) == nil {
			return nil
		}
		for _, b := range [][]byte{idxBucket, recBucket, countsBucket} {
			if err := user.DeleteBucket(b); err != nil {
				return fmt.Errorf("user %q: %w", name, err)
			}
		}
		u, err := userBucketsOf(user, indexAfter)
		if err != nil {
			return err
		}
		if err := buildIndex(u, string(name)); err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		return nil
	})
	return users, tasks, err
}

// migrateTo6 rewrites every task value in format 3, which keeps the task's
// fields in a binary record rather than its wire JSON (codec.go). Indexes,
// counts and reminders do not change.
func migrateTo6(tx *bbolt.Tx, _ int) (users, tasks int, err error) {
	err = eachUser(tx, func(name []byte, user *bbolt.Bucket) error {
		users++
		b := user.Bucket(tasksBucket)
		if b == nil {
			return nil
		}
		owner := string(name)
		var keys, values [][]byte // bbolt leaves a bucket changed under a cursor undefined
		err := b.ForEach(func(k, v []byte) error {
			tasks++
			if len(v) > 0 && v[0] == valueFormat {
				return nil
			}
			t, err := decodeTask(owner, keyID(k), v)
			if err != nil {
				return fmt.Errorf("task %d: %w", keyID(k), err)
			}
			keys, values = append(keys, idKey(t.ID)), append(values, encodeTask(&t))
			return nil
		})
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		b.FillPercent = bulkFill // rewritten in key order
		for i := range keys {
			if err := b.Put(keys[i], values[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return users, tasks, err
}

// eachUser calls fn with every user's bucket. It lists the users first, so
// that fn may change buckets (a migration).
func eachUser(tx *bbolt.Tx, fn func(name []byte, user *bbolt.Bucket) error) error {
	all := tx.Bucket(usersBucket)
	var names [][]byte
	if err := all.ForEachBucket(func(name []byte) error {
		names = append(names, append([]byte{}, name...))
		return nil
	}); err != nil {
		return err
	}
	for _, name := range names {
		if err := fn(name, all.Bucket(name)); err != nil {
			return err
		}
	}
	return nil
}
