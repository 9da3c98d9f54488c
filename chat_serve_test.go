package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/taskbolt/taskbolt/api/agent/agenttest"
)

// TestServeChat runs the real program: without a model it says at start
// that chat is off and answers 501; with OPENAI_BASE_URL alone (a local
// server needs no key) it names the model and where it is, never a key,
// and a turn adds a task; CHAT_RATE_LIMIT holds at its default and 0 turns
// it off; bad chat settings refuse to start, saying which.
func TestServeChat(t *testing.T) {
	dir := t.TempDir()
	off := start(t, baseEnv(t, dir+"/off.db", "LOG_LEVEL=info"), "serve")
	status, body := call(t, "POST", off.url+"/api/alice/chat", mint(t, "alice"), `{"message":"hi"}`)
	if status != 501 || body != `{"detail":"Chat is not configured"}` {
		t.Fatalf("chat without a model: %d %s", status, body)
	}
	if logs := off.logs.String(); !strings.Contains(logs, "chat is not configured") || !strings.Contains(logs, "chat=off") {
		t.Fatalf("the start does not say chat is off:\n%s", logs)
	}

	model := httptest.NewServer(&agenttest.Model{})
	defer model.Close()
	const key = "sk-never-logged-0123456789"
	on := start(t, baseEnv(t, dir+"/on.db", "LOG_LEVEL=info", "OPENAI_BASE_URL="+model.URL+"/v1", "OPENAI_API_KEY="+key,
		"CHAT_MODEL=scripted"), "serve")
	status, body = call(t, "POST", on.url+"/api/alice/chat", mint(t, "alice"), `{"message":"add Buy milk"}`)
	if status != 200 || !strings.Contains(body, `"response":"I've added \"Buy milk\"."`) {
		t.Fatalf("a turn: %d %s", status, body)
	}
	if status, body = call(t, "GET", on.url+"/api/alice/tasks", mint(t, "alice"), ""); !strings.Contains(body, `"title":"Buy milk"`) {
		t.Fatalf("the turn's task: %d %s", status, body)
	}
	logs := on.logs.String()
	if !strings.Contains(logs, `chat="scripted at `+strings.TrimPrefix(model.URL, "http://")+`"`) || strings.Contains(logs, key) {
		t.Fatalf("the start line names the model and its host, never the key:\n%s", logs)
	}

	// CHAT_RATE_LIMIT is 20 turns a minute by default (one is above); 0 is none.
	for i := 2; i <= 21; i++ {
		status, body = call(t, "POST", on.url+"/api/alice/chat", mint(t, "alice"), `{"message":"hi"}`)
		if want := map[bool]int{true: 200, false: 429}[i <= 20]; status != want {
			t.Fatalf("turn %d: %d %s, want %d", i, status, body, want)
		}
	}
	unlimited := start(t, baseEnv(t, dir+"/unlimited.db", "OPENAI_BASE_URL="+model.URL+"/v1", "CHAT_RATE_LIMIT=0"), "serve")
	for i := 1; i <= 25; i++ {
		if status, body = call(t, "POST", unlimited.url+"/api/alice/chat", mint(t, "alice"), `{"message":"hi"}`); status != 200 {
			t.Fatalf("CHAT_RATE_LIMIT=0, turn %d: %d %s", i, status, body)
		}
	}

	for _, c := range []struct{ env, want string }{
		{"CHAT_TIMEOUT=0s", "CHAT_TIMEOUT 0s must be between 1s and 10m"},
		{"CHAT_RATE_LIMIT=-1", "CHAT_RATE_LIMIT must be >= 0"},
		{"OPENAI_BASE_URL=localhost:11434", `OPENAI_BASE_URL "localhost:11434" is not an http(s) URL`},
		{"CHAT_HISTORY_TOKENS=10", "CHAT_HISTORY_TOKENS 10 must be at least 500"},
	} {
		_, _, err := runCmd(t, baseEnv(t, dir+"/bad.db", c.env), "serve")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.env, err)
		}
	}
}
