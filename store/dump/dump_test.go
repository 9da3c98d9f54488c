package dump_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
	"github.com/taskbolt/taskbolt/store/dump"
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

// TestImportVersion1 reads an export written by taskbolt before version 2:
// its tasks come in with the new fields at their defaults.
func TestImportVersion1(t *testing.T) {
	v1 := `{"format":"taskbolt-export","version":1,"users":[
{"user_id":"alice","last_id":4,"tasks":[{"id":2,"title":"old","description":null,"completed":true,"created_at":"2026-01-02T03:04:05.000006Z","updated_at":"2026-01-02T03:04:05.000007Z"}]}
]}`
	doc, err := dump.Read(strings.NewReader(v1))
	if err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := dump.Import(context.Background(), s, doc, nil); err != nil || n != 1 {
		t.Fatalf("%d %v", n, err)
	}
	got, err := s.Get(context.Background(), "alice", 2)
	if err != nil || got.Title != "old" || !got.Completed || got.Priority != store.PriorityNone || got.Tags == nil || len(got.Tags) != 0 ||
		got.DueDate != nil || got.Recurrence != store.RecurNone || got.CreatedAt != time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC) {
		t.Errorf("imported %+v %v", got, err)
	}
	if next, _ := s.Create(context.Background(), "alice", store.NewTask{Title: "n"}); next.ID != 5 {
		t.Errorf("next id %d, want 5", next.ID)
	}
	var out bytes.Buffer
	dump.Export(context.Background(), s, &out, "", nil)
	if !strings.HasPrefix(out.String(), `{"format":"taskbolt-export","version":3,`) {
		t.Errorf("export header %.60s", out.String())
	}
}

// TestConversationsRoundTrip exports a user's tasks with their
// conversations and a user who has only chatted, reads the document back,
// and imports it (whole, and in small batches) into a fresh store: the
// conversations, messages, ids and times come back as they were.
func TestConversationsRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, err := bolt.Open(filepath.Join(t.TempDir(), "src.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.Create(ctx, "alice", store.NewTask{Title: "a task"})
	conv, _, _ := src.AddMessage(ctx, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "add milk"})
	src.AddMessage(ctx, "alice", conv.ID, store.NewMessage{Role: store.RoleAssistant, Content: "Added.",
		ToolCalls: json.RawMessage(`[{"name":"add_task","arguments":{"title":"milk"},"result":{"task_id":2},"is_error":false}]`)})
	for i := range 5 {
		src.AddMessage(ctx, "zed", 0, store.NewMessage{Role: store.RoleUser, Content: strings.Repeat("long words ", 20) + string(rune('a'+i))})
	}
	var buf bytes.Buffer
	if _, err := dump.Export(ctx, src, &buf, "", nil); err != nil {
		t.Fatal(err)
	}
	doc, err := dump.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(doc.Users) != 2 || len(doc.Users[0].Conversations) != 1 || len(doc.Users[0].Conversations[0].Messages) != 2 ||
		doc.Users[1].UserID != "zed" || len(doc.Users[1].Tasks) != 0 || len(doc.Users[1].Conversations) != 5 {
		t.Fatalf("the export's users: %s", buf.String())
	}
	dumpChats := func(s *bolt.Store) string {
		var all []store.Conversation
		s.DumpChats(ctx, func(_ string, convs []store.Conversation) error { all = append(all, convs...); return nil })
		b, _ := json.Marshal(all)
		return string(b)
	}
	want := dumpChats(src)
	for _, batch := range []int{1 << 20, 300} {
		dst, err := bolt.Open(filepath.Join(t.TempDir(), "dst.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range doc.Users {
			parts, err := u.Batches(batch)
			if err != nil {
				t.Fatal(err)
			}
			if batch == 300 && u.UserID == "zed" && len(parts) < 3 {
				t.Fatalf("zed's five conversations in %d parts of at most 300 bytes", len(parts))
			}
			for _, p := range parts {
				if _, err := p.Load(ctx, dst); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := dumpChats(dst); got != want {
			t.Fatalf("batches of %d: imported\n%s\nwant\n%s", batch, got, want)
		}
		if err := dst.Check(ctx); err != nil {
			t.Fatal(err)
		}
		dst.Close()
	}
	// A message that no store would have written is refused, with where.
	bad := strings.Replace(buf.String(), `"role":"assistant"`, `"role":"system"`, 1)
	if _, err := dump.Read(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "conversations[0]: messages[1]: role") {
		t.Fatalf("a system message imported: %v", err)
	}
}
