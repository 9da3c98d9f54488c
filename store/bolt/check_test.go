package bolt_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

// TestCheckFindsDisagreement damages one derived entry at a time in an
// indexed user's buckets, with bbolt directly, and expects Check to say so.
func TestCheckFindsDisagreement(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(user *bbolt.Bucket) error
		want   string
	}{
		{"CountOff", func(u *bbolt.Bucket) error {
			return u.Bucket([]byte("counts")).Put([]byte{'s', 0, 0}, []byte{0, 0, 0, 0, 0, 0, 0, 9})
		}, "count"},
		{"RecMissing", func(u *bbolt.Bucket) error {
			return u.Bucket([]byte("rec")).Delete([]byte{0, 0, 0, 0, 0, 0, 0, 2})
		}, "rec"},
		{"IndexEntryExtra", func(u *bbolt.Bucket) error {
			// A well-formed block of one entry, "zzzzz", after every other: shared 5, no suffix, no value.
			return u.Bucket([]byte("idx")).Bucket([]byte("title")).Put([]byte("zzzzz"), []byte{5, 0, 0})
		}, "index title has an entry no task calls for"},
		{"IndexBlockDamaged", func(u *bbolt.Bucket) error {
			return u.Bucket([]byte("idx")).Bucket([]byte("created")).Put([]byte("bogus"), []byte{9, 9})
		}, "index created: packed block"},
		{"TaskCountOff", func(u *bbolt.Bucket) error {
			return u.Put([]byte("n"), []byte{0, 0, 0, 0, 0, 0, 0, 7})
		}, "task count"},
		{"LogSequenceBehind", func(u *bbolt.Bucket) error {
			tail := append([]byte{}, u.Get([]byte("logtail"))...)
			tail[7] = 1 // three changes, the sequence says 1
			return u.Put([]byte("logtail"), tail)
		}, "change log"},
		{"LogEntryTruncated", func(u *bbolt.Bucket) error {
			tail := u.Get([]byte("logtail"))
			return u.Put([]byte("logtail"), append([]byte{}, tail[:len(tail)-5]...))
		}, "change log"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.db")
			s, err := bolt.Open(path, bolt.Options{IndexAfter: -1})
			if err != nil {
				t.Fatal(err)
			}
			for _, title := range []string{"a", "b", "c"} {
				s.Create(context.Background(), "alice", store.NewTask{Title: title, Tags: []string{"x"}})
			}
			if err := s.Check(context.Background()); err != nil {
				t.Fatalf("before the damage: %v", err)
			}
			s.Close()
			db, _ := bbolt.Open(path, 0o600, nil)
			if err := db.Update(func(tx *bbolt.Tx) error { return c.damage(tx.Bucket([]byte("users")).Bucket([]byte("alice"))) }); err != nil {
				t.Fatal(err)
			}
			db.Close()
			s, err = bolt.Open(path, bolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Check(context.Background()); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check = %v, want it to name %q", err, c.want)
			}
		})
	}
	t.Run("ErrOldSchema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "v1.db")
		writeV1(t, path, 1, 3)
		s, err := bolt.Open(path, bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "migrate") {
			t.Errorf("Check of a v1 file: %v", err)
		}
	})
}
