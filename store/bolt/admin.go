package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"

	"taskbolt/store"
)

var (
	_ store.Snapshotter = (*Store)(nil)
	_ store.Dumper      = (*Store)(nil)
	_ store.Loader      = (*Store)(nil)
	_ store.Resetter    = (*Store)(nil)
)

// Snapshot writes a consistent copy of the database file to w from one read
// transaction: writers go on meanwhile, and the copy is exactly the state at
// its start. The cost is a full read of the file.
func (s *Store) Snapshot(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, classify(err)
}

// Dump visits every owner in one read transaction, so an export is one
// consistent state. It holds that transaction for the whole export.
func (s *Store) Dump(ctx context.Context, fn func(owner string, lastID uint64, tasks []store.Task) error) error {
	return classify(s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(usersBucket).ForEachBucket(func(name []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			u := tx.Bucket(usersBucket).Bucket(name)
			var tasks []store.Task
			if b := u.Bucket(tasksBucket); b != nil {
				err := b.ForEach(func(_, v []byte) error {
					t, err := decodeTask(v)
					tasks = append(tasks, t)
					return err
				})
				if err != nil {
					return fmt.Errorf("user %q: %w", name, err)
				}
			}
			return fn(string(name), u.Sequence(), tasks)
		})
	}))
}

// Load puts tasks back as they were, in one transaction.
func (s *Store) Load(ctx context.Context, owner string, lastID uint64, tasks []store.Task) ([]store.Task, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return nil, err
	}
	out := make([]store.Task, len(tasks))
	err := s.db.Update(func(tx *bbolt.Tx) error {
		u, b, err := createUser(tx, owner)
		if err != nil {
			return err
		}
		seq := max(u.Sequence(), lastID)
		for _, t := range tasks {
			seq = max(seq, t.ID)
		}
		now := s.clock()
		for i, t := range tasks {
			if t.ID == 0 {
				seq++
				t.ID = seq
			}
			t.UserID = owner
			if t.CreatedAt.IsZero() {
				t.CreatedAt = now
			}
			if t.UpdatedAt.Before(t.CreatedAt) {
				t.UpdatedAt = t.CreatedAt
			}
			t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC().Truncate(time.Microsecond), t.UpdatedAt.UTC().Truncate(time.Microsecond)
			if err := b.Put(idKey(t.ID), encodeTask(&t)); err != nil {
				return err
			}
			out[i] = t
		}
		return u.SetSequence(seq)
	})
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// Reset removes every user's bucket, ids included.
func (s *Store) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return classify(s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(usersBucket); err != nil {
			return err
		}
		_, err := tx.CreateBucket(usersBucket)
		return err
	}))
}

// Backup writes a consistent copy of the database at dbPath to out, when no
// other process holds it (a running server does: use its /admin/backup).
// out is replaced atomically.
func Backup(dbPath, out string) (int64, error) {
	s, err := Open(dbPath, Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	var n int64
	err = WriteFileAtomic(out, func(w io.Writer) error {
		n, err = s.Snapshot(context.Background(), w)
		return err
	})
	return n, err
}

// Restore replaces the database at target with the backup at src, after
// checking that src is a whole taskbolt database. It refuses to replace an
// existing file unless force is set, and a file a running server holds.
func Restore(src, target string, force bool) error {
	b, err := Open(src, Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err = b.db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("backup %s fails the consistency check: %w", src, err)
		}
		return nil
	})
	if err != nil {
		b.Close()
		return err
	}
	if _, err := os.Stat(target); err == nil {
		if !force {
			b.Close()
			return fmt.Errorf("%s exists: pass --force to replace it", target)
		}
		// Holding the target's lock while replacing it keeps a server from
		// starting on it halfway; a server already on it makes this fail.
		t, err := Open(target, Options{LockTimeout: 200 * time.Millisecond})
		if err != nil && errors.Is(err, store.ErrLocked) {
			b.Close()
			return fmt.Errorf("%s is in use: stop the server first (%w)", target, err)
		}
		if err == nil {
			defer t.Close()
		}
	}
	defer b.Close()
	return WriteFileAtomic(target, func(w io.Writer) error {
		_, err := b.Snapshot(context.Background(), w)
		return err
	})
}

// WriteFileAtomic writes path through a temporary file in the same folder,
// synced before it is renamed over path: readers see the old file or the
// whole new one, never a part.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
