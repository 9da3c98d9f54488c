package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/api/metrics"
	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/store"
)

// bearer adds a token to every request of an MCP client.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func newMCPEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnv(t, api.Config{MCP: &api.MCPConfig{AuthorizationServers: []string{"https://auth.example.com"}}})
}

// mcpSession connects the official Go SDK's client to the app's /mcp as
// user, over HTTP.
func (e *testEnv) mcpSession(user string) *mcp.ClientSession {
	e.t.Helper()
	return e.mcpSessionWith(token(e.t, user))
}

// mcpSessionWith connects with the bearer token tok.
func (e *testEnv) mcpSessionWith(tok string) *mcp.ClientSession {
	e.t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "taskbolt-test", Version: "1"}, nil)
	transport := &mcp.StreamableClientTransport{Endpoint: e.listen() + "/mcp", HTTPClient: &http.Client{Transport: bearer{tok}}}
	s, err := client.Connect(e.t.Context(), transport, nil)
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// call calls a tool and returns its result, failing on a protocol error.
func call(t *testing.T, s *mcp.ClientSession, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	r, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return r
}

// text is a result's one text block.
func text(t *testing.T, r *mcp.CallToolResult) string {
	t.Helper()
	if len(r.Content) != 1 {
		t.Fatalf("%d content blocks, want 1: %+v", len(r.Content), r.Content)
	}
	tc, ok := r.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("content %T, want text", r.Content[0])
	}
	return tc.Text
}

// wantToolError checks a refused call: isError and exactly the words.
func wantToolError(t *testing.T, r *mcp.CallToolResult, words string) {
	t.Helper()
	if !r.IsError || text(t, r) != words {
		t.Errorf("result isError=%v %q, want an error %q", r.IsError, text(t, r), words)
	}
}

// structured decodes a result's structuredContent.
func structured(t *testing.T, r *mcp.CallToolResult, v any) {
	t.Helper()
	if r.IsError {
		t.Fatalf("error result: %s", text(t, r))
	}
	b, err := json.Marshal(r.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("structuredContent %s: %v", b, err)
	}
}

type taskResult struct {
	TaskID uint64          `json:"task_id"`
	Status string          `json:"status"`
	Title  string          `json:"title"`
	Task   json.RawMessage `json:"task"`
}

func TestMCPListsTheFiveTools(t *testing.T) {
	e := newMCPEnv(t)
	s := e.mcpSession("alice")
	res, err := s.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if tool.InputSchema == nil || tool.OutputSchema == nil {
			t.Errorf("%s: inputSchema %v, outputSchema %v", tool.Name, tool.InputSchema != nil, tool.OutputSchema != nil)
		}
		a := tool.Annotations
		if a == nil {
			t.Fatalf("%s has no annotations", tool.Name)
		}
		if got, want := a.ReadOnlyHint, tool.Name == "list_tasks"; got != want {
			t.Errorf("%s readOnlyHint %v", tool.Name, got)
		}
		if got, want := a.DestructiveHint != nil && *a.DestructiveHint, tool.Name == "delete_task"; got != want {
			t.Errorf("%s destructiveHint %v", tool.Name, got)
		}
		if tool.Name == "complete_task" && !a.IdempotentHint {
			t.Errorf("complete_task is not idempotentHint")
		}
	}
	slices.Sort(names)
	if want := []string{"add_task", "complete_task", "delete_task", "list_tasks", "update_task"}; !slices.Equal(names, want) {
		t.Errorf("tools %v, want %v", names, want)
	}
}

