package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/api/agent"
	"github.com/taskbolt/taskbolt/api/agent/agenttest"
	"github.com/taskbolt/taskbolt/api/metrics"
	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
	"github.com/taskbolt/taskbolt/store/postgres"
	"github.com/taskbolt/taskbolt/store/postgres/pgtest"
)

// The chat door (CONTRACT.md "Chat"), over real HTTP, against the scripted
// model of agenttest served on loopback; on bolt, and on PostgreSQL with
// TASKBOLT_TEST_STORE=postgres.

// scriptedModel serves the scripted model and returns it with an agent
// that asks it.
func scriptedModel(t *testing.T, cfg agent.Config) (*agenttest.Model, *agent.Agent) {
	t.Helper()
	m := &agenttest.Model{}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	cfg.BaseURL, cfg.APIKey, cfg.Model = srv.URL+"/v1", "sk-test", "scripted"
	return m, agent.New(cfg)
}

// chatEnv is the app with chat on over the scripted model.
func chatEnv(t *testing.T, cfg api.Config, chat api.ChatConfig) (*testEnv, *agenttest.Model) {
	t.Helper()
	m, ag := scriptedModel(t, agent.Config{})
	chat.Agent = ag
	cfg.Chat = &chat
	return newEnv(t, cfg), m
}

func (e *testEnv) chat(user, message string, hdr ...string) response {
	e.t.Helper()
	return e.do("POST", "/api/"+user+"/chat", token(e.t, user), `{"message":`+quote(message)+`}`, hdr...)
}

type chatAnswer struct {
	ConversationID uint64 `json:"conversation_id"`
	Response       string `json:"response"`
	ToolCalls      []struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
		Result    json.RawMessage `json:"result"`
		IsError   bool            `json:"is_error"`
	} `json:"tool_calls"`
}

func (r response) chatAnswer(t *testing.T) chatAnswer {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("chat: %d %s", r.status, r.body)
	}
	var a chatAnswer
	r.json(t, &a)
	return a
}

func (e *testEnv) messages(user string, conv uint64) []store.Message {
	e.t.Helper()
	r := e.do("GET", "/api/"+user+"/conversations/"+jsonInt(int64(conv))+"/messages", token(e.t, user), "")
	if r.status != 200 {
		e.t.Fatalf("messages: %d %s", r.status, r.body)
	}
	var msgs []store.Message
	r.json(e.t, &msgs)
	return msgs
}

