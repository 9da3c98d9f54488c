// Package agent runs one turn of the task assistant (CONTRACT.md "Chat"):
// a loop over the Chat Completions API, through the official openai-go
// client, in which the model may call tools until it answers in words.
//
// It knows nothing of HTTP or of who the caller is: the tools it is given
// already act for the caller alone, and whatever arguments the model writes
// reach them only through Call.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/taskbolt/taskbolt/store"
)

// Limits of a turn.
const (
	// MaxRounds is how many times a turn lets the model call tools before
	// it must answer.
	MaxRounds = 8
	// DefaultHistoryTokens is the history a turn sends, estimated in tokens
	// (EstimateTokens): the oldest turns are dropped first to fit.
	DefaultHistoryTokens = 6000
	// MaxResponseBytes is the most of a model's answer that is kept and
	// sent on; a longer one is cut at a character boundary.
	MaxResponseBytes = 32 << 10
	// MaxArgumentBytes is the largest tool-call argument document a tool is
	// run with; a larger one is answered with an error result.
	MaxArgumentBytes = 16 << 10
)

// SystemPrompt is the assistant's behaviour, after the Phase III spec.
const SystemPrompt = `You are a helpful task assistant inside a todo app. You manage the signed-in user's tasks with the tools you are given, and only with them.
- When the user asks to add, create or remember something, call add_task.
- When the user asks to see, show or list tasks, call list_tasks (status "pending" or "completed" when they ask for those).
- When the user says a task is done or complete, call complete_task.
- When the user asks to delete or remove a task by its name, call list_tasks first to find its task_id, then delete_task; do the same before completing or updating a task named rather than numbered.
- When the user asks to change, rename or update a task, call update_task.
- After every change, confirm it in one short sentence that names the task.
- If a tool says a task was not found, say so plainly and offer to list the tasks; never invent tasks or ids.
- The user is always the one signed in: never ask for or pass a user id.`

// Tool is a tool the model may call.
type Tool struct {
	Name        string
	Description string
	Parameters  map[string]any // a JSON Schema object
}

// Call runs a tool for the caller with the model's arguments and returns
// its result as JSON and whether it is an error result. It never fails:
// a refusal is a result the model reads.
type Call func(ctx context.Context, name string, arguments json.RawMessage) (result json.RawMessage, isError bool)

// ToolCall is one call a turn made, as ChatResponse.tool_calls lists it.
type ToolCall struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Result    json.RawMessage `json:"result"`
	IsError   bool            `json:"is_error"`
}

// Event is what a streamed turn sends as it goes: a piece of the answer
// ("delta", Text), a tool call about to run ("tool_call", Call without a
// result) or its result ("tool_result").
type Event struct {
	Kind string
	Text string
	Call ToolCall
}

// Result is a turn's outcome.
type Result struct {
	Response  string
	ToolCalls []ToolCall
	// Tokens the model reported using, over every round.
	PromptTokens, CompletionTokens int64
	// ModelTime is the time spent waiting on the model; the rest of a
	// turn's time is the server's own.
	ModelTime time.Duration
}

// ErrModel is a failure of the model service: an error status, a broken or
// unreadable answer. Its cause is wrapped for the log, never for a client.
var ErrModel = errors.New("the model service failed")

// Agent runs turns against one model.
type Agent struct {
	client        openai.Client
	model         string
	historyTokens int
}

// Config configures New.
type Config struct {
	BaseURL string // OPENAI_BASE_URL; empty: OpenAI's
	APIKey  string // OPENAI_API_KEY; may be empty for a local server
	Model   string
	// HistoryTokens bounds the history sent; default DefaultHistoryTokens.
	HistoryTokens int
	// MaxRetries is how often the client retries a failed call (429, 5xx,
	// a broken connection) within the turn's deadline. 0: once; negative:
	// never.
	MaxRetries int
}

// New returns an agent for cfg.
func New(cfg Config) *Agent {
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = 1
	case retries < 0:
		retries = 0
	}
	// Every option explicit: the client would otherwise also read
	// OPENAI_BASE_URL and OPENAI_API_KEY from the environment itself.
	opts := []option.RequestOption{option.WithMaxRetries(retries), option.WithAPIKey(cfg.APIKey)}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	if cfg.HistoryTokens <= 0 {
		cfg.HistoryTokens = DefaultHistoryTokens
	}
	return &Agent{client: openai.NewClient(opts...), model: cfg.Model, historyTokens: cfg.HistoryTokens}
}

// Model is the model the agent asks.
func (a *Agent) Model() string { return a.model }

