package api

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskbolt/taskbolt/api/agent"
	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
)

// The chat door (CONTRACT.md "Chat"): one turn of the task assistant per
// POST /api/{user_id}/chat. A turn is stateless: the conversation is read
// from the store, the user's message stored before the model is asked, the
// answer stored with the tool calls it made, so any replica serves the next
// turn and a restart loses nothing. The model's tools are the MCP tools,
// run by callTool as the caller, as an MCP client's calls are.

// ChatConfig configures the chat door.
type ChatConfig struct {
	// Agent runs turns; nil: chat is not configured, and POST /chat is a 501.
	Agent *agent.Agent
	// Timeout bounds a turn, tool calls included: CHAT_TIMEOUT. Default
	// DefaultChatTimeout.
	Timeout time.Duration
	// RateLimit is how many turns a user may start a minute on this
	// replica (CHAT_RATE_LIMIT), a fixed window; over it a 429 with
	// Retry-After. Off when zero, as RateLimit's limiters are.
	RateLimit int
}

// DefaultChatTimeout is ChatConfig.Timeout's default.
const DefaultChatTimeout = 60 * time.Second

// ChatObserver is the optional part of an Observer that counts turns and
// the model's tokens.
type ChatObserver interface {
	ChatTurn(outcome string, d time.Duration)
	ChatTokens(model string, prompt, completion int64)
}

type nopChat struct{}

func (nopChat) ChatTurn(string, time.Duration)  {}
func (nopChat) ChatTokens(string, int64, int64) {}

func (a *app) chatObserver() ChatObserver {
	if o, ok := a.obs.(ChatObserver); ok {
		return o
	}
	return nopChat{}
}

// chatResponse is ChatResponse.
type chatResponse struct {
	ConversationID uint64           `json:"conversation_id"`
	Response       string           `json:"response"`
	ToolCalls      []agent.ToolCall `json:"tool_calls"`
}

// errTurnTimedOut is a turn past its deadline.
var errTurnTimedOut = errors.New("chat: the turn's deadline passed")

func (a *app) chatStore() (store.ChatStore, error) {
	cs, ok := a.store.(store.ChatStore)
	if !ok {
		return nil, fiber.NewError(fiber.StatusNotImplemented, "This store keeps no conversations")
	}
	return cs, nil
}

// parseChat reads a ChatRequest.
func parseChat(body []byte) (conversation uint64, message string, err error) {
	obj, err := decodeObject(body, false)
	if err != nil {
		return 0, "", err
	}
	var ve ValidationError
	if v, ok := obj["conversation_id"]; ok && v != nil {
		conversation, _ = fieldID(&ve, v)
	}
	switch v, ok := obj["message"]; {
	case !ok:
		ve.add(Problem{Type: "missing", Loc: []any{"body", "message"}, Msg: "Field required", Input: obj})
	default:
		s, isString := v.(string)
		if !isString {
			ve.add(stringType("message", v))
			break
		}
		var p *store.Problem
		if message, p = store.CleanChatMessage(s); p != nil {
			ve.add(problem(p, []any{"body", "message"}, s))
		}
	}
	return conversation, message, ve.err()
}