// TestChatTurns: a turn adds a task through add_task and answers; the next
// turn in the same conversation lists, then completes it by name; the
// conversation, its messages and the tasks are as the turns left them.
func TestChatTurns(t *testing.T) {
	e, model := chatEnv(t, api.Config{}, api.ChatConfig{})
	first := e.chat("alice", "  add Buy milk  ").chatAnswer(t)
	if first.ConversationID != 1 || first.Response != `I've added "Buy milk".` || len(first.ToolCalls) != 1 {
		t.Fatalf("first turn: %+v", first)
	}
	call := first.ToolCalls[0]
	var result struct {
		TaskID uint64     `json:"task_id"`
		Status string     `json:"status"`
		Title  string     `json:"title"`
		Task   store.Task `json:"task"`
	}
	json.Unmarshal(call.Result, &result)
	if call.Name != "add_task" || string(call.Arguments) != `{"title":"Buy milk"}` || call.IsError ||
		result.TaskID != 1 || result.Status != "created" || result.Title != "Buy milk" || result.Task.UserID != "alice" {
		t.Fatalf("the add_task call: %+v (%s)", call, call.Result)
	}
	if got := e.get("alice", 1); got.Title != "Buy milk" || got.Completed {
		t.Fatalf("the task the turn added: %+v", got)
	}
	// The model was given the tools without user_id: the caller is not its to name.
	for _, tool := range model.Last().Tools {
		if _, ok := tool.Function.Parameters["properties"].(map[string]any)["user_id"]; ok {
			t.Fatalf("%s offers the model a user_id", tool.Function.Name)
		}
	}

	second := e.doChat("alice", `{"conversation_id":1,"message":"complete Buy milk"}`).chatAnswer(t)
	if second.ConversationID != 1 || second.Response != "Done: Buy milk." || len(second.ToolCalls) != 2 ||
		second.ToolCalls[0].Name != "list_tasks" || second.ToolCalls[1].Name != "complete_task" ||
		string(second.ToolCalls[1].Arguments) != `{"task_id":1}` {
		t.Fatalf("second turn: %+v", second)
	}
	if !e.get("alice", 1).Completed {
		t.Fatal("the second turn did not complete the task")
	}
	// The model saw the first turn: its message, its tool call and result.
	var sawFirst, sawResult bool
	for _, m := range model.Last().Messages {
		sawFirst = sawFirst || m.Role == "user" && m.Text() == "add Buy milk"
		sawResult = sawResult || m.Role == "tool" && strings.Contains(m.Text(), `"status":"created"`)
	}
	if !sawFirst || !sawResult || model.Last().Messages[0].Role != "system" {
		t.Fatalf("the second turn's history: %+v", model.Last().Messages)
	}

	msgs := e.messages("alice", 1)
	if len(msgs) != 4 || msgs[0].Role != "user" || msgs[0].Content != "add Buy milk" || msgs[0].ToolCalls != nil ||
		msgs[1].Role != "assistant" || msgs[1].Content != first.Response || !strings.Contains(string(msgs[1].ToolCalls), `"add_task"`) ||
		msgs[3].Content != second.Response || msgs[0].ID != 1 || msgs[3].ID != 4 || msgs[2].ConversationID != 1 {
		t.Fatalf("stored messages: %+v", msgs)
	}
	// tool_calls is served on assistant messages only.
	raw := e.do("GET", "/api/alice/conversations/1/messages", token(t, "alice"), "")
	var shapes []map[string]any
	raw.json(t, &shapes)
	if _, has := shapes[0]["tool_calls"]; has || shapes[1]["tool_calls"] == nil || shapes[0]["created_at"] == nil {
		t.Fatalf("message shapes: %s", raw.body)
	}

	e.chat("alice", "hello")
	var convs []map[string]any
	r := e.do("GET", "/api/alice/conversations", token(t, "alice"), "")
	r.json(t, &convs)
	if r.status != 200 || len(convs) != 2 || convs[0]["id"] != 2.0 || convs[1]["title"] != "add Buy milk" || convs[0]["user_id"] != "alice" ||
		convs[0]["created_at"] == nil || convs[0]["updated_at"] == nil {
		t.Fatalf("conversations, newest first: %d %s", r.status, r.body)
	}
}

func (e *testEnv) doChat(user, body string, hdr ...string) response {
	e.t.Helper()
	return e.do("POST", "/api/"+user+"/chat", token(e.t, user), body, hdr...)
}

func (e *testEnv) get(user string, id uint64) store.Task {
	e.t.Helper()
	t, err := e.store.Get(context.Background(), user, id)
	if err != nil {
		e.t.Fatalf("get %s/%d: %v", user, id, err)
	}
	return t
}