// TestMCPToolsAreTheRESTOperations: each tool answers as CONTRACT.md says,
// and what it did is what REST serves, with the same change events.
func TestMCPToolsAreTheRESTOperations(t *testing.T) {
	e := newMCPEnv(t)
	s := e.mcpSession("alice")
	tok := token(t, "alice")

	r := call(t, s, "add_task", map[string]any{"user_id": "alice", "title": "  Buy groceries  ", "description": "milk",
		"priority": "high", "tags": []string{"home", "Home", "errands"}, "due_date": "2031-05-01"})
	var added taskResult
	structured(t, r, &added)
	if added.Status != "created" || added.Title != "Buy groceries" || added.TaskID == 0 {
		t.Fatalf("add_task: %+v", added)
	}
	if !sameJSON(t, text(t, r), mustJSON(t, r.StructuredContent)) {
		t.Errorf("text block %s differs from structuredContent %s", text(t, r), mustJSON(t, r.StructuredContent))
	}
	got := e.do("GET", "/api/alice/tasks/"+strconv.FormatUint(added.TaskID, 10), tok, "")
	if got.status != 200 || !sameJSON(t, string(got.body), string(added.Task)) {
		t.Fatalf("REST serves %d %s; the tool answered %s", got.status, got.body, added.Task)
	}
	task := got.task(t)
	if !slices.Equal(task.Tags, []string{"home", "errands"}) || task.Priority != store.PriorityHigh || task.DueDate == nil {
		t.Errorf("the tool's task was not read by the REST rules: %+v", task)
	}

	second := call(t, s, "add_task", map[string]any{"title": "Call mom"})
	var mom taskResult
	structured(t, second, &mom)

	r = call(t, s, "list_tasks", map[string]any{"status": "pending", "sort": "title", "order": "asc"})
	var list struct {
		Tasks []store.Task `json:"tasks"`
		Total int          `json:"total"`
	}
	structured(t, r, &list)
	rest := e.do("GET", "/api/alice/tasks?status=pending&sort=title&order=asc", tok, "")
	if text(t, r) != string(rest.body) || list.Total != 2 || list.Tasks[0].Title != "Buy groceries" {
		t.Errorf("list_tasks text %s, total %d; REST serves %s", text(t, r), list.Total, rest.body)
	}
	r = call(t, s, "list_tasks", map[string]any{"priority": []string{"high"}, "tag": "ERRANDS", "limit": 1})
	structured(t, r, &list)
	if list.Total != 1 || len(list.Tasks) != 1 || list.Tasks[0].ID != added.TaskID {
		t.Errorf("list_tasks by priority and tag: %s", text(t, r))
	}

	for range 2 { // completing twice: the same answer, completed
		r = call(t, s, "complete_task", map[string]any{"task_id": mom.TaskID})
		var done taskResult
		structured(t, r, &done)
		var doneTask store.Task
		json.Unmarshal(done.Task, &doneTask)
		if done.Status != "completed" || done.Title != "Call mom" || !doneTask.Completed {
			t.Errorf("complete_task: %s", text(t, r))
		}
	}

	r = call(t, s, "update_task", map[string]any{"task_id": strconv.FormatUint(added.TaskID, 10), "title": "Buy groceries and fruits", "description": nil})
	var updated taskResult
	structured(t, r, &updated)
	if rest := e.do("GET", "/api/alice/tasks/"+strconv.FormatUint(added.TaskID, 10), tok, ""); updated.Status != "updated" ||
		updated.Title != "Buy groceries and fruits" || !sameJSON(t, string(rest.body), string(updated.Task)) || rest.task(t).Description != nil {
		t.Errorf("update_task %s; REST serves %s", text(t, r), rest.body)
	}

	r = call(t, s, "delete_task", map[string]any{"task_id": added.TaskID, "user_id": "alice"})
	var deleted taskResult
	structured(t, r, &deleted)
	if deleted.TaskID != added.TaskID || deleted.Status != "deleted" || deleted.Title != "Buy groceries and fruits" || deleted.Task != nil ||
		!sameJSON(t, text(t, r), mustJSON(t, r.StructuredContent)) {
		t.Errorf("delete_task: %s", text(t, r))
	}
	if rest := e.do("GET", "/api/alice/tasks/"+strconv.FormatUint(added.TaskID, 10), tok, ""); rest.status != 404 {
		t.Errorf("after delete_task REST answers %d", rest.status)
	}

	// The same change events as REST writes: created, created, updated
	// (twice: completing a completed task still writes), updated, deleted.
	if cl, ok := e.store.(store.Changelog); ok {
		changes, _, _, err := cl.Changes(t.Context(), "alice", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, c := range changes {
			kinds = append(kinds, c.Kind.Event())
		}
		if want := "task.created task.created task.updated task.updated task.updated task.deleted"; strings.Join(kinds, " ") != want {
			t.Errorf("change events %v, want %s", kinds, want)
		}
	}
	for _, tool := range []string{"add_task", "list_tasks", "complete_task", "update_task", "delete_task"} {
		if !strings.Contains(e.logs.String(), `"route":"/mcp `+tool+`"`) {
			t.Errorf("the access log names no %s call", tool)
		}
	}
}

// sameJSON: a and b are the same JSON value, whatever the order of keys.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMCPRefusals: domain errors are isError results with the REST API's
// words; protocol faults stay JSON-RPC errors.
func TestMCPRefusals(t *testing.T) {
	e := newMCPEnv(t)
	s := e.mcpSession("alice")
	// Ids are per user: bob's third task has an id alice has none of.
	e.create("bob", "bob's first")
	e.create("bob", "bob's second")
	bobs := e.create("bob", "bob's secret")
	mine := e.create("alice", "mine")

	wantToolError(t, call(t, s, "add_task", map[string]any{"user_id": "bob", "title": "planted"}), "Not authorized to access these tasks")
	wantToolError(t, call(t, s, "list_tasks", map[string]any{"user_id": "bob"}), "Not authorized to access these tasks")
	wantToolError(t, call(t, s, "delete_task", map[string]any{"user_id": "Alice", "task_id": mine.ID}), "Not authorized to access these tasks")
	wantToolError(t, call(t, s, "complete_task", map[string]any{"task_id": bobs.ID}), "Task not found")
	wantToolError(t, call(t, s, "delete_task", map[string]any{"task_id": 999}), "Task not found")
	wantToolError(t, call(t, s, "update_task", map[string]any{"task_id": 0, "title": "x"}), "Task not found")
	wantToolError(t, call(t, s, "add_task", map[string]any{"description": "no title"}), "title: Field required")
	wantToolError(t, call(t, s, "complete_task", map[string]any{}), "task_id: Field required")
	wantToolError(t, call(t, s, "complete_task", map[string]any{"task_id": "abc"}), "task_id: Input should be a valid integer, unable to parse string as an integer")
	wantToolError(t, call(t, s, "add_task", map[string]any{"user_id": 7, "title": "x"}), "user_id: Input should be a valid string")
	wantToolError(t, call(t, s, "list_tasks", map[string]any{"limit": 101}), "limit: Input should be less than or equal to 100")

	// The words of a validation problem are REST's own.
	for _, args := range []map[string]any{
		{"title": "x", "priority": "urgent"},
		{"title": "   "},
		{"title": "x", "tags": []any{"ok", 5}},
		{"title": "x", "due_date": "tomorrow"},
		{"title": strings.Repeat("x", 201)},
	} {
		body, _ := json.Marshal(args)
		rest := e.do("POST", "/api/alice/tasks", token(t, "alice"), string(body))
		var detail struct {
			Detail []api.Problem `json:"detail"`
		}
		rest.json(t, &detail)
		p := detail.Detail[0]
		var field []string
		for _, part := range p.Loc[1:] {
			field = append(field, fmt.Sprint(part))
		}
		wantToolError(t, call(t, s, "add_task", args), strings.Join(field, ".")+": "+p.Msg)
	}

	if rest := e.do("GET", "/api/bob/tasks/"+strconv.FormatUint(bobs.ID, 10), token(t, "bob"), ""); rest.task(t).Completed {
		t.Error("alice's complete_task completed bob's task")
	}
	if rest := e.do("GET", "/api/alice/tasks", token(t, "alice"), ""); rest.header.Get("X-Total-Count") != "1" {
		t.Errorf("refused calls wrote: alice has %s tasks", rest.header.Get("X-Total-Count"))
	}
	if _, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: "drop_tables"}); err == nil {
		t.Error("an unknown tool is not a protocol error")
	}
	// Malformed JSON-RPC: a JSON-RPC error, never the request echoed back.
	for body, want := range map[string]string{
		`{bad json`: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`,
		`{"jsonrpc":"2.0","id":7,"method":"no/such/method"}`: `{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}}`,
	} {
		r := e.do("POST", "/mcp", token(t, "alice"), body, "Accept", "application/json", "Mcp-Protocol-Version", "2025-06-18")
		if r.status != 400 || string(r.body) != want || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %s", body, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
}

// TestMCPNeedsACredential: /mcp is an OAuth resource server; a 401 names
// the metadata document, which names the resource and Better Auth.
func TestMCPNeedsACredential(t *testing.T) {
	e := newMCPEnv(t)
	base := e.listen()
	metadata := base + "/.well-known/oauth-protected-resource/mcp"
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	accept := []string{"Accept", "application/json, text/event-stream"}
	for _, c := range []struct{ name, tok, challenge, detail string }{
		{"none", "", `Bearer resource_metadata="` + metadata + `"`, "Not authenticated"},
		{"bad", "not.a.token", `Bearer error="invalid_token", resource_metadata="` + metadata + `"`, "Invalid token"},
	} {
		r := e.do("POST", "/mcp", c.tok, init, accept...)
		if r.status != 401 || r.header.Get("WWW-Authenticate") != c.challenge || string(r.body) != `{"detail":"`+c.detail+`"}` {
			t.Errorf("%s credential: %d %q %s", c.name, r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
	if r := e.do("GET", "/api/alice/tasks", "", ""); r.header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("a REST 401 names the MCP metadata: %q", r.header.Get("WWW-Authenticate"))
	}
	wantJSON(t, e.do("GET", "/.well-known/oauth-protected-resource/mcp", "", ""), 200, `{"resource":"`+base+`/mcp",
		"authorization_servers":["https://auth.example.com"],"bearer_methods_supported":["header"],"scopes_supported":["tasks:read","tasks:write"]}`)
	// The response is SSE, or JSON for a client that accepts JSON alone.
	if r := e.do("POST", "/mcp", token(t, "alice"), init, accept...); r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" ||
		!strings.HasPrefix(string(r.body), "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":") {
		t.Errorf("initialize with a token: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if r := e.do("POST", "/mcp", token(t, "alice"), list, "Accept", "application/json", "Mcp-Protocol-Version", "2025-06-18"); r.status != 200 ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || !strings.Contains(string(r.body), `"name":"add_task"`) {
		t.Errorf("tools/list accepting JSON alone: %d %s %.200s", r.status, r.header.Get("Content-Type"), r.body)
	}
	off := newEnv(t, api.Config{})
	if r := off.do("POST", "/mcp", token(t, "alice"), init, accept...); r.status != 404 {
		t.Errorf("/mcp without MCP configured: %d", r.status)
	}
}

// TestMCPIsolationProperty: whatever user_id and task_id an agent sends,
// and whichever tool, alice's calls never show or change bob's tasks.
func TestMCPIsolationProperty(t *testing.T) {
	e := newMCPEnv(t)
	s := e.mcpSession("alice")
	var ids []uint64
	for i := range 6 {
		ids = append(ids, e.create("bob", fmt.Sprintf("BOB-SECRET %d", i)).ID, e.create("alice", fmt.Sprintf("alice %d", i)).ID)
	}
	bobBefore := e.do("GET", "/api/bob/tasks?sort=id", token(t, "bob"), "")
	rng := rand.New(rand.NewPCG(19, 19))
	users := []any{"alice", "bob", "", "Alice", "alice ", " bob", nil, 0, []string{"bob"}}
	tools := []string{"add_task", "list_tasks", "complete_task", "delete_task", "update_task"}
	for i := range 300 {
		tool := tools[rng.IntN(len(tools))]
		args := map[string]any{"title": "agent " + strconv.Itoa(i)}
		if u := users[rng.IntN(len(users)+1)%len(users)]; u != nil || rng.IntN(2) == 0 {
			args["user_id"] = u
		}
		switch rng.IntN(4) {
		case 0:
			args["task_id"] = ids[rng.IntN(len(ids))]
		case 1:
			args["task_id"] = strconv.FormatUint(ids[rng.IntN(len(ids))], 10)
		case 2:
			args["task_id"] = rng.IntN(40)
		}
		if tool == "list_tasks" {
			args = map[string]any{"user_id": args["user_id"], "q": "BOB-SECRET", "status": "all"}
			if args["user_id"] == nil {
				delete(args, "user_id")
			}
		}
		r := call(t, s, tool, args)
		if strings.Contains(text(t, r), "BOB-SECRET") || strings.Contains(mustJSON(t, r.StructuredContent), "BOB-SECRET") {
			t.Fatalf("%s %v showed bob's task: %s", tool, args, text(t, r))
		}
		if u, sent := args["user_id"]; sent && u != "alice" && !r.IsError {
			t.Fatalf("%s with user_id %#v was not refused: %s", tool, u, text(t, r))
		}
	}
	if bobAfter := e.do("GET", "/api/bob/tasks?sort=id", token(t, "bob"), ""); string(bobAfter.body) != string(bobBefore.body) {
		t.Fatalf("bob's tasks changed:\n%s\nwere\n%s", bobAfter.body, bobBefore.body)
	}
}

// scoped is a token for user that carries scope (an OAuth grant's claim).
func scoped(t *testing.T, user, scope string) string {
	t.Helper()
	claims := hs256.Claims(user, time.Hour, "", "", time.Now())
	claims["scope"] = scope
	tok, err := hs256.Sign(secret, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestScopesBindEverywhere: a credential with a scope claim reads with
// tasks:read and changes with tasks:write, on the REST routes and through
// the tools; one without scope may do everything.
func TestScopesBindEverywhere(t *testing.T) {
	e := newMCPEnv(t)
	task := e.create("alice", "mine")
	read, write, none := scoped(t, "alice", "openid tasks:read"), scoped(t, "alice", "tasks:write"), scoped(t, "alice", "")
	refused := func(r response, scope string) {
		t.Helper()
		if r.status != 403 || string(r.body) != `{"detail":"Insufficient scope"}` ||
			r.header.Get("WWW-Authenticate") != `Bearer error="insufficient_scope", scope="`+scope+`"` {
			t.Errorf("want 403 for %s: %d %s %q", scope, r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
	}
	id := strconv.FormatUint(task.ID, 10)
	if r := e.do("GET", "/api/alice/tasks", read, ""); r.status != 200 {
		t.Errorf("list with tasks:read: %d", r.status)
	}
	if r := e.do("GET", "/api/alice/tasks/"+id, read, ""); r.status != 200 {
		t.Errorf("get with tasks:read: %d", r.status)
	}
	refused(e.do("POST", "/api/alice/tasks", read, `{"title":"x"}`), "tasks:write")
	refused(e.do("PATCH", "/api/alice/tasks/"+id+"/complete", read, ""), "tasks:write")
	refused(e.do("DELETE", "/api/alice/tasks/"+id, read, ""), "tasks:write")
	refused(e.do("GET", "/api/alice/tasks", write, ""), "tasks:read")
	// The event stream too; a client that gives up, should it open.
	req, _ := http.NewRequest("GET", e.listen()+"/api/alice/events", nil)
	req.Header.Set("Authorization", "Bearer "+write)
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req); err != nil || resp.StatusCode != 403 ||
		resp.Header.Get("WWW-Authenticate") != `Bearer error="insufficient_scope", scope="tasks:read"` {
		t.Errorf("events with tasks:write alone: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	refused(e.do("GET", "/api/alice/tasks", none, ""), "tasks:read")
	if r := e.do("PUT", "/api/alice/tasks/"+id, write, `{"title":"changed"}`); r.status != 200 {
		t.Errorf("update with tasks:write: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/bob/tasks", read, ""); r.status != 403 || string(r.body) != `{"detail":"Not authorized to access these tasks"}` {
		t.Errorf("another user's tasks with a scoped token: %d %s", r.status, r.body)
	}

	readOnly := e.mcpSessionWith(read)
	var list struct {
		Total int `json:"total"`
	}
	structured(t, call(t, readOnly, "list_tasks", nil), &list)
	if list.Total != 1 {
		t.Errorf("list_tasks with tasks:read: total %d", list.Total)
	}
	for _, tool := range []string{"add_task", "complete_task", "delete_task", "update_task"} {
		wantToolError(t, call(t, readOnly, tool, map[string]any{"title": "x", "task_id": task.ID}), "Insufficient scope: "+tool+" needs tasks:write")
	}
	wantToolError(t, call(t, e.mcpSessionWith(write), "list_tasks", nil), "Insufficient scope: list_tasks needs tasks:read")
	if r := e.do("GET", "/api/alice/tasks/"+id, token(t, "alice"), ""); r.task(t).Title != "changed" || r.task(t).Completed {
		t.Errorf("a refused tool changed the task: %s", r.body)
	}
}

// TestMCPWritesReachOpenStreams: an agent's add_task shows on the user's
// open event stream at once, as a REST create does, with the task the tool
// answered: the example app's open list updates live.
func TestMCPWritesReachOpenStreams(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	e := newEnv(t, api.Config{Done: done, MCP: &api.MCPConfig{}})
	s := openStream(t, e.listen()+"/api/alice/events", token(t, "alice"))
	if s.resp.StatusCode != 200 {
		t.Fatalf("subscribe: %d", s.resp.StatusCode)
	}
	agent := e.mcpSession("alice")
	var added taskResult
	structured(t, call(t, agent, "add_task", map[string]any{"title": "added by an agent"}), &added)
	ev := s.next()
	if ev.name != "task.created" || !sameJSON(t, ev.data, string(added.Task)) {
		t.Fatalf("event %+v, want task.created with %s", ev, added.Task)
	}
	call(t, agent, "complete_task", map[string]any{"task_id": added.TaskID})
	if ev := s.next(); ev.name != "task.updated" || !strings.Contains(ev.data, `"completed":true`) {
		t.Fatalf("after complete_task: %+v", ev)
	}
	call(t, agent, "delete_task", map[string]any{"task_id": added.TaskID})
	if ev := s.next(); ev.name != "task.deleted" || ev.data != fmt.Sprintf(`{"id":%d}`, added.TaskID) {
		t.Fatalf("after delete_task: %+v", ev)
	}
}

// TestMCPToolsInMetrics: a tool call is counted under its tool's name, and
// its store operation as the REST one is.
func TestMCPToolsInMetrics(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, api.Config{Observer: m, MetricsHandler: m.Handler(), MCP: &api.MCPConfig{}})
	s := e.mcpSession("alice")
	call(t, s, "add_task", map[string]any{"title": "counted"})
	call(t, s, "list_tasks", nil)
	body := string(e.do("GET", "/metrics", "", "").body)
	for _, want := range []string{
		`taskbolt_http_requests_total{method="POST",route="/mcp add_task",status="200"} 1`,
		`taskbolt_http_requests_total{method="POST",route="/mcp list_tasks",status="200"} 1`,
		`taskbolt_store_operation_duration_seconds_count{op="create",outcome="ok"} 1`,
		`taskbolt_store_operation_duration_seconds_count{op="list",outcome="ok"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
