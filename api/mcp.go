package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
)

// The MCP door (CONTRACT.md "MCP"): the Phase III task tools for agents,
// served at /mcp by the official Go SDK in its stateless Streamable HTTP
// mode, so any replica answers any request. A tool is the REST operation
// behind another door: the same parsers (validate.go), the same store call,
// so the same rules, events and metrics. Only the translation differs: a
// refusal is a tool result with isError and the REST API's detail words.
//
// The caller is the credential's user, checked by the same middleware as
// /api/...; a user_id argument is only an assertion, refused when it names
// anyone else.

// mcpCallerKey carries the caller's Principal from the Fiber context into
// the SDK's handlers: fasthttp's request context answers Value with its
// user values, which is where c.Locals keeps them.
type mcpCallerKey struct{}

// mcpToolKey is where the Fiber handler leaves the name of the tool a
// request calls, for the access log and the metrics.
type mcpToolKey struct{}

// newMCP returns the handler of /mcp.
func (a *app) newMCP() fiber.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: "taskbolt", Version: a.cfg.Version}, nil)
	for _, t := range a.mcpTools() {
		server.AddTool(t.tool, a.toolHandler(t.run))
	}
	handler := func(jsonResponse bool) fiber.Handler {
		return adaptor.HTTPHandler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{
			Stateless:    true,
			JSONResponse: jsonResponse,
			// The SDK refuses a request to a loopback address whose Host
			// is another name (DNS rebinding). Every request here carries a
			// credential a rebinding page cannot have (a bearer token, or a
			// cookie of the app's own site under the cross-site rule), and
			// a proxy in front of taskbolt sends its public Host to
			// 127.0.0.1.
			DisableLocalhostProtection: true,
			MaxRequestBodyBytes:        int64(a.cfg.BodyLimit),
		}))
	}
	sse, plain := handler(false), handler(true)
	return func(c *fiber.Ctx) error {
		p, _ := auth.FromContext(c)
		c.Locals(mcpCallerKey{}, p)
		if name := calledTool(c.Body()); name != "" {
			c.Locals(mcpToolKey{}, name)
		}
		// The spec has a client accept both and the server choose; one
		// that accepts JSON alone gets JSON rather than the SDK's 400.
		serve := sse
		accept := c.Get(fiber.HeaderAccept)
		if strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/event-stream") {
			c.Request().Header.Set(fiber.HeaderAccept, "application/json, text/event-stream")
			serve = plain
		}
		if err := serve(c); err != nil {
			return err
		}
		rpcError(c)
		return nil
	}
}

// rpcError turns the SDK's plain-text 400 for a message it cannot take (not
// JSON, not JSON-RPC, a method it does not know) into a JSON-RPC error
// response, as the spec allows and CONTRACT.md asks; its text, which may
// quote the request, is not sent.
func rpcError(c *fiber.Ctx) {
	resp := c.Response()
	if resp.StatusCode() != fiber.StatusBadRequest || strings.HasPrefix(string(resp.Header.ContentType()), fiber.MIMEApplicationJSON) {
		return
	}
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	code, msg := -32700, "Parse error"
	if json.Unmarshal(c.Body(), &req) == nil {
		code, msg = -32600, "Invalid Request"
		if strings.Contains(string(resp.Body()), "not handled") {
			code, msg = -32601, "Method not found"
		}
	}
	id := "null"
	if len(req.ID) > 0 {
		id = string(req.ID)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	resp.SetBodyString(`{"jsonrpc":"2.0","id":` + id + `,"error":{"code":` + strconv.Itoa(code) + `,"message":"` + msg + `"}}`)
}

// calledTool is the tool a JSON-RPC tools/call request names, "" for any
// other request (or a body that is not one).
func calledTool(body []byte) string {
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.Method != "tools/call" {
		return ""
	}
	for _, t := range toolNames {
		if msg.Params.Name == t {
			return t // one of ours: a bounded metrics label
		}
	}
	return ""
}

var toolNames = []string{"add_task", "list_tasks", "complete_task", "delete_task", "update_task"}

// toolScope is the scope a tool needs from a credential that carries scopes.
func toolScope(name string) string {
	if name == "list_tasks" {
		return auth.ScopeRead
	}
	return auth.ScopeWrite
}

// toolRun runs one tool for caller with its arguments (user_id removed) and
// returns the structured result and the JSON of its text block.
type toolRun func(ctx context.Context, caller string, args map[string]json.RawMessage) (structured any, text []byte, err error)

type mcpTool struct {
	tool *mcp.Tool
	run  toolRun
}

// toolHandler is a tool behind the MCP door: the caller from the request,
// the call run by callTool, the outcome as a tool result.
func (a *app) toolHandler(run toolRun) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		p, ok := ctx.Value(mcpCallerKey{}).(auth.Principal)
		if !ok || p.UserID == "" {
			return nil, errors.New("no caller") // the route requires one: not reached
		}
		structured, text, refusal := a.callTool(ctx, p, req.Params.Name, req.Params.Arguments, run)
		if refusal != "" {
			return toolError(refusal), nil
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(text)}}, StructuredContent: structured}, nil
	}
}