// TestChatRequestValidation: every malformed ChatRequest is a 422 in the
// contract's shape, and none reaches the model or the store.
func TestChatRequestValidation(t *testing.T) {
	e, model := chatEnv(t, api.Config{}, api.ChatConfig{})
	long := strings.Repeat("x", 4001)
	for _, c := range []struct{ body, want string }{
		{`{}`, `{"detail":[{"type":"missing","loc":["body","message"],"msg":"Field required","input":{}}]}`},
		{`{"message":"   "}`, `{"detail":[{"type":"string_too_short","loc":["body","message"],"msg":"String should have at least 1 character","input":"   ","ctx":{"min_length":1}}]}`},
		{`{"message":"` + long + `"}`, `{"detail":[{"type":"string_too_long","loc":["body","message"],"msg":"String should have at most 4000 characters","input":"` + long + `","ctx":{"max_length":4000}}]}`},
		{`{"message":7}`, `{"detail":[{"type":"string_type","loc":["body","message"],"msg":"Input should be a valid string","input":7}]}`},
		{`{"message":"hi","conversation_id":"abc"}`, `{"detail":[{"type":"int_parsing","loc":["body","conversation_id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]}`},
		{`{"message":"hi","conversation_id":0}`, `{"detail":[{"type":"greater_than_equal","loc":["body","conversation_id"],"msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}}]}`},
		{`{"message":"hi","conversation_id":-3}`, `{"detail":[{"type":"greater_than_equal","loc":["body","conversation_id"],"msg":"Input should be greater than or equal to 1","input":-3,"ctx":{"ge":1}}]}`},
		{`{"message":"hi","conversation_id":1.5}`, `{"detail":[{"type":"int_from_float","loc":["body","conversation_id"],"msg":"Input should be a valid integer, got a number with a fractional part","input":1.5}]}`},
		{`{"message":"hi","conversation_id":true}`, `{"detail":[{"type":"int_type","loc":["body","conversation_id"],"msg":"Input should be a valid integer","input":true}]}`},
		{`[]`, `{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[]}]}`},
		{`{"message":`, `{"detail":[{"type":"json_invalid","loc":["body",11],"msg":"JSON decode error","input":{},"ctx":{"error":"unexpected end of JSON input"}}]}`},
	} {
		r := e.doChat("alice", c.body)
		wantJSON(t, r, 422, c.want)
	}
	// 4,000 characters after trimming is the most, counted in characters.
	ok := e.doChat("alice", `{"message":" `+strings.Repeat("é", 4000)+` "}`)
	if ok.status != 200 {
		t.Fatalf("4,000 characters: %d %s", ok.status, ok.body)
	}
	if model.Calls() != 1 {
		t.Fatalf("the model was asked %d times; only the valid request reaches it", model.Calls())
	}
	if convs, _ := e.store.(store.ChatStore).Conversations(context.Background(), "alice"); len(convs) != 1 ||
		convs[0].Title != strings.Repeat("é", 80) {
		t.Fatalf("refused requests stored conversations, or the title is not the first 80 characters: %+v", convs)
	}
}

// TestChatOwnerAndConversations: the owner check, and another user's or an
// unknown conversation_id is a 404 that stores nothing.
func TestChatOwnerAndConversations(t *testing.T) {
	e, model := chatEnv(t, api.Config{}, api.ChatConfig{})
	e.chat("alice", "hello")
	wantJSON(t, e.do("POST", "/api/alice/chat", token(t, "bob"), `{"message":"hi"}`), 403, `{"detail":"Not authorized to access these tasks"}`)
	r := e.do("POST", "/api/alice/chat", "", `{"message":"hi"}`)
	wantJSON(t, r, 401, `{"detail":"Not authenticated"}`)
	for _, body := range []string{`{"conversation_id":1,"message":"hi"}`, `{"conversation_id":99,"message":"hi"}`} {
		wantJSON(t, e.doChat("bob", body), 404, `{"detail":"Conversation not found"}`)
	}
	for _, path := range []string{"/api/bob/conversations/1/messages", "/api/bob/conversations/99/messages"} {
		wantJSON(t, e.do("GET", path, token(t, "bob"), ""), 404, `{"detail":"Conversation not found"}`)
	}
	wantJSON(t, e.do("DELETE", "/api/bob/conversations/1", token(t, "bob"), ""), 404, `{"detail":"Conversation not found"}`)
	wantJSON(t, e.do("GET", "/api/alice/conversations/0/messages", token(t, "alice"), ""), 404, `{"detail":"Conversation not found"}`)
	wantJSON(t, e.do("GET", "/api/bob/conversations", token(t, "bob"), ""), 200, `[]`)
	wantJSON(t, e.do("GET", "/api/alice/conversations", token(t, "bob"), ""), 403, `{"detail":"Not authorized to access these tasks"}`)
	if model.Calls() != 1 {
		t.Fatalf("the model was asked %d times", model.Calls())
	}
	if len(e.messages("alice", 1)) != 2 {
		t.Fatal("alice's conversation changed")
	}
	// A delete takes the messages along; the id is not handed out again.
	if r := e.do("DELETE", "/api/alice/conversations/1", token(t, "alice"), ""); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("delete: %d %q", r.status, r.body)
	}
	wantJSON(t, e.do("GET", "/api/alice/conversations/1/messages", token(t, "alice"), ""), 404, `{"detail":"Conversation not found"}`)
	if a := e.chat("alice", "again").chatAnswer(t); a.ConversationID != 2 {
		t.Fatalf("after a delete, a new conversation is %d", a.ConversationID)
	}
	wantJSON(t, e.do("GET", "/api/alice/conversations/x/messages", token(t, "alice"), ""), 422,
		`{"detail":[{"type":"int_parsing","loc":["path","id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"}]}`)
}

