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

	"github.com/taskbolt/taskbolt/store"
)

// FuzzValue: a task goes into a stored value and comes out whole, through
// every reader: decodeTask, the list's appendValueJSON (byte for byte what
// AppendJSON writes), textFields and taskDescription.
func FuzzValue(f *testing.F) {
	f.Add("buy milk", "2 litres", true, "home", "Work", `u"ser`, int64(1_700_000_000_000_000), int64(5), int64(-1), uint8(7))
	f.Add(`a","title":"x`, "", false, `t\"`, "\u2028", "x,y", int64(0), int64(0), int64(1<<62), uint8(0))
	f.Add("\x00\n\"\\", "\xff", true, "ß", "", "k", int64(-62135596800000000), int64(1<<40), int64(253402300800000000), uint8(255))
	f.Fuzz(func(t *testing.T, title, desc string, hasDesc bool, tag1, tag2, user string, created, age, due int64, bits uint8) {
		task := store.Task{ID: uint64(created), UserID: user, Title: title, Tags: []string{tag1, tag2},
			Completed: bits&1 != 0, Spawned: bits&2 != 0, Priority: store.Priority(bits >> 2 % 4),
			Recurrence: recurrenceCodes[int(bits>>4)%len(recurrenceCodes)],
			CreatedAt:  time.UnixMicro(created).UTC(), UpdatedAt: time.UnixMicro(created + age).UTC()}
		if bits&8 == 0 {
			task.Tags = task.Tags[:bits%3]
		}
		if hasDesc {
			task.Description = &desc
		}
		if bits&64 != 0 {
			d := time.UnixMicro(due).UTC()
			task.DueDate = &d
		}
		if bits&128 != 0 {
			r := time.UnixMicro(due ^ age).UTC()
			task.RemindAt = &r
		}
		v := encodeTask(&task)
		got, err := decodeTask(user, task.ID, v)
		if err != nil || string(got.AppendJSON(nil)) != string(task.AppendJSON(nil)) || got.Spawned != task.Spawned {
			t.Fatalf("decodeTask = %s (spawned %v), %v; want %s", got.AppendJSON(nil), got.Spawned, err, task.AppendJSON(nil))
		}
		var view taskView
		for range 2 { // the second time through reused room
			js, err := appendValueJSON([]byte("["), &view, user, task.ID, v)
			if err != nil || string(js) != "["+string(task.AppendJSON(nil)) {
				t.Fatalf("appendValueJSON = %s, %v; want [%s", js, err, task.AppendJSON(nil))
			}
		}
		h, _ := decodeHeader(v)
		gotTitle, gotDesc, gotTags, err := textFields(h)
		if err != nil || gotTitle != title || !equalDesc(gotDesc, task.Description) || !slices.Equal(gotTags, task.Tags) && len(task.Tags) > 0 {
			t.Fatalf("textFields = %q %v %q %v", gotTitle, gotDesc, gotTags, err)
		}
		d, err := taskDescription(v)
		if err != nil || (d == nil) != (task.Description == nil) || task.Description != nil && string(d) != desc {
			t.Fatalf("taskDescription = %q, %v", d, err)
		}
		for i := 0; i < len(v); i += 1 + len(v)/200 { // a cut value is refused, never read past its end
			if _, err := decodeTask(user, 1, v[:i]); err == nil {
				t.Fatalf("a value cut to %d of %d bytes decoded", i, len(v))
			}
		}
	})
}

// FuzzTextFields: the reader of a format-1 or 2 value's title, description
// and tags (for migrations) agrees with encoding/json on any task
// AppendJSON writes.
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
		gotTitle, gotDesc, gotTags, err := jsonTextFields(js)
		if err != nil || gotTitle != want.Title || !equalDesc(gotDesc, want.Description) || !slices.Equal(gotTags, want.Tags) {
			t.Fatalf("%s: got %q %v %q %v, want %q %v %q", js, gotTitle, gotDesc, gotTags, err, want.Title, want.Description, want.Tags)
		}
	})
}

func equalDesc(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

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

// BenchmarkAppendValueJSON is the cost a list pays per task to write its JSON
// from the stored value.
func BenchmarkAppendValueJSON(b *testing.B) {
	ts := time.Date(2026, 11, 30, 8, 51, 42, 120000000, time.UTC)
	task := store.Task{ID: 1234, UserID: "hV2pX0yq8wQm3nZr7tLk4sBc9dFg1jEa", Title: "task number 000123 buy milk",
		Priority: store.PriorityMedium, Tags: []string{"home", "errands"}, CreatedAt: ts, UpdatedAt: ts.Add(time.Hour)}
	v := encodeTask(&task)
	var view taskView
	dst := make([]byte, 0, 1024)
	for b.Loop() {
		dst, _ = appendValueJSON(dst[:0], &view, task.UserID, task.ID, v)
	}
}
