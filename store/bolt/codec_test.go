package bolt

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"taskbolt/store"
)

// FuzzTextFields: the fast reader of a stored task's title, description and
// tags agrees with encoding/json on any task AppendJSON writes.
func FuzzTextFields(f *testing.F) {
	f.Add("buy milk", "2 litres", true, "home", "Work", `u"ser`)
	f.Add(`a","title":"x`, "", false, `t\"`, "\u2028", "x,y")
	f.Add("\x00\n\"\\", "\xff", true, "ß", "", "k")
	f.Fuzz(func(t *testing.T, title, desc string, hasDesc bool, tag1, tag2, user string) {
		task := store.Task{ID: 7, UserID: user, Title: title, Tags: []string{tag1, tag2}, CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(2, 0)}
		if hasDesc {
			task.Description = &desc
		}
		js := task.AppendJSON(nil)
		var want store.Task
		if err := want.UnmarshalJSON(js); err != nil {
			t.Fatal(err)
		}
		gotTitle, gotDesc, gotTags, err := textFields(js)
		if err != nil || gotTitle != want.Title || (gotDesc == nil) != (want.Description == nil) ||
			(gotDesc != nil && *gotDesc != *want.Description) || !slices.Equal(gotTags, want.Tags) {
			t.Fatalf("%s: got %q %v %q %v, want %q %v %q", js, gotTitle, gotDesc, gotTags, err, want.Title, want.Description, want.Tags)
		}
	})
}

// TestByID: the stepping reader returns what Bucket.Get does for any order
// of ids, present or not, near or far from the last one read.
func TestByID(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "b.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	err = db.Update(func(tx *bbolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("tasks"))
		for id := uint64(1); id <= 3000; id++ {
			if rng.IntN(4) != 0 { // gaps, as deletes leave
				b.Put(idKey(id), []byte(strconv.FormatUint(id, 10)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("tasks"))
		for round := range 50 {
			r := newByID(b)
			ids := make([]uint64, 40)
			for i := range ids {
				ids[i] = uint64(rng.IntN(3010))
			}
			if round%2 == 0 {
				slices.Sort(ids) // ascending, with repeats: the stepping path
			}
			for _, id := range ids {
				if got, want := r.get(id), b.Get(idKey(id)); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
					t.Fatalf("round %d: get(%d) = %q, Get = %q", round, id, got, want)
				}
			}
		}
		return nil
	})
}