// TestChatModelFailures: the model's error is a 502 and no answer within
// CHAT_TIMEOUT a 504, both in the contract's words without their cause
// (which the log has, with the request id); the user's message stays
// stored either way, and chat without a model is a 501.
func TestChatModelFailures(t *testing.T) {
	e, _ := chatEnv(t, api.Config{}, api.ChatConfig{Timeout: 2 * time.Second})
	for i, script := range []string{"fail", "garbage"} {
		r := e.chat("alice", script)
		wantJSON(t, r, 502, `{"detail":"The model service failed"}`)
		rid := r.header.Get("X-Request-ID")
		logs := waitForLog(t, e, `"msg":"chat: the model service failed","request_id":"`+rid+`"`)
		if !strings.Contains(logs, `"err":"the model service failed: `) || !strings.Contains(logs, `"level":"ERROR"`) {
			t.Errorf("%s: the cause is not logged with the request id:\n%s", script, logs)
		}
		msgs := e.messages("alice", uint64(i+1))
		if len(msgs) != 1 || msgs[0].Content != script || msgs[0].Role != "user" {
			t.Fatalf("%s: the user's message was not kept: %+v", script, msgs)
		}
	}
	began := time.Now()
	r := e.chat("alice", "slow 4")
	took := time.Since(began)
	wantJSON(t, r, 504, `{"detail":"The model service timed out"}`)
	if took < 2*time.Second || took > 3500*time.Millisecond {
		t.Fatalf("a 2 s CHAT_TIMEOUT answered after %v", took)
	}
	if msgs := e.messages("alice", 3); len(msgs) != 1 || msgs[0].Content != "slow 4" {
		t.Fatalf("the timed-out message was not kept: %+v", msgs)
	}
	// The conversation goes on after a failure: the next turn answers.
	if a := e.doChat("alice", `{"conversation_id":1,"message":"hello"}`).chatAnswer(t); a.Response != "You said: hello" {
		t.Fatalf("after a failure: %+v", a)
	}

	off := newEnv(t, api.Config{})
	wantJSON(t, off.chat("alice", "hello"), 501, `{"detail":"Chat is not configured"}`)
	wantJSON(t, off.do("GET", "/api/alice/conversations", token(t, "alice"), ""), 200, `[]`)
}

// TestChatDefaultTimeout: CHAT_TIMEOUT is 60 s unless set; a turn that
// the model answers in 3 s is not cut.
func TestChatDefaultTimeout(t *testing.T) {
	if api.DefaultChatTimeout != 60*time.Second {
		t.Fatalf("DefaultChatTimeout = %v, want the contract's 60 s", api.DefaultChatTimeout)
	}
	e, _ := chatEnv(t, api.Config{}, api.ChatConfig{})
	if a := e.chat("alice", "slow 3").chatAnswer(t); a.Response != "Slept." {
		t.Fatalf("a 3 s answer: %+v", a)
	}
}

// TestChatRateLimit: CHAT_RATE_LIMIT turns a minute per user, then a 429
// with Retry-After; another user is not held up.
func TestChatRateLimit(t *testing.T) {
	e, _ := chatEnv(t, api.Config{}, api.ChatConfig{RateLimit: 3})
	for range 3 {
		e.chat("alice", "hi").chatAnswer(t)
	}
	r := e.chat("alice", "hi")
	wantJSON(t, r, 429, `{"detail":"Too many requests"}`)
	if r.header.Get("Retry-After") == "" {
		t.Error("a 429 without Retry-After")
	}
	e.chat("bob", "hi").chatAnswer(t)
}

