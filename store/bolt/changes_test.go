package bolt_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

// TestLogRetention: a change leaves the log only once it is past both the
// last store.LogKeep changes and store.LogMinAge; a reader behind that is
// told of the gap.
func TestLogRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	bolt.SetLogClock(t, func() time.Time { return now })
	s := MustOpen(t, bolt.Options{})
	task, _ := s.Create(ctx, "alice", store.NewTask{Title: "x"})
	for range store.LogKeep + 9 { // 1,010 changes within the hour: all kept
		s.Update(ctx, "alice", task.ID, store.Patch{ToggleCompleted: true})
	}
	if got, _, gap, _ := s.Changes(ctx, "alice", 0, 5); gap || len(got) != 5 || got[0].Seq != 1 {
		t.Fatalf("within the hour every change is kept: %v gap=%v", len(got), gap)
	}
	all, last, gap, _ := s.Changes(ctx, "alice", 0, 2000)
	if gap || len(all) != 1010 || last != 1010 {
		t.Fatalf("all 1,010 changes: got %d, last %d, gap=%v", len(all), last, gap)
	}
	for i, c := range all {
		if c.Seq != uint64(i+1) || c.TaskID != task.ID || !strings.Contains(string(c.Data), fmt.Sprintf(`"completed":%t`, i%2 == 1)) {
			t.Fatalf("change %d: %+v %s", i+1, c, c.Data)
		}
	}
	now = now.Add(2 * time.Hour)
	// Pruning happens as the newest changes move to the log bucket: after a
	// few more changes the oldest are gone.
	for range 20 {
		s.Update(ctx, "alice", task.ID, store.Patch{ToggleCompleted: true})
	}
	got, last, gap, _ := s.Changes(ctx, "alice", 0, 5)
	if !gap || len(got) != 0 || last != 1030 {
		t.Fatalf("a reader from 0 after pruning: %d changes, last %d, gap=%v", len(got), last, gap)
	}
	got, _, gap, _ = s.Changes(ctx, "alice", last-store.LogKeep, 5)
	if gap || len(got) != 5 || got[0].Seq != last-store.LogKeep+1 {
		t.Fatalf("the last %d changes are kept: %+v gap=%v", store.LogKeep, got, gap)
	}
	if _, _, gap, _ := s.Changes(ctx, "alice", 10, 5); !gap {
		t.Error("change 11 was pruned, yet a reader after 10 sees no gap")
	}
}

// TestLogOfLargeChanges: a change larger than the tail goes through it to the
// log bucket whole, in order with the small ones around it.
func TestLogOfLargeChanges(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, bolt.Options{})
	big := strings.Repeat("é", 3000)
	var want []string
	for i := range 12 {
		title := fmt.Sprintf("small %d", i)
		if i%4 == 1 {
			title = big
		}
		if _, err := s.Create(ctx, "alice", store.NewTask{Title: title}); err != nil {
			t.Fatal(err)
		}
		want = append(want, title)
	}
	got, last, gap, err := s.Changes(ctx, "alice", 0, 100)
	if err != nil || gap || last != 12 || len(got) != 12 {
		t.Fatalf("%d changes, last %d, gap %v, %v", len(got), last, gap, err)
	}
	for i, c := range got {
		if c.Seq != uint64(i+1) || !strings.Contains(string(c.Data), fmt.Sprintf(`"title":%q`, want[i])) {
			t.Errorf("change %d: seq %d, data %.60s", i+1, c.Seq, c.Data)
		}
	}
	for after := range uint64(12) { // resuming anywhere, across both parts of the log
		got, _, gap, _ := s.Changes(ctx, "alice", after, 3)
		if gap || len(got) != min(3, 12-int(after)) || got[0].Seq != after+1 {
			t.Errorf("after %d: %d changes, gap %v", after, len(got), gap)
		}
	}
}

// TestMigrateLogTo4: a schema-3 file kept the whole log in the log bucket,
// its sequence the user's; after the migration those changes read as before
// and the next change continues the sequence.
func TestMigrateLogTo4(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	task, _ := s.Create(ctx, "alice", store.NewTask{Title: "x"})
	s.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *bbolt.Tx) error { // as schema 3 wrote it: 5 changes in the log bucket
		tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("3"))
		user := tx.Bucket([]byte("users")).Bucket([]byte("alice"))
		user.Delete([]byte("logtail"))
		log, err := user.CreateBucket([]byte("log"))
		if err != nil {
			return err
		}
		for seq := uint64(1); seq <= 5; seq++ {
			v := []byte{byte(store.ChangeUpdated)}
			v = binary.BigEndian.AppendUint64(v, uint64(at.UnixMicro()))
			v = binary.BigEndian.AppendUint64(v, task.ID)
			log.Put(binary.BigEndian.AppendUint64(nil, seq), fmt.Appendf(v, `{"n":%d}`, seq))
		}
		return log.SetSequence(5)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if seq, err := s.Seq(ctx, "alice"); seq != 5 || err != nil {
		t.Fatalf("seq after migration %d %v, want 5", seq, err)
	}
	s.Update(ctx, "alice", task.ID, store.Patch{ToggleCompleted: true})
	got, last, gap, err := s.Changes(ctx, "alice", 3, 10)
	if err != nil || gap || last != 6 || len(got) != 3 || string(got[0].Data) != `{"n":4}` || !got[0].At.Equal(at) || got[2].Seq != 6 {
		t.Fatalf("changes after 3: %+v last %d gap %v %v", got, last, gap, err)
	}
}
