package bolt

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

// TestPackedMatchesAMap runs random puts and deletes (keys with long shared
// prefixes, values empty or not, bulk loads) against a packed bucket in a
// real bolt file and a plain map, over many transactions, and after each
// compares every walk a list makes: forwards, backwards, and seeks to keys
// present, absent, before the first and after the last.
func TestPackedMatchesAMap(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "p.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	seq := 0
	key := func() []byte {
		// A stream prefix, a sort part and an id, as index keys are; one in
		// three after every key of its stream, as creates sorted by time or
		// id append to the newest block.
		if rng.IntN(3) == 0 {
			seq++
			return fmt.Appendf(nil, "b%c%c-%06d-%d", '0'+rng.IntN(2), '0'+rng.IntN(4), 5000+seq, 0)
		}
		return fmt.Appendf(nil, "b%c%c-%06d-%d", '0'+rng.IntN(2), '0'+rng.IntN(4), rng.IntN(5000), rng.IntN(3))
	}
	want := map[string]string{}
	check := func(tx *bbolt.Tx) {
		t.Helper()
		p := packed{b: tx.Bucket([]byte("p"))}
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var got []string
		err := p.ForEach(func(k, v []byte) error {
			if want[string(k)] != string(v) {
				return fmt.Errorf("%s = %q, want %q", k, v, want[string(k)])
			}
			got = append(got, string(k))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, keys) {
			t.Fatalf("forwards: %d keys, want %d", len(got), len(keys))
		}
		c := p.Cursor()
		got = got[:0]
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			got = append(got, string(k))
		}
		slices.Reverse(got)
		if !slices.Equal(got, keys) {
			t.Fatalf("backwards: %d keys, want %d", len(got), len(keys))
		}
		for range 200 {
			probe := key()
			switch rng.IntN(4) {
			case 0:
				probe = []byte("a") // before every key
			case 1:
				probe = []byte("c") // after every key
			}
			i, _ := slices.BinarySearch(keys, string(probe))
			k, v := c.Seek(probe)
			if i == len(keys) {
				if k != nil {
					t.Fatalf("Seek(%s) = %s, want the end", probe, k)
				}
				continue
			}
			if string(k) != keys[i] || string(v) != want[keys[i]] {
				t.Fatalf("Seek(%s) = %s, want %s", probe, k, keys[i])
			}
			// Step either way from a seek, as a descending list does.
			if pk, _ := c.Prev(); i > 0 && string(pk) != keys[i-1] || i == 0 && pk != nil {
				t.Fatalf("Prev after Seek(%s) = %s", probe, pk)
			}
		}
		blocks := tx.Bucket([]byte("p")).Cursor()
		for bk, bv := blocks.First(); bk != nil; bk, bv = blocks.Next() {
			es, _, err := decodeBlock(bk, bv, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(bv) > maxBlock && len(es) > 1 {
				t.Fatalf("block %s holds %d bytes", bk, len(bv))
			}
		}
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("p"))
		if err != nil {
			return err
		}
		var es []entry
		for range 3000 {
			k := key()
			if _, ok := want[string(k)]; ok {
				continue
			}
			v := []byte(nil)
			if rng.IntN(2) == 0 {
				v = fmt.Appendf(nil, "v%d", rng.IntN(100))
			}
			want[string(k)] = string(v)
			es = append(es, entry{k, v})
		}
		slices.SortFunc(es, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
		return packed{b: b}.load(es)
	}); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bbolt.Tx) error { check(tx); return nil })
	for round := range 60 {
		if err := db.Update(func(tx *bbolt.Tx) error {
			p := packed{b: tx.Bucket([]byte("p"))}
			if round%3 > 0 {
				// As the store writes: remembering the blocks it appends to
				// for the rest of the transaction.
				p.tails = tailsIfWritable(p.b)
			}
			for range 300 {
				k := key()
				// Early rounds mostly add, later ones mostly delete, down to
				// a nearly empty bucket.
				if rng.IntN(60) < 60-round {
					v := []byte(nil)
					if rng.IntN(2) == 0 {
						v = fmt.Appendf(nil, "v%d", rng.IntN(100))
					}
					want[string(k)] = string(v)
					if err := p.Put(k, v); err != nil {
						return err
					}
				} else {
					// Delete a key that is there, or sometimes one that is not.
					for have := range want {
						if rng.IntN(4) > 0 {
							k = []byte(have)
						}
						break
					}
					delete(want, string(k))
					if err := p.Delete(k); err != nil {
						return err
					}
				}
			}
			check(tx)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPackedRefusesDamage: every way a block can be cut short or out of
// order is an error, never a panic or a silently shorter list.
func TestPackedRefusesDamage(t *testing.T) {
	es := []entry{{[]byte("key-001"), nil}, {[]byte("key-002"), []byte("v")}, {[]byte("key-010"), nil}}
	good := encodeBlock(es)
	if got, _, err := decodeBlock(es[0].k, good, nil, nil); err != nil || len(got) != 3 {
		t.Fatalf("good block: %d entries, %v", len(got), err)
	}
	for n := range len(good) {
		if _, _, err := decodeBlock(es[0].k, good[:n], nil, nil); err == nil && n > 0 && !validPrefix(es[0].k, good[:n]) {
			t.Errorf("a block cut at %d of %d bytes decoded", n, len(good))
		}
	}
	// The first entry spelled out in full as key-001, under the key key-000.
	if _, _, err := decodeBlock([]byte("key-000"), append([]byte{0, 7}, "key-001\x00"...), nil, nil); err == nil {
		t.Error("a block whose first entry is not its key decoded")
	}
	swapped := encodeBlock([]entry{es[1], es[0]})
	if _, _, err := decodeBlock(es[1].k, swapped, nil, nil); err == nil {
		t.Error("a block with keys out of order decoded")
	}
}

// validPrefix reports whether cut is a whole number of entries: a block cut
// between two entries is well-formed, only shorter.
func validPrefix(key, cut []byte) bool {
	for n := 1; n <= 3; n++ {
		es := []entry{{[]byte("key-001"), nil}, {[]byte("key-002"), []byte("v")}, {[]byte("key-010"), nil}}
		if bytes.Equal(encodeBlock(es[:n]), cut) {
			return true
		}
	}
	return false
}

// TestMigrateFromV4 makes a schema-4 file (one bbolt entry per index entry)
// of a big indexed user, opens it, and finds it migrated: Check clean, and
// every sort and filter listing what it listed before.
func TestMigrateFromV4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.db")
	s, err := Open(path, Options{IndexAfter: 50})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tasks := make([]store.Task, 700)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range tasks {
		tasks[i] = store.Task{Title: fmt.Sprintf("task %03d", (i*37)%700), Priority: store.Priority(i % 4),
			Tags: [][]string{{}, {"home"}, {"work", "home"}}[i%3], Completed: i%5 == 0, CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if i%2 == 0 {
			due := base.Add(time.Duration(i%90) * 24 * time.Hour)
			tasks[i].DueDate = &due
		}
	}
	if _, err := s.Load(ctx, "alice", 0, tasks); err != nil {
		t.Fatal(err)
	}
	lists := func(s *Store) []string {
		var out []string
		before := base.Add(40 * 24 * time.Hour)
		overdue := true
		for _, k := range store.SortKeys {
			for _, desc := range []bool{false, true} {
				for fi, f := range []func(*store.ListQuery){
					func(*store.ListQuery) {},
					func(q *store.ListQuery) { q.Status = store.StatusCompleted },
					func(q *store.ListQuery) { q.Priorities = []store.Priority{store.PriorityHigh} },
					func(q *store.ListQuery) { q.Tags = []string{"work"} },
					func(q *store.ListQuery) { q.DueBefore = &before },
					func(q *store.ListQuery) { q.Overdue, q.Now = &overdue, before },
				} {
					q := store.ListQuery{Status: store.StatusAll, Sort: store.SortKey(k), Desc: desc, Limit: 30, Offset: 10}
					f(&q)
					got, total, err := s.List(ctx, "alice", q)
					if err != nil {
						t.Fatal(err)
					}
					ids := make([]uint64, len(got))
					for i := range got {
						ids[i] = got[i].ID
					}
					out = append(out, fmt.Sprintf("sort %s desc %v filter %d: %d %v", k, desc, fi, total, ids))
				}
			}
		}
		return out
	}
	want := lists(s)
	s.Close()

	downgrade(t, path, 4)

	s, err = Open(path, Options{IndexAfter: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("after migration: %v", err)
	}
	if got := lists(s); !slices.Equal(got, want) {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("after migration\n%s\nwant\n%s", got[i], want[i])
			}
		}
	}
	s.db.View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(usersBucket).Bucket([]byte("alice")).Bucket(idxBucket).Bucket(sortBuckets[store.SortCreated]).Stats().KeyN; n > 100 {
			t.Errorf("created bucket holds %d bbolt entries after migration: not packed", n)
		}
		return nil
	})
}