// callTool runs one tool for caller, whichever door the call came through
// (an MCP client, the chat agent): it reads the arguments, refuses a
// user_id that is not the caller's and a scope the credential lacks, runs
// the tool, and returns its structured result and text, or the words of
// its refusal (an isError result's text).
func (a *app) callTool(ctx context.Context, p auth.Principal, name string, raw json.RawMessage, run toolRun) (structured any, text []byte, refusal string) {
	var args map[string]json.RawMessage
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, nil, "arguments: Input should be a valid dictionary"
		}
	}
	if claimed, sent := args["user_id"]; sent {
		var id string
		if json.Unmarshal(claimed, &id) != nil {
			return nil, nil, "user_id: Input should be a valid string"
		}
		if id != p.UserID { // byte for byte, as the REST owner check
			return nil, nil, errNotYours.detail
		}
		delete(args, "user_id")
	}
	if scope := toolScope(name); !p.Allows(scope) {
		return nil, nil, "Insufficient scope: " + name + " needs " + scope
	}
	structured, text, err := run(ctx, p.UserID, args)
	if err != nil {
		return nil, nil, a.toolFailure(ctx, name, err)
	}
	return structured, text, ""
}

// toolError is a refused call: isError, one text block.
func toolError(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// toolFailure translates a tool's error as the error handler translates a
// REST handler's: the same words, and a cause that is never shown.
func (a *app) toolFailure(ctx context.Context, tool string, err error) string {
	var (
		ve *ValidationError
		sp *store.Problem
	)
	switch {
	case errors.As(err, &ve):
		return problemText(ve.Problems[0])
	case errors.As(err, &sp):
		return sp.Msg
	case errors.Is(err, store.ErrNotFound):
		return errTaskNotFound.detail
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, store.ErrInvalidOwner):
		return errNotYours.detail
	case errors.Is(err, store.ErrPreconditionFailed):
		return errPrecondition.detail
	case errors.Is(err, store.ErrUnavailable):
		a.log.Error("store unavailable", "tool", tool, "err", err)
		return errStoreUnavailable.detail
	}
	a.log.Error("internal error", "tool", tool, "err", err)
	return errInternal.detail
}

// problemText is a validation problem as a tool error's text: the field it
// is about, then the message, as in "title: Field required" or
// "tags.1: Input should be a valid string" (the REST loc without its
// body/query/path, joined as pydantic prints it).
func problemText(p Problem) string {
	loc := p.Loc
	if len(loc) > 1 && (loc[0] == "body" || loc[0] == "query" || loc[0] == "path") {
		loc = loc[1:]
	}
	parts := make([]string, len(loc))
	for i, part := range loc {
		parts[i] = fmt.Sprint(part)
	}
	field := strings.Join(parts, ".")
	if field == "id" { // the REST path's name for it
		field = "task_id"
	}
	return field + ": " + p.Msg
}

// body is the arguments as a REST request body: the same parser then reads
// them with the same rules and words.
func body(args map[string]json.RawMessage) []byte {
	if args == nil {
		return []byte("{}")
	}
	b, _ := json.Marshal(args) // raw messages that json.Unmarshal accepted
	return b
}

// taskID reads the required task_id argument, a number or a string of
// digits, as the REST path reads {id}.
func taskID(args map[string]json.RawMessage) (uint64, error) {
	raw, ok := args["task_id"]
	if !ok {
		return 0, &ValidationError{[]Problem{{Type: "missing", Loc: []any{"task_id"}, Msg: "Field required", Input: nil}}}
	}
	delete(args, "task_id")
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return 0, &ValidationError{[]Problem{{Type: "int_type", Loc: []any{"task_id"}, Msg: "Input should be a valid integer", Input: string(raw)}}}
		}
		s = n.String()
	}
	return parseTaskID(s)
}

// taskResult is what add_task, complete_task and update_task answer.
type taskResult struct {
	TaskID uint64          `json:"task_id"`
	Status string          `json:"status"`
	Title  string          `json:"title"`
	Task   json.RawMessage `json:"task,omitempty"`
}

func resultOf(t *store.Task, status string, withTask bool) (any, []byte, error) {
	r := taskResult{TaskID: t.ID, Status: status, Title: t.Title}
	if withTask {
		r.Task = t.AppendJSON(nil)
	}
	text, err := json.Marshal(r)
	return r, text, err
}

func (a *app) addTask(ctx context.Context, caller string, args map[string]json.RawMessage) (any, []byte, error) {
	in, err := parseCreate(body(args))
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	t, err := a.store.Create(ctx, caller, in)
	a.timeStore("create", start, err)
	if err != nil {
		return nil, nil, err
	}
	return resultOf(&t, "created", true)
}

func (a *app) updateTool(ctx context.Context, caller string, args map[string]json.RawMessage) (any, []byte, error) {
	id, idErr := taskID(args)
	p, bodyErr := parseUpdate(body(args))
	if err := joinValidation(idErr, bodyErr); err != nil {
		return nil, nil, err
	}
	t, err := a.update(ctx, caller, id, p)
	if err != nil {
		return nil, nil, err
	}
	return resultOf(&t, "updated", true)
}

