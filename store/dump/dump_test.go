package dump_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"taskbolt/store"
	"taskbolt/store/bolt"
	"taskbolt/store/dump"
)

// exportOf makes a real export of a bolt store with a few users.
func exportOf(t *testing.T) []byte {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, u := range []string{"alice", "bob", "carol"} {
		for range 3 {
			if _, err := s.Create(context.Background(), u, store.NewTask{Title: "task of " + u}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if n, err := dump.Export(context.Background(), s, &buf, "", nil); err != nil || n != 9 {
		t.Fatalf("export: %d %v", n, err)
	}
	return buf.Bytes()
}

func TestCopy(t *testing.T) {
	doc := exportOf(t)
	t.Run("OK", func(t *testing.T) {
		var out bytes.Buffer
		var counts []int
		n, err := dump.Copy(&out, bytes.NewReader(doc), func(n int) { counts = append(counts, n) })
		if err != nil || n != 9 {
			t.Fatalf("%d %v", n, err)
		}
		if !bytes.Equal(out.Bytes(), doc) {
			t.Errorf("copy differs:\n%s\n%s", out.Bytes(), doc)
		}
		if len(counts) != 3 || counts[2] != 9 {
			t.Errorf("progress %v", counts)
		}
	})
	t.Run("ErrTruncated", func(t *testing.T) {
		for _, cut := range []int{0, 10, len(doc) / 2, len(doc) - 3} {
			var out bytes.Buffer
			if _, err := dump.Copy(&out, bytes.NewReader(doc[:cut]), nil); err == nil {
				t.Errorf("a document cut at %d of %d bytes copied without error", cut, len(doc))
			}
		}
	})
	t.Run("ErrNotAnExport", func(t *testing.T) {
		for _, in := range []string{`[]`, `{"format":"other","users":[]}`, `{"version":99,"users":[]}`, `{"format":"taskbolt-export"}`, `{"users":[],"extra":1}`} {
			if _, err := dump.Copy(&bytes.Buffer{}, strings.NewReader(in), nil); err == nil {
				t.Errorf("%s: no error", in)
			}
		}
	})
}

func TestBatches(t *testing.T) {
	u := dump.User{UserID: "alice", LastID: 500}
	for i := range 300 {
		u.Tasks = append(u.Tasks, dump.Task{ID: uint64(i + 1), Title: strings.Repeat("t", 1+i%50), CreatedAt: time.Now().Format(store.TimeLayout)})
	}
	batches, err := u.Batches(2000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, b := range batches {
		if b.UserID != "alice" || b.LastID != 500 {
			t.Errorf("batch header %q %d", b.UserID, b.LastID)
		}
		body, _ := json.Marshal(b.Tasks)
		if len(body) > 2000 {
			t.Errorf("a batch of %d bytes, over 2000", len(body))
		}
		for _, task := range b.Tasks {
			ids = append(ids, task.ID)
		}
	}
	if len(batches) < 5 || len(ids) != 300 {
		t.Fatalf("%d batches with %d tasks", len(batches), len(ids))
	}
	for i, id := range ids {
		if id != uint64(i+1) {
			t.Fatalf("order lost at %d: %d", i, id)
		}
	}
	if empty, _ := (dump.User{UserID: "bob", LastID: 7}).Batches(2000); len(empty) != 1 || empty[0].LastID != 7 {
		t.Errorf("a user without tasks must still send its last_id: %+v", empty)
	}
}
