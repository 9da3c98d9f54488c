// Package agenttest is a scripted OpenAI-compatible model for tests: a
// Chat Completions endpoint (JSON and streamed) whose answers follow the
// last user message, so a test, a browser or another replica gets the same
// behaviour from the same words, with no state in the server.
//
// Scripts (the last user message, after trimming):
//
//	add <title>          add_task {"title"}, then "I've added "<title>"."
//	complete <title>     list_tasks {"status":"pending"}, complete_task of the task so titled, then "Done: <title>."
//	delete <title>       list_tasks, delete_task of the task so titled, then "Deleted <title>."
//	call <tool> <json>   that tool with those arguments as written, then "Result: <the result JSON>"
//	list                 list_tasks {}, then "You have N tasks."
//	loop                 list_tasks on every round, never an answer of its own
//	fail                 HTTP 500 with an OpenAI error body
//	garbage              HTTP 200 with a body that is not JSON
//	slow <seconds>       waits, then answers "Slept."
//	huge                 an answer of 100 KB
//	anything else        "You said: <message>"
package agenttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Model is the scripted model's HTTP handler; serve it under /v1 (the base
// URL a client is given ends in /v1).
type Model struct {
	calls atomic.Int64
	mu    sync.Mutex
	last  Request
}

// Request is what a client sent, as far as the tests look at it.
type Request struct {
	Model    string    `json:"model"`
	Stream   bool      `json:"stream"`
	Messages []Message `json:"messages"`
	Tools    []struct {
		Function struct {
			Name       string         `json:"name"`
			Parameters map[string]any `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice    any `json:"tool_choice"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// Message is one message of a request.
type Message struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// Text is a message's content as text.
func (m Message) Text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	return string(m.Content)
}

// Calls is how many completions were asked for.
func (m *Model) Calls() int64 { return m.calls.Load() }

// Last is the last request.
func (m *Model) Last() Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// answer is one completion: words, or tool calls.
type answer struct {
	text  string
	calls []call
}

type call struct{ name, args string }

func (m *Model) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	m.calls.Add(1)
	m.mu.Lock()
	m.last = req
	m.mu.Unlock()

	script, results := turnOf(req.Messages)
	verb, rest, _ := strings.Cut(script, " ")
	var a answer
	switch verb {
	case "fail":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"message":"the scripted model failed","type":"server_error"}}`))
		return
	case "garbage":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`<html>not json`))
		return
	case "slow":
		secs, _ := strconv.ParseFloat(rest, 64)
		select {
		case <-time.After(time.Duration(secs * float64(time.Second))):
		case <-r.Context().Done():
			return
		}
		a.text = "Slept."
	case "huge":
		a.text = strings.Repeat("All work and no play. ", 100<<10/22)
	case "add":
		if len(results) == 0 {
			a.calls = []call{{"add_task", mustJSON(map[string]string{"title": rest})}}
		} else {
			a.text = fmt.Sprintf("I've added %q.", rest)
		}
	case "complete", "delete":
		tool, done := "complete_task", "Done: "+rest+"."
		if verb == "delete" {
			tool, done = "delete_task", "Deleted "+rest+"."
		}
		switch len(results) {
		case 0:
			args := `{}`
			if verb == "complete" {
				args = `{"status":"pending"}`
			}
			a.calls = []call{{"list_tasks", args}}
		case 1:
			id := findTask(results[0], rest)
			if id == 0 {
				a.text = fmt.Sprintf("I couldn't find a task called %q.", rest)
				break
			}
			a.calls = []call{{tool, mustJSON(map[string]uint64{"task_id": id})}}
		default:
			a.text = done
		}
	case "call":
		tool, args, _ := strings.Cut(rest, " ")
		if len(results) == 0 {
			a.calls = []call{{tool, args}}
		} else {
			a.text = "Result: " + results[len(results)-1]
		}
	case "list":
		if len(results) == 0 {
			a.calls = []call{{"list_tasks", `{}`}}
		} else {
			var page struct{ Total int }
			json.Unmarshal([]byte(results[0]), &page)
			a.text = fmt.Sprintf("You have %d tasks.", page.Total)
		}
	case "loop":
		a.calls = []call{{"list_tasks", `{}`}}
	default:
		a.text = "You said: " + script
	}
	if req.Stream {
		m.stream(w, req, a)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(completion(req, a))
}

// turnOf is the last user message and the tool results that followed it.
func turnOf(msgs []Message) (script string, results []string) {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			for _, m := range msgs[i+1:] {
				if m.Role == "tool" {
					results = append(results, m.Text())
				}
			}
			return strings.TrimSpace(msgs[i].Text()), results
		}
	}
	return "", nil
}

// findTask is the id of the task titled title in a list_tasks result.
func findTask(result, title string) uint64 {
	var page struct {
		Tasks []struct {
			ID    uint64 `json:"id"`
			Title string `json:"title"`
		} `json:"tasks"`
	}
	json.Unmarshal([]byte(result), &page)
	for _, t := range page.Tasks {
		if strings.EqualFold(t.Title, title) {
			return t.ID
		}
	}
	return 0
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// usage is what every answer reports using: 50 prompt and 10 completion tokens.
var usage = map[string]int{"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}

func completion(req Request, a answer) map[string]any {
	msg := map[string]any{"role": "assistant", "content": a.text}
	finish := "stop"
	if len(a.calls) > 0 {
		msg["content"] = nil
		msg["tool_calls"] = toolCalls(a.calls, len(req.Messages))
		finish = "tool_calls"
	}
	return map[string]any{
		"id": "chatcmpl-scripted", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   usage,
	}
}

func toolCalls(calls []call, salt int) []any {
	out := make([]any, len(calls))
	for i, c := range calls {
		out[i] = map[string]any{"id": fmt.Sprintf("call_%d_%d", salt, i), "type": "function",
			"function": map[string]string{"name": c.name, "arguments": c.args}}
	}
	return out
}

// stream sends the answer as chunks: words a few characters at a time, a
// tool call as its name and then its arguments in pieces, and the usage
// last when asked for.
func (m *Model) stream(w http.ResponseWriter, req Request, a answer) {
	w.Header().Set("Content-Type", "text/event-stream")
	flusher, _ := w.(http.Flusher)
	send := func(delta map[string]any, finish any) {
		chunk := map[string]any{"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
		b, _ := json.Marshal(chunk)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	send(map[string]any{"role": "assistant", "content": ""}, nil)
	finish := "stop"
	if len(a.calls) > 0 {
		finish = "tool_calls"
		for i, c := range a.calls {
			id := fmt.Sprintf("call_%d_%d", len(req.Messages), i)
			send(map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": id, "type": "function",
				"function": map[string]string{"name": c.name, "arguments": ""}}}}, nil)
			for args := c.args; args != ""; {
				n := min(len(args), 7)
				send(map[string]any{"tool_calls": []any{map[string]any{"index": i, "function": map[string]string{"arguments": args[:n]}}}}, nil)
				args = args[n:]
			}
		}
	} else {
		for text := a.text; text != ""; {
			n := min(len(text), 5)
			for n < len(text) && text[n]&0xC0 == 0x80 {
				n++ // whole characters
			}
			send(map[string]any{"content": text[:n]}, nil)
			text = text[n:]
		}
	}
	send(map[string]any{}, finish)
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		b, _ := json.Marshal(map[string]any{"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": time.Now().Unix(),
			"model": req.Model, "choices": []any{},
			"usage": usage})
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}