func (a *app) completeTool(ctx context.Context, caller string, args map[string]json.RawMessage) (any, []byte, error) {
	id, err := taskID(args)
	if err != nil {
		return nil, nil, err
	}
	done := true // completing twice leaves it completed: idempotent, unlike the REST toggle
	t, err := a.update(ctx, caller, id, store.Patch{Completed: &done})
	if err != nil {
		return nil, nil, err
	}
	return resultOf(&t, "completed", true)
}

func (a *app) update(ctx context.Context, caller string, id uint64, p store.Patch) (store.Task, error) {
	start := time.Now()
	t, err := a.store.Update(ctx, caller, id, p)
	a.timeStore("update", start, err)
	return t, err
}

// deleteTool reads the task, for the title it answers, then deletes that
// version of it: a change in between is read again, so the title answered
// is the one deleted.
func (a *app) deleteTool(ctx context.Context, caller string, args map[string]json.RawMessage) (any, []byte, error) {
	id, err := taskID(args)
	if err != nil {
		return nil, nil, err
	}
	d, conditional := a.store.(store.ConditionalDeleter)
	for attempt := 0; ; attempt++ {
		start := time.Now()
		t, err := a.store.Get(ctx, caller, id)
		a.timeStore("get", start, err)
		if err != nil {
			return nil, nil, err
		}
		start = time.Now()
		if conditional {
			err = d.DeleteIf(ctx, caller, id, t.Version())
		} else {
			err = a.store.Delete(ctx, caller, id)
		}
		a.timeStore("delete", start, err)
		if errors.Is(err, store.ErrPreconditionFailed) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return resultOf(&t, "deleted", false)
	}
}

// listTool reads its arguments as the REST list reads its query string
// (every REST filter works, under the same names), and answers the page.
func (a *app) listTool(ctx context.Context, caller string, args map[string]json.RawMessage) (any, []byte, error) {
	query := map[string][]string{}
	for k, raw := range args {
		query[k] = queryValues(raw)
	}
	q, err := parseListQuery(func(key string) []string { return query[key] }, time.Now())
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	var (
		page  []byte
		total int
	)
	if a.lister != nil {
		page, total, _, err = a.lister.ListJSON(ctx, caller, q, nil)
	} else {
		var tasks []store.Task
		tasks, total, err = a.store.List(ctx, caller, q)
		page = store.AppendTasksJSON(nil, tasks)
	}
	a.timeStore("list", start, err)
	if err != nil {
		return nil, nil, err
	}
	return struct {
		Tasks json.RawMessage `json:"tasks"`
		Total int             `json:"total"`
	}{page, total}, page, nil
}

// queryValues is an argument as query-string values: a string as it is, an
// array as its elements, anything else as its JSON text (which the query
// parser then refuses, or reads as a number or a boolean).
func queryValues(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, e := range list {
			out = append(out, queryValues(e)...)
		}
		return out
	}
	return []string{strings.TrimSpace(string(raw))}
}

// mcpRoute is the metrics and access-log route of an /mcp request: the tool
// it called, when it called one.
func mcpRoute(c *fiber.Ctx, route string) string {
	if name, ok := c.Locals(mcpToolKey{}).(string); ok {
		return route + " " + name
	}
	return route
}

// mcpMetadataPath is where the MCP endpoint's OAuth protected resource
// metadata (RFC 9728) is served: the well-known prefix, then the resource's
// path.
const mcpMetadataPath = "/.well-known/oauth-protected-resource/mcp"

// mcpResource is the MCP server's URL: MCPConfig.Resource, or the request's
// origin + /mcp.
func mcpResource(cfg Config, c *fiber.Ctx) string {
	if cfg.MCP.Resource != "" {
		return cfg.MCP.Resource
	}
	return c.Protocol() + "://" + c.Hostname() + "/mcp"
}

// mcpMetadata serves the protected resource metadata a client reads to find
// where to get a token for /mcp.
func (a *app) mcpMetadata(c *fiber.Ctx) error {
	servers := a.cfg.MCP.AuthorizationServers
	if servers == nil {
		servers = []string{}
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return writeJSON(c, fiber.StatusOK, map[string]any{
		"resource":                 mcpResource(a.cfg, c),
		"authorization_servers":    servers,
		"bearer_methods_supported": []string{"header"},
		"scopes_supported":         []string{"tasks:read", "tasks:write"},
	})
}

// challenge is the WWW-Authenticate value of a 401: on /mcp it also names
// the metadata document, as the MCP authorization spec asks.
func (a *app) challenge(c *fiber.Ctx, base string) string {
	if a.cfg.MCP == nil || c.Path() != "/mcp" {
		return base
	}
	metadata := strings.TrimSuffix(mcpResource(a.cfg, c), "/mcp") + mcpMetadataPath
	if base == bearerChallenge {
		return base + ` resource_metadata="` + metadata + `"`
	}
	return base + `, resource_metadata="` + metadata + `"`
}