// Run runs one turn: the history (the conversation's stored messages, the
// new user message last), the tools, and emit, which when not nil gets the
// turn's events as they happen and makes the model's answer stream. The
// turn's deadline is ctx's; when it passes, Run returns ctx's error.
func (a *Agent) Run(ctx context.Context, history []store.Message, tools []Tool, call Call, emit func(Event)) (Result, error) {
	msgs := []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(SystemPrompt)}
	msgs = append(msgs, Window(history, a.historyTokens)...)
	params := openai.ChatCompletionNewParams{Model: a.model, Messages: msgs}
	for _, t := range tools {
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name: t.Name, Description: param.NewOpt(t.Description), Parameters: t.Parameters}))
	}
	var res Result
	for round := 0; ; round++ {
		if round == MaxRounds {
			// Enough tools: the model answers with what it has.
			params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: param.NewOpt("none")}
		}
		asked := time.Now()
		msg, usage, err := a.complete(ctx, params, emit)
		res.ModelTime += time.Since(asked)
		res.PromptTokens += usage.PromptTokens
		res.CompletionTokens += usage.CompletionTokens
		if err != nil {
			return res, err
		}
		if len(msg.ToolCalls) == 0 || round == MaxRounds {
			res.Response = cut(msg.Content, MaxResponseBytes)
			if res.ToolCalls == nil {
				res.ToolCalls = []ToolCall{}
			}
			return res, nil
		}
		params.Messages = append(params.Messages, msg.ToParam())
		for _, tc := range msg.ToolCalls {
			c := ToolCall{Name: tc.Function.Name, Arguments: argumentsJSON(tc.Function.Arguments)}
			if emit != nil {
				emit(Event{Kind: "tool_call", Call: c})
			}
			switch {
			case tc.Type != "" && tc.Type != "function":
				c.Result, c.IsError = ErrorResult("Unknown tool: "+tc.Type), true
			case len(tc.Function.Arguments) > MaxArgumentBytes:
				c.Result, c.IsError = ErrorResult("arguments: more than "+strconv.Itoa(MaxArgumentBytes)+" bytes"), true
			default:
				c.Result, c.IsError = call(ctx, tc.Function.Name, json.RawMessage(tc.Function.Arguments))
			}
			if err := ctx.Err(); err != nil {
				return res, err
			}
			res.ToolCalls = append(res.ToolCalls, c)
			if emit != nil {
				emit(Event{Kind: "tool_result", Call: c})
			}
			params.Messages = append(params.Messages, openai.ToolMessage(string(c.Result), tc.ID))
		}
	}
}

// complete asks the model once, streaming when emit is set.
func (a *Agent) complete(ctx context.Context, params openai.ChatCompletionNewParams, emit func(Event)) (openai.ChatCompletionMessage, openai.CompletionUsage, error) {
	if emit == nil {
		resp, err := a.client.Chat.Completions.New(ctx, params)
		if err != nil {
			return openai.ChatCompletionMessage{}, openai.CompletionUsage{}, modelError(ctx, err)
		}
		if len(resp.Choices) == 0 {
			return openai.ChatCompletionMessage{}, resp.Usage, fmt.Errorf("%w: an answer without choices", ErrModel)
		}
		return resp.Choices[0].Message, resp.Usage, nil
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
	stream := a.client.Chat.Completions.NewStreaming(ctx, params)
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	sent := 0 // bytes of the answer emitted: a long one stops at the cut
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		if len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" && sent < MaxResponseBytes {
			text := cut(chunk.Choices[0].Delta.Content, MaxResponseBytes-sent)
			sent += len(text)
			if text != "" {
				emit(Event{Kind: "delta", Text: text})
			}
		}
	}
	if err := stream.Err(); err != nil {
		return openai.ChatCompletionMessage{}, acc.Usage, modelError(ctx, err)
	}
	if len(acc.Choices) == 0 {
		return openai.ChatCompletionMessage{}, acc.Usage, fmt.Errorf("%w: a stream without choices", ErrModel)
	}
	return acc.Choices[0].Message, acc.Usage, nil
}

// modelError is the turn's deadline when it has passed, else ErrModel.
func modelError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %w", ErrModel, err)
}

// argumentsJSON is the model's argument string as JSON: itself when it is
// JSON, else the string (a model that wrote broken JSON is shown what it
// wrote, and the tool refuses it).
func argumentsJSON(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage(`{}`)
	}
	if len(s) <= MaxArgumentBytes && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(cut(s, 1024))
	return b
}

// ErrorResult is a refused tool call's result as the model reads it (and
// ChatResponse.tool_calls shows it): {"detail": "…"}, the REST API's words.
func ErrorResult(detail string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"detail": detail})
	return b
}

// cut returns s cut to at most n bytes, at a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