// fieldID reads conversation_id as pydantic reads an int with ge=1: an
// integer, or a string of one (lax mode).
func fieldID(ve *ValidationError, v any) (uint64, bool) {
	loc := []any{"body", "conversation_id"}
	var raw string
	switch v := v.(type) {
	case json.Number:
		raw = v.String()
		if f, err := v.Float64(); err == nil && strings.ContainsAny(raw, ".eE") { // 3.0 is 3, 3.5 is refused
			if f != math.Trunc(f) {
				ve.add(Problem{Type: "int_from_float", Loc: loc, Msg: "Input should be a valid integer, got a number with a fractional part", Input: v})
				return 0, false
			}
			raw = strconv.FormatFloat(f, 'f', 0, 64)
		}
	case string:
		raw = strings.TrimSpace(v)
	default:
		ve.add(Problem{Type: "int_type", Loc: loc, Msg: "Input should be a valid integer", Input: v})
		return 0, false
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	switch {
	case err != nil:
		ve.add(Problem{Type: "int_parsing", Loc: loc, Msg: "Input should be a valid integer, unable to parse string as an integer", Input: v})
		return 0, false
	case id < 1:
		ve.add(Problem{Type: "greater_than_equal", Loc: loc, Msg: "Input should be greater than or equal to 1", Input: v,
			Ctx: map[string]any{"ge": 1}})
		return 0, false
	}
	return uint64(id), true
}

// chat runs one turn.
func (a *app) chat(c *fiber.Ctx) error {
	cs, err := a.chatStore()
	if err != nil {
		return err
	}
	if a.cfg.Chat == nil || a.cfg.Chat.Agent == nil {
		return errChatOff.send(c)
	}
	convID, message, err := parseChat(c.Body())
	if err != nil {
		return err
	}
	var body []byte // the answer, once known: what a retry of the key replays
	idem, err := a.idempotency(c, func(*store.Task) store.Outcome {
		return store.Outcome{Status: fiber.StatusOK, Body: body}
	})
	if err != nil {
		return err
	}
	p, _ := auth.FromContext(c)
	user := p.UserID
	stream := strings.Contains(c.Get(fiber.HeaderAccept), "text/event-stream")
	return a.withKeyHeld(c, idem, func(release func()) error {
		held := false // by the streamed turn, which releases the key when it ends
		defer func() {
			if !held {
				release()
			}
		}()
		started := time.Now()
		var history []store.Message
		if convID != 0 {
			if history, err = cs.Messages(c.UserContext(), user, convID); err != nil {
				return err
			}
		}
		// The user's message is stored first and stays, whatever the model
		// does; a key already answered replays here, before any model call.
		var check *store.Idempotency
		if idem != nil {
			check = &store.Idempotency{Key: idem.Key, Fingerprint: idem.Fingerprint, Expires: idem.Expires}
		}
		conv, msg, err := cs.AddMessage(c.UserContext(), user, convID, store.NewMessage{Role: store.RoleUser, Content: message, Idem: check})
		if err != nil {
			return err
		}
		history = append(history, msg)
		t := &turn{app: a, store: cs, caller: p, conv: conv.ID, history: history, idem: idem, body: &body, started: started, rid: requestID(c)}
		if stream {
			held = true
			t.stream(c, release)
			return nil
		}
		res, err := t.run(c.UserContext(), nil)
		if err != nil {
			return err
		}
		return sendJSON(c, fiber.StatusOK, res)
	})
}

// turn is one chat turn after its user message is stored.
type turn struct {
	app     *app
	store   store.ChatStore
	caller  auth.Principal
	conv    uint64
	history []store.Message
	idem    *store.Idempotency
	body    *[]byte // the idempotency outcome's body, set before it is recorded
	started time.Time
	rid     string
}

// run asks the agent and stores its answer; emit, when set, gets the
// turn's events. It returns the ChatResponse's JSON.
func (t *turn) run(ctx context.Context, emit func(agent.Event)) ([]byte, error) {
	a, obs := t.app, t.app.chatObserver()
	ag := a.cfg.Chat.Agent
	ctx, cancel := context.WithTimeout(ctx, a.chatTimeout())
	defer cancel()
	res, err := ag.Run(ctx, t.history, a.chatTools.specs, func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, bool) {
		return a.chatTools.call(ctx, t.caller, name, args)
	}, emit)
	obs.ChatTokens(ag.Model(), res.PromptTokens, res.CompletionTokens)
	defer func() {
		// The server's own time is what the turn took besides the model.
		a.log.Info("chat turn", "request_id", t.rid, "tool_calls", len(res.ToolCalls),
			"model_ms", res.ModelTime.Milliseconds(), "server_us", (time.Since(t.started) - res.ModelTime).Microseconds())
	}()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		obs.ChatTurn("timeout", time.Since(t.started))
		return nil, errTurnTimedOut
	case err != nil:
		obs.ChatTurn("model_error", time.Since(t.started))
		return nil, err
	}
	resp := chatResponse{ConversationID: t.conv, Response: res.Response, ToolCalls: res.ToolCalls}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	calls, _ := json.Marshal(res.ToolCalls)
	*t.body = out
	// Stored with the caller's context, not the turn's: an answer that came
	// just inside the deadline is kept.
	_, _, err = t.store.AddMessage(context.WithoutCancel(ctx), t.caller.UserID, t.conv,
		store.NewMessage{Role: store.RoleAssistant, Content: res.Response, ToolCalls: calls, Idem: t.idem})
	var replayed *store.Replayed
	if errors.As(err, &replayed) { // another replica answered the same key first
		out = replayed.Outcome.Body
		err = nil
	}
	if err != nil {
		obs.ChatTurn("error", time.Since(t.started))
		return nil, err
	}
	obs.ChatTurn("ok", time.Since(t.started))
	return out, nil
}

func (a *app) chatTimeout() time.Duration {
	if a.cfg.Chat.Timeout > 0 {
		return a.cfg.Chat.Timeout
	}
	return DefaultChatTimeout
}

