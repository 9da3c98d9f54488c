package bolt

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// TestGroupCommit: many concurrent writes, some failing and some panicking,
// each get their own answer; every write that succeeded is in the file
// after it is closed and opened again, and none that failed left a trace.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err })
	g := &groupCommit{db: db}
	const writers, each = 32, 50
	var wg sync.WaitGroup
	errs := make([][]error, writers)
	var commits sync.Map // tx id → writes in it
	for w := range writers {
		errs[w] = make([]error, each)
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("%02d-%03d", w, i)
				errs[w][i] = g.write(func(tx *bbolt.Tx) error {
					if err := tx.Bucket([]byte("b")).Put([]byte(key), []byte("v")); err != nil {
						return err
					}
					switch {
					case i%7 == 3:
						return fmt.Errorf("refused %s", key) // after its put: the put must not survive
					case i%11 == 5:
						panic("boom " + key)
					}
					n, _ := commits.LoadOrStore(tx.ID(), new(int))
					*n.(*int)++ // only the leader's goroutine runs a transaction's writes
					return nil
				})
			}
		})
	}
	wg.Wait()
	for w := range writers {
		for i := range each {
			key := fmt.Sprintf("%02d-%03d", w, i)
			err := errs[w][i]
			switch {
			case i%7 == 3:
				if err == nil || err.Error() != "refused "+key {
					t.Fatalf("%s: err = %v, want its own refusal", key, err)
				}
			case i%11 == 5:
				if err == nil || !strings.Contains(err.Error(), "panicked: boom "+key) {
					t.Fatalf("%s: err = %v, want its panic", key, err)
				}
			case err != nil:
				t.Fatalf("%s: %v", key, err)
			}
		}
	}
	shared := 0
	commits.Range(func(_, n any) bool {
		if *n.(*int) > 1 {
			shared++
		}
		return true
	})
	if shared == 0 {
		t.Error("no commit carried more than one write: nothing was grouped")
	}
	db.Close()

	db, err = bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		for w := range writers {
			for i := range each {
				key := fmt.Sprintf("%02d-%03d", w, i)
				failed := i%7 == 3 || i%11 == 5
				if got := b.Get([]byte(key)) != nil; got == failed {
					t.Errorf("%s: stored %v after the write answered %v", key, got, errs[w][i])
				}
			}
		}
		return nil
	})
}

// TestGroupCommitAlone: a write with no other writer commits at once and
// answers the commit's error (here: the database is closed).
func TestGroupCommitAlone(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &groupCommit{db: db}
	for i := range 100 {
		if err := g.write(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte(strconv.Itoa(i)), nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if err := g.write(func(*bbolt.Tx) error { return nil }); !errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		t.Fatalf("write to a closed database: %v", err)
	}
}
