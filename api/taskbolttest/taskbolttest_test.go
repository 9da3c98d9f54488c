package taskbolttest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/api/agent"
	"github.com/taskbolt/taskbolt/api/agent/agenttest"
	"github.com/taskbolt/taskbolt/api/taskbolttest"
	"github.com/taskbolt/taskbolt/store/dump"
)

func call(t *testing.T, srv *taskbolttest.Server, user, tok, method, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+"/api/"+user+"/tasks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServer: a seeded server answers with the contract, refuses another
// user's URL, resets, and two servers share nothing.
func TestServer(t *testing.T) {
	srv := taskbolttest.New(t, taskbolttest.Options{Seed: &dump.Document{Users: []dump.User{{UserID: "alice", Tasks: []dump.Task{{Title: "seeded"}}}}}})
	if status, body := call(t, srv, "alice", srv.Token("alice"), "POST", `{"title":"Buy milk"}`); status != 201 || !strings.Contains(body, `"id":2`) {
		t.Fatalf("create: %d %s", status, body)
	}
	status, body := call(t, srv, "alice", srv.Token("alice"), "GET", "")
	var tasks []struct{ Title string }
	json.Unmarshal([]byte(body), &tasks)
	if status != 200 || len(tasks) != 2 || tasks[0].Title != "Buy milk" || tasks[1].Title != "seeded" {
		t.Fatalf("list: %d %s", status, body)
	}
	if status, body := call(t, srv, "alice", srv.Token("bob"), "GET", ""); status != 403 || body != `{"detail":"Not authorized to access these tasks"}` {
		t.Fatalf("bob on alice's URL: %d %s", status, body)
	}
	if status, _ := call(t, srv, "alice", "not-a-token", "GET", ""); status != 401 {
		t.Fatalf("a bad token: %d", status)
	}
	srv.Reset()
	if _, body := call(t, srv, "alice", srv.Token("alice"), "GET", ""); body != "[]" {
		t.Fatalf("after Reset: %s", body)
	}
	other := taskbolttest.New(t, taskbolttest.Options{Secret: "a-fixed-test-secret-of-32-bytes!!"})
	call(t, srv, "alice", srv.Token("alice"), "POST", `{"title":"only here"}`)
	if _, body := call(t, other, "alice", other.Token("alice"), "GET", ""); body != "[]" {
		t.Fatalf("the second server sees %s", body)
	}
	if status, _ := call(t, other, "alice", srv.Token("alice"), "GET", ""); status != 401 {
		t.Fatalf("one server's token on another with another secret: %d", status)
	}
}

// TestServerStopsWithTheTest: the server is gone once its test ends.
func TestServerStopsWithTheTest(t *testing.T) {
	var url string
	t.Run("inner", func(t *testing.T) { url = taskbolttest.New(t, taskbolttest.Options{}).URL })
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("the server still answers after its test ended")
	}
}

// TestChatWithAScriptedModel: the fixture with chat on, over the scripted
// model of api/agent/agenttest, as an app's own tests of its chat use it.
func TestChatWithAScriptedModel(t *testing.T) {
	model := httptest.NewServer(&agenttest.Model{})
	defer model.Close()
	ag := agent.New(agent.Config{BaseURL: model.URL + "/v1", Model: "scripted"})
	srv := taskbolttest.New(t, taskbolttest.Options{Chat: &api.ChatConfig{Agent: ag}})
	req, _ := http.NewRequest("POST", srv.URL+"/api/alice/chat", strings.NewReader(`{"message":"add Water the plants"}`))
	req.Header.Set("Authorization", "Bearer "+srv.Token("alice"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"response":"I've added \"Water the plants\"."`) {
		t.Fatalf("a turn: %d %s", resp.StatusCode, b)
	}
	if task, err := srv.Store.Get(context.Background(), "alice", 1); err != nil || task.Title != "Water the plants" {
		t.Fatalf("the task the turn added: %+v %v", task, err)
	}
}
