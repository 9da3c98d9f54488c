package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

func chatOf(t *testing.T, s store.Store) store.ChatStore {
	t.Helper()
	c, ok := s.(store.ChatStore)
	if !ok {
		t.Fatalf("%T keeps no conversations (store.ChatStore)", s)
	}
	return c
}

func addMessage(t *testing.T, c store.ChatStore, owner string, conv uint64, m store.NewMessage) (store.Conversation, store.Message) {
	t.Helper()
	cv, msg, err := c.AddMessage(ctx, owner, conv, m)
	if err != nil {
		t.Fatalf("AddMessage(%s, %d): %v", owner, conv, err)
	}
	return cv, msg
}

// testChat: conversations and messages per owner, ids from 1 never reused,
// titles from the first message, newest conversation first, messages in
// order, deletes that take the messages along, and no owner reaching
// another's.
func testChat(t *testing.T, s store.Store) {
	c := chatOf(t, s)
	long := strings.Repeat("é", 100) + " tail"
	conv, m1 := addMessage(t, c, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: long})
	if conv.ID != 1 || m1.ID != 1 || m1.ConversationID != 1 || conv.UserID != "alice" {
		t.Fatalf("first conversation %+v, message %+v", conv, m1)
	}
	if conv.Title != strings.Repeat("é", 80) {
		t.Fatalf("title %q, want the first 80 characters", conv.Title)
	}
	calls := json.RawMessage(`[{"name":"add_task","arguments":{"title":"x"},"result":{"task_id":1},"is_error":false}]`)
	conv2, m2 := addMessage(t, c, "alice", 1, store.NewMessage{Role: store.RoleAssistant, Content: "Added.", ToolCalls: calls})
	if conv2.ID != 1 || m2.ID != 2 || conv2.Title != conv.Title || !conv2.CreatedAt.Equal(conv.CreatedAt) || !conv2.UpdatedAt.After(conv.UpdatedAt) && !conv2.UpdatedAt.Equal(conv.UpdatedAt) {
		t.Fatalf("second message: %+v %+v (first %+v)", conv2, m2, conv)
	}
	time.Sleep(2 * time.Millisecond)
	other, _ := addMessage(t, c, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "second chat"})
	if other.ID != 2 {
		t.Fatalf("second conversation id %d", other.ID)
	}
	bob, bm := addMessage(t, c, "bob", 0, store.NewMessage{Role: store.RoleUser, Content: "bob's"})
	if bob.ID != 1 || bm.ID != 1 {
		t.Fatalf("bob's ids start at 1: %+v %+v", bob, bm)
	}

	msgs, err := c.Messages(ctx, "alice", 1)
	if err != nil || len(msgs) != 2 || msgs[0].Content != long || msgs[0].Role != store.RoleUser || msgs[0].ToolCalls != nil ||
		msgs[1].Role != store.RoleAssistant || string(msgs[1].ToolCalls) != string(calls) || msgs[0].CreatedAt.Location() != time.UTC {
		t.Fatalf("messages of 1: %v %+v", err, msgs)
	}
	convs, err := c.Conversations(ctx, "alice")
	if err != nil || len(convs) != 2 || convs[0].ID != 2 || convs[1].ID != 1 {
		t.Fatalf("alice's conversations, newest first: %v %+v", err, convs)
	}
	// Touching the older one moves it first.
	time.Sleep(2 * time.Millisecond)
	addMessage(t, c, "alice", 1, store.NewMessage{Role: store.RoleUser, Content: "again"})
	if convs, _ = c.Conversations(ctx, "alice"); convs[0].ID != 1 {
		t.Fatalf("the conversation just used is not first: %+v", convs)
	}

	// Isolation: bob reaches none of alice's, by any id.
	for _, id := range []uint64{0, 2, 3} { // alice has 1 and 2, bob 1
		if _, err := c.Messages(ctx, "bob", id); !errors.Is(err, store.ErrConversationNotFound) {
			t.Fatalf("bob reads conversation %d: %v", id, err)
		}
		if id == 0 {
			continue // AddMessage's new conversation
		}
		if _, _, err := c.AddMessage(ctx, "bob", id, store.NewMessage{Role: store.RoleUser, Content: "x"}); !errors.Is(err, store.ErrConversationNotFound) {
			t.Fatalf("bob writes to conversation %d: %v", id, err)
		}
		if err := c.DeleteConversation(ctx, "bob", id); !errors.Is(err, store.ErrConversationNotFound) {
			t.Fatalf("bob deletes conversation %d: %v", id, err)
		}
	}
	if msgs, _ := c.Messages(ctx, "bob", 1); len(msgs) != 1 || msgs[0].Content != "bob's" {
		t.Fatalf("bob's messages: %+v", msgs)
	}
	if _, err := c.Conversations(ctx, "not/valid"); !errors.Is(err, store.ErrInvalidOwner) {
		t.Fatalf("an invalid owner: %v", err)
	}

	// A delete takes the messages; ids are never handed out again.
	if err := c.DeleteConversation(ctx, "alice", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Messages(ctx, "alice", 2); !errors.Is(err, store.ErrConversationNotFound) {
		t.Fatalf("a deleted conversation's messages: %v", err)
	}
	if err := c.DeleteConversation(ctx, "alice", 2); !errors.Is(err, store.ErrConversationNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	next, nm := addMessage(t, c, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "third"})
	if next.ID != 3 || nm.ID != 5 {
		t.Fatalf("after a delete: conversation %d message %d, want 3 and 5", next.ID, nm.ID)
	}
	// Tasks and conversations do not share ids or counts.
	if task := MustCreate(t, s, "alice", "a task"); task.ID != 1 {
		t.Fatalf("alice's first task has id %d", task.ID)
	}
}