// TestChatIdempotency: a retry with the same Idempotency-Key gets the first
// answer again without asking the model or storing anything; the same key
// on a different request is a 422.
func TestChatIdempotency(t *testing.T) {
	e, model := chatEnv(t, api.Config{}, api.ChatConfig{})
	first := e.chat("alice", "add Call mom", "Idempotency-Key", "turn-1")
	if first.status != 200 {
		t.Fatalf("%d %s", first.status, first.body)
	}
	calls := model.Calls()
	again := e.chat("alice", "add Call mom", "Idempotency-Key", "turn-1")
	if again.status != 200 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a retry: %d %s %v", again.status, again.body, again.header)
	}
	if model.Calls() != calls {
		t.Fatalf("a retry asked the model again (%d → %d calls)", calls, model.Calls())
	}
	if msgs := e.messages("alice", 1); len(msgs) != 2 {
		t.Fatalf("a retry stored messages: %+v", msgs)
	}
	if tasks, total, _ := e.store.List(context.Background(), "alice", store.DefaultQuery()); total != 1 {
		t.Fatalf("a retry added a task: %+v", tasks)
	}
	wantJSON(t, e.chat("alice", "add something else", "Idempotency-Key", "turn-1"), 422,
		`{"detail":"Idempotency-Key reused with a different request"}`)
}

// TestChatToolsActForTheCallerOnly: whatever the model writes in a tool
// call, alice's turn never reads or changes bob's task: a user_id naming
// bob is refused, and bob's task id is alice's "not found".
func TestChatToolsActForTheCallerOnly(t *testing.T) {
	e, _ := chatEnv(t, api.Config{}, api.ChatConfig{})
	bobs := e.create("bob", "Bob's secret")
	for _, c := range []struct{ script, detail string }{
		{`call complete_task {"task_id":1,"user_id":"bob"}`, "Not authorized to access these tasks"},
		{`call list_tasks {"user_id":"bob"}`, "Not authorized to access these tasks"},
		{`call complete_task {"task_id":1}`, "Task not found"},
		{`call delete_task {"task_id":1}`, "Task not found"},
		{`call update_task {"task_id":1,"title":"mine now"}`, "Task not found"},
		{`call add_task {"title":`, "arguments: Input should be a valid dictionary"},
		{`call add_task {"title":""}`, "title: String should have at least 1 character"},
		{`call drop_tables {}`, "Unknown tool: drop_tables"},
	} {
		a := e.chat("alice", c.script).chatAnswer(t)
		if len(a.ToolCalls) != 1 || !a.ToolCalls[0].IsError || string(a.ToolCalls[0].Result) != `{"detail":`+quote(c.detail)+`}` {
			t.Errorf("%s: %+v", c.script, a.ToolCalls)
		}
	}
	if got := e.get("bob", bobs.ID); got.Title != "Bob's secret" || got.Completed || !got.UpdatedAt.Equal(bobs.UpdatedAt) {
		t.Fatalf("bob's task changed: %+v", got)
	}
	if _, total, _ := e.store.List(context.Background(), "alice", store.DefaultQuery()); total != 0 {
		t.Fatalf("alice has %d tasks after refused calls", total)
	}
	// The broken arguments are shown as the model wrote them, as a string.
	a := e.chat("alice", `call add_task {"title":`).chatAnswer(t)
	if string(a.ToolCalls[0].Arguments) != `"{\"title\":"` {
		t.Fatalf("broken arguments echoed as %s", a.ToolCalls[0].Arguments)
	}
}

// TestChatBounds: at most 8 tool rounds, then the model must answer without
// tools; an answer beyond 32 KiB is cut; the history sent is a window of
// the newest turns that fits the token budget.
func TestChatBounds(t *testing.T) {
	e, model := chatEnv(t, api.Config{}, api.ChatConfig{})
	before := model.Calls()
	a := e.chat("alice", "loop").chatAnswer(t)
	if len(a.ToolCalls) != agent.MaxRounds || model.Calls()-before != agent.MaxRounds+1 {
		t.Fatalf("a model that always calls tools: %d calls in %d requests", len(a.ToolCalls), model.Calls()-before)
	}
	if choice, _ := json.Marshal(model.Last().ToolChoice); string(choice) != `"none"` {
		t.Fatalf("the last request's tool_choice is %s", choice)
	}
	huge := e.chat("alice", "huge").chatAnswer(t)
	if len(huge.Response) > agent.MaxResponseBytes || len(huge.Response) < agent.MaxResponseBytes-32 {
		t.Fatalf("a 100 KB answer came back as %d bytes", len(huge.Response))
	}

	m, ag := scriptedModel(t, agent.Config{HistoryTokens: 600})
	w := newEnv(t, api.Config{Chat: &api.ChatConfig{Agent: ag}})
	w.chat("alice", "turn 0 "+strings.Repeat("old words ", 100)).chatAnswer(t)
	for i := 1; i <= 5; i++ {
		w.doChat("alice", `{"conversation_id":1,"message":"turn `+jsonInt(int64(i))+` `+strings.Repeat("word ", 60)+`"}`).chatAnswer(t)
	}
	var users []string
	for _, msg := range m.Last().Messages {
		if msg.Role == "user" {
			users = append(users, msg.Text()[:6])
		}
	}
	if len(users) < 2 || len(users) > 4 || users[len(users)-1] != "turn 5" || users[0] == "turn 0" {
		t.Fatalf("the window of a 600-token budget sent the user turns %v", users)
	}
}