// stream runs the turn on its own connection as Server-Sent Events: delta,
// tool_call and tool_result as they happen, then done with the
// ChatResponse, or error with the detail the JSON answer would have had.
func (t *turn) stream(c *fiber.Ctx, release func()) {
	a := t.app
	setEventStreamHeaders(c)
	c.Status(fiber.StatusOK)
	a.serveLong(c, func(w *longResponse) error {
		defer release() // the Idempotency-Key is free once the turn has ended
		s := &sseWriter{w: w}
		s.comment("chat turn")
		var werr error
		send := func(name string, v any) {
			if werr != nil {
				return
			}
			b, _ := json.Marshal(v)
			s.event(0, name, b)
			werr = s.flush()
		}
		if werr = s.flush(); werr != nil {
			return werr
		}
		out, err := t.run(a.background, func(e agent.Event) {
			switch e.Kind {
			case "delta":
				send("delta", map[string]string{"text": e.Text})
			case "tool_call":
				send("tool_call", map[string]any{"name": e.Call.Name, "arguments": e.Call.Arguments})
			case "tool_result":
				send("tool_result", e.Call)
			}
		})
		if err != nil {
			ce := a.chatError(t.rid, err)
			send("error", map[string]string{"detail": ce.detail})
			return werr
		}
		if werr == nil {
			s.event(0, "done", out)
			werr = s.flush()
		}
		return werr
	})
}

// chatError is the contract's row for a turn's failure, logged when it is
// a 5xx with the cause.
func (a *app) chatError(rid string, err error) contractError {
	switch {
	case errors.Is(err, errTurnTimedOut):
		a.log.Warn("chat: the model did not answer in time", "request_id", rid)
		return errModelTimeout
	case errors.Is(err, agent.ErrModel):
		a.log.Error("chat: the model service failed", "request_id", rid, "err", err)
		return errModelFailed
	case errors.Is(err, store.ErrUnavailable):
		a.log.Error("store unavailable", "request_id", rid, "err", err)
		return errStoreUnavailable
	}
	a.log.Error("internal error", "request_id", rid, "route", "/api/:user_id/chat", "err", err)
	return errInternal
}

// agentTools are the MCP tools as the model sees them: without user_id (the
// caller is never the model's to name), and called through callTool.
type agentTools struct {
	specs []agent.Tool
	runs  map[string]toolRun
	app   *app
}

func (a *app) agentTools() agentTools {
	t := agentTools{runs: map[string]toolRun{}, app: a}
	for _, mt := range a.mcpTools() {
		schema := map[string]any{}
		for k, v := range mt.tool.InputSchema.(map[string]any) {
			schema[k] = v
		}
		props := map[string]any{}
		for k, v := range schema["properties"].(map[string]any) {
			if k != "user_id" {
				props[k] = v
			}
		}
		schema["properties"] = props
		t.specs = append(t.specs, agent.Tool{Name: mt.tool.Name, Description: mt.tool.Description, Parameters: schema})
		t.runs[mt.tool.Name] = mt.run
	}
	return t
}

// call runs a tool the model asked for and returns its result for the
// model: the structured result, or {"detail": …} for a refusal.
func (t agentTools) call(ctx context.Context, caller auth.Principal, name string, args json.RawMessage) (json.RawMessage, bool) {
	run, ok := t.runs[name]
	if !ok {
		return agent.ErrorResult("Unknown tool: " + name), true
	}
	structured, _, refusal := t.app.callTool(ctx, caller, name, args, run)
	if refusal != "" {
		return agent.ErrorResult(refusal), true
	}
	b, err := json.Marshal(structured)
	if err != nil {
		return json.RawMessage(`{"detail":"Internal Server Error"}`), true
	}
	return b, false
}

// conversations lists the caller's conversations.
func (a *app) conversations(c *fiber.Ctx) error {
	cs, err := a.chatStore()
	if err != nil {
		return err
	}
	convs, err := cs.Conversations(c.UserContext(), owner(c))
	if err != nil {
		return err
	}
	return writeJSON(c, fiber.StatusOK, convs)
}

// messages lists one conversation's messages.
func (a *app) messages(c *fiber.Ctx) error {
	cs, id, err := a.conversationRoute(c)
	if err != nil {
		return err
	}
	msgs, err := cs.Messages(c.UserContext(), owner(c), id)
	if err != nil {
		return err
	}
	return writeJSON(c, fiber.StatusOK, msgs)
}

// deleteConversation deletes one conversation with its messages.
func (a *app) deleteConversation(c *fiber.Ctx) error {
	cs, id, err := a.conversationRoute(c)
	if err != nil {
		return err
	}
	if err := cs.DeleteConversation(c.UserContext(), owner(c), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// conversationRoute is the store and the {id} of a conversation's route.
func (a *app) conversationRoute(c *fiber.Ctx) (store.ChatStore, uint64, error) {
	cs, err := a.chatStore()
	if err != nil {
		return nil, 0, err
	}
	id, err := conversationParam(c)
	return cs, id, err
}

// conversationParam reads the {id} of a conversation route, as task ids
// are read.
func conversationParam(c *fiber.Ctx) (uint64, error) {
	id, err := parseTaskID(c.Params("id"))
	if errors.Is(err, store.ErrNotFound) { // 0, or past every id
		return 0, store.ErrConversationNotFound
	}
	return id, err
}