// testChatIdempotency: a user message with a key is refused once the key
// holds an outcome; the assistant message records the outcome in its write.
func testChatIdempotency(t *testing.T, s store.Store) {
	c := chatOf(t, s)
	check := idem("turn-1", "POST chat hello", time.Hour)
	check.Outcome = nil
	conv, _ := addMessage(t, c, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "hello", Idem: check})
	record := idem("turn-1", "POST chat hello", time.Hour)
	record.Outcome = func(*store.Task) store.Outcome {
		return store.Outcome{Status: 200, Body: []byte(`{"conversation_id":1,"response":"hi","tool_calls":[]}`)}
	}
	addMessage(t, c, "alice", conv.ID, store.NewMessage{Role: store.RoleAssistant, Content: "hi", ToolCalls: json.RawMessage(`[]`), Idem: record})

	var r *store.Replayed
	again := idem("turn-1", "POST chat hello", time.Hour)
	again.Outcome = nil
	if _, _, err := c.AddMessage(ctx, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "hello", Idem: again}); !errors.As(err, &r) ||
		r.Outcome.Status != 200 || !strings.Contains(string(r.Outcome.Body), `"response":"hi"`) {
		t.Fatalf("a retry: %v %+v", err, r)
	}
	other := idem("turn-1", "POST chat something else", time.Hour)
	other.Outcome = nil
	if _, _, err := c.AddMessage(ctx, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "else", Idem: other}); !errors.Is(err, store.ErrKeyReused) {
		t.Fatalf("a key reused: %v", err)
	}
	if convs, _ := c.Conversations(ctx, "alice"); len(convs) != 1 {
		t.Fatalf("a replay or a refusal wrote a conversation: %+v", convs)
	}
	// The key is alice's: bob's same key is free.
	bobs := idem("turn-1", "POST chat hello", time.Hour)
	bobs.Outcome = nil
	if _, _, err := c.AddMessage(ctx, "bob", 0, store.NewMessage{Role: store.RoleUser, Content: "hello", Idem: bobs}); err != nil {
		t.Fatalf("bob's key: %v", err)
	}
}

// testChatConcurrent: concurrent messages to one conversation all land,
// with distinct ids.
func testChatConcurrent(t *testing.T, s store.Store) {
	c := chatOf(t, s)
	conv, _ := addMessage(t, c, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "start"})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, _, err := c.AddMessage(ctx, "alice", conv.ID, store.NewMessage{Role: store.RoleUser, Content: fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	msgs, err := c.Messages(ctx, "alice", conv.ID)
	if err != nil || len(msgs) != 21 {
		t.Fatalf("%v: %d messages, want 21", err, len(msgs))
	}
	for i, m := range msgs {
		if m.ID != uint64(i+1) {
			t.Fatalf("message %d has id %d: ids are 1 to 21 in order", i, m.ID)
		}
	}
}

// testChatDumpAndLoad: conversations come back as they were, and loading
// twice changes nothing.
func testChatDumpAndLoad(t *testing.T, src, dst store.Store) {
	from, to := chatOf(t, src), chatOf(t, dst)
	conv, _ := addMessage(t, from, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "hello\x00there"})
	addMessage(t, from, "alice", conv.ID, store.NewMessage{Role: store.RoleAssistant, Content: "hi", ToolCalls: json.RawMessage(`[]`)})
	addMessage(t, from, "bob", 0, store.NewMessage{Role: store.RoleUser, Content: "bob"})
	dump := func(c store.ChatStore) map[string][]store.Conversation {
		out := map[string][]store.Conversation{}
		err := c.(store.ChatDumper).DumpChats(ctx, func(owner string, convs []store.Conversation) error {
			out[owner] = slices.Clone(convs)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := dump(from)
	if len(want["alice"]) != 1 || len(want["alice"][0].Messages) != 2 || len(want["bob"]) != 1 {
		t.Fatalf("dumped %+v", want)
	}
	for range 2 {
		for owner, convs := range want {
			if err := to.(store.ChatDumper).LoadChats(ctx, owner, convs); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := dump(to)
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if string(wantJSON) != string(gotJSON) {
		t.Fatalf("loaded\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	if next, m := addMessage(t, to, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "new"}); next.ID != 2 || m.ID != 3 {
		t.Fatalf("after a load: conversation %d message %d, want 2 and 3", next.ID, m.ID)
	}
	if err := dst.(store.Resetter).Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if convs, _ := to.Conversations(ctx, "alice"); len(convs) != 0 {
		t.Fatalf("after a reset: %+v", convs)
	}
	if next, _ := addMessage(t, to, "alice", 0, store.NewMessage{Role: store.RoleUser, Content: "new"}); next.ID != 1 {
		t.Fatalf("after a reset the first conversation is %d", next.ID)
	}
}