// TestChatStreams: with Accept: text/event-stream the turn streams its tool
// call, its result and its words, then done with the JSON answer's body; a
// failure after the headers is an error event.
func TestChatStreams(t *testing.T) {
	e, _ := chatEnv(t, api.Config{}, api.ChatConfig{})
	events := chatStream(t, e, "alice", `{"message":"add Stream milk"}`)
	var kinds []string
	var text strings.Builder
	for _, ev := range events {
		if len(kinds) == 0 || kinds[len(kinds)-1] != ev.name {
			kinds = append(kinds, ev.name)
		}
		if ev.name == "delta" {
			var d struct{ Text string }
			json.Unmarshal([]byte(ev.data), &d)
			text.WriteString(d.Text)
		}
	}
	if strings.Join(kinds, ",") != "tool_call,tool_result,delta,done" {
		t.Fatalf("event kinds %v", kinds)
	}
	if events[0].data != `{"arguments":{"title":"Stream milk"},"name":"add_task"}` {
		t.Fatalf("tool_call %s", events[0].data)
	}
	var done chatAnswer
	json.Unmarshal([]byte(events[len(events)-1].data), &done)
	if done.ConversationID != 1 || done.Response != `I've added "Stream milk".` || text.String() != done.Response ||
		len(done.ToolCalls) != 1 || done.ToolCalls[0].IsError {
		t.Fatalf("done %s, deltas %q", events[len(events)-1].data, text.String())
	}
	// The stored answer is the one streamed.
	if msgs := e.messages("alice", 1); len(msgs) != 2 || msgs[1].Content != done.Response {
		t.Fatalf("stored %+v", msgs)
	}
	failed := chatStream(t, e, "alice", `{"message":"fail"}`)
	if last := failed[len(failed)-1]; last.name != "error" || last.data != `{"detail":"The model service failed"}` {
		t.Fatalf("a failed streamed turn ends with %+v", last)
	}
	// Errors found before the stream starts are plain JSON answers.
	r := e.do("POST", "/api/alice/chat", token(t, "alice"), `{"message":""}`, "Accept", "text/event-stream")
	if r.status != 422 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("a 422 with Accept: text/event-stream: %d %s", r.status, r.header.Get("Content-Type"))
	}
}

func chatStream(t *testing.T, e *testEnv, user, body string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest("POST", e.listen()+"/api/"+user+"/chat", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token(t, user))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[len("data: "):]
		case line == "" && cur.name != "":
			out = append(out, cur)
			cur = sseEvent{}
		}
	}
	if len(out) == 0 {
		t.Fatal("no events")
	}
	return out
}