// TestSearchReadsADescriptionNotRepeated: an indexed user's rec does not
// keep the folded form of an ASCII title or description (nor the
// description itself); a search still finds words in them, in any case,
// and in a description that is not ASCII.
func TestSearchReadsADescriptionNotRepeated(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{IndexAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	lower, mixed := strings.Repeat("x", 200)+" water the plants", "Call The Plumber in Zürich"
	for _, in := range []store.NewTask{{Title: "one", Description: &lower}, {Title: "two", Description: &mixed}, {Title: "three"}} {
		if _, err := s.Create(ctx, "alice", in); err != nil {
			t.Fatal(err)
		}
	}
	for search, want := range map[string]string{"Plants": "one", "plumber": "two", "THE": "one two", "thr": "three", "zÜRich": "two"} {
		q := store.DefaultQuery()
		q.Search, q.Sort, q.Desc = store.FoldText(search), store.SortID, false
		got, total, err := s.List(ctx, "alice", q)
		var titles []string
		for _, g := range got {
			titles = append(titles, g.Title)
		}
		if err != nil || fmt.Sprint(titles) != "["+want+"]" || total != len(titles) {
			t.Errorf("q=%s: %v (%d) %v, want [%s]", search, titles, total, err, want)
		}
	}
}

// TestPackedTailsFollowRewrites: a block the transaction appended to is
// remembered (blockTails); when a later write rewrites it another way (a
// key put before the first block renames it, deletes merge it into the
// block before), appends after that go where the block is now, never to a
// copy under its old key.
func TestPackedTailsFollowRewrites(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "p.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := func(i int) []byte { return fmt.Appendf(nil, "b01-%06d", i) }
	want := map[string]bool{}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("p"))
		if err != nil {
			return err
		}
		p := packed{b: b, tails: tailsIfWritable(b)}
		put := func(i int) {
			t.Helper()
			if err := p.Put(key(i), nil); err != nil {
				t.Fatal(err)
			}
			want[string(key(i))] = true
		}
		del := func(i int) {
			t.Helper()
			if err := p.Delete(key(i)); err != nil {
				t.Fatal(err)
			}
			delete(want, string(key(i)))
		}
		// Appends fill several blocks; the last one is a tail.
		for i := 100; i < 300; i++ {
			put(i)
		}
		// A key before every other renames the first block, then more
		// appends.
		put(1)
		for i := 300; i < 320; i++ {
			put(i)
		}
		// Emptying the blocks before the last merges it into them.
		for i := 100; i < 290; i++ {
			del(i)
		}
		for i := 320; i < 400; i++ {
			put(i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bbolt.Tx) error {
		var got []string
		if err := (packed{b: tx.Bucket([]byte("p"))}).ForEach(func(k, _ []byte) error {
			got = append(got, string(k))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		keys := slices.Sorted(maps.Keys(want))
		if !slices.Equal(got, keys) {
			t.Errorf("the bucket holds %d keys, want %d: %q…", len(got), len(keys), got[:min(5, len(got))])
		}
		return nil
	})
}