// TestChatMetrics: the tokens the model reports are counted per model, and
// turns per outcome.
func TestChatMetrics(t *testing.T) {
	m := metrics.New()
	e, _ := chatEnv(t, api.Config{Observer: m, MetricsHandler: m.Handler()}, api.ChatConfig{})
	e.chat("alice", "add Count me").chatAnswer(t) // two rounds of 50 prompt and 10 completion tokens
	e.chat("alice", "fail")
	body := string(e.do("GET", "/metrics", "", "").body)
	for _, want := range []string{
		`taskbolt_chat_tokens_total{kind="prompt",model="scripted"} 100`,
		`taskbolt_chat_tokens_total{kind="completion",model="scripted"} 20`,
		`taskbolt_chat_turn_duration_seconds_count{outcome="ok"} 1`,
		`taskbolt_chat_turn_duration_seconds_count{outcome="model_error"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// envOver is the app over st (which the caller closes).
func envOver(t *testing.T, st testStore, cfg api.Config) *testEnv {
	t.Helper()
	v, err := hs256.New(hs256.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg.Store, cfg.Verifier = st, v
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	return &testEnv{t: t, app: api.New(cfg), store: st, logs: logs}
}

// TestChatAcrossRestartAndReplicas: a turn is stateless, so a conversation
// goes on after the server restarts over the same bolt file, and from one
// PostgreSQL replica to another, each turn seeing every earlier one.
func TestChatAcrossRestartAndReplicas(t *testing.T) {
	model, ag := scriptedModel(t, agent.Config{})
	cfg := api.Config{Chat: &api.ChatConfig{Agent: ag}}
	sawTurn := func(want string) {
		t.Helper()
		for _, m := range model.Last().Messages {
			if m.Role == "user" && m.Text() == want {
				return
			}
		}
		t.Fatalf("the model did not see %q: %+v", want, model.Last().Messages)
	}
	t.Run("bolt restart", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "chat.db")
		open := func() *bolt.Store {
			st, err := bolt.Open(path, bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		st := open()
		before := envOver(t, st, cfg)
		before.chat("alice", "add Buy milk").chatAnswer(t)
		before.app.Shutdown()
		st.Close()

		st = open()
		defer st.Close()
		after := envOver(t, st, cfg)
		a := after.doChat("alice", `{"conversation_id":1,"message":"complete Buy milk"}`).chatAnswer(t)
		sawTurn("add Buy milk")
		if a.Response != "Done: Buy milk." || !after.get("alice", 1).Completed || len(after.messages("alice", 1)) != 4 {
			t.Fatalf("after the restart: %+v", a)
		}
	})
	t.Run("postgres replicas", func(t *testing.T) {
		url := pgtest.Schema(t) // skipped without PostgreSQL, but never under CI=true
		replica := func() *testEnv {
			st, err := postgres.Open(context.Background(), url, postgres.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return envOver(t, st, cfg)
		}
		a, b := replica(), replica()
		a.chat("alice", "add Buy milk").chatAnswer(t)
		b.doChat("alice", `{"conversation_id":1,"message":"complete Buy milk"}`).chatAnswer(t)
		sawTurn("add Buy milk")
		if r := a.doChat("alice", `{"conversation_id":1,"message":"list"}`).chatAnswer(t); r.Response != "You have 1 tasks." {
			t.Fatalf("the third turn, back on the first replica: %+v", r)
		}
		sawTurn("complete Buy milk")
		if msgs := b.messages("alice", 1); len(msgs) != 6 {
			t.Fatalf("%d messages across the replicas", len(msgs))
		}
	})
}

// TestChatKeyInProgress: a repeat of a turn still running with the same
// Idempotency-Key is a 409, streamed or not, and the key is free again
// (a replay) once the turn has ended.
func TestChatKeyInProgress(t *testing.T) {
	e, _ := chatEnv(t, api.Config{}, api.ChatConfig{})
	base, tok := e.listen(), token(t, "alice") // before the goroutines: listen starts the server once
	for _, accept := range []string{"application/json", "text/event-stream"} {
		key := "slow-" + accept
		first := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("POST", base+"/api/alice/chat", strings.NewReader(`{"message":"slow 1.5"}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Idempotency-Key", key)
			req.Header.Set("Accept", accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				first <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			first <- resp.StatusCode
		}()
		time.Sleep(500 * time.Millisecond)
		wantJSON(t, e.chat("alice", "slow 1.5", "Idempotency-Key", key), 409, `{"detail":"A request with this Idempotency-Key is in progress"}`)
		if status := <-first; status != 200 {
			t.Fatalf("%s: the first turn: %d", accept, status)
		}
		if r := e.chat("alice", "slow 1.5", "Idempotency-Key", key); r.status != 200 || r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("%s: after the turn: %d %s", accept, r.status, r.body)
		}
	}
}
