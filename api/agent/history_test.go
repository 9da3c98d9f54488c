package agent_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/taskbolt/taskbolt/api/agent"
	"github.com/taskbolt/taskbolt/store"
)

// TestWindow: whole turns are dropped, oldest first, to fit the budget;
// the last message always goes; an assistant message that called tools is
// sent as its calls, their results, then its words.
func TestWindow(t *testing.T) {
	long := strings.Repeat("x", 2000) // ~500 tokens
	calls, _ := json.Marshal([]agent.ToolCall{{Name: "add_task", Arguments: json.RawMessage(`{"title":"milk"}`),
		Result: json.RawMessage(`{"task_id":1}`)}})
	history := []store.Message{
		{ID: 1, Role: store.RoleUser, Content: "first " + long},
		{ID: 2, Role: store.RoleAssistant, Content: "ok"},
		{ID: 3, Role: store.RoleUser, Content: "add milk"},
		{ID: 4, Role: store.RoleAssistant, Content: "Added.", ToolCalls: calls},
		{ID: 5, Role: store.RoleUser, Content: "now"},
	}
	roles := func(budget int) string {
		var out []string
		for _, m := range agent.Window(history, budget) {
			b, _ := json.Marshal(m)
			var v struct {
				Role       string `json:"role"`
				ToolCallID string `json:"tool_call_id"`
				ToolCalls  []struct {
					ID       string `json:"id"`
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			}
			json.Unmarshal(b, &v)
			switch {
			case len(v.ToolCalls) > 0:
				out = append(out, "calls:"+v.ToolCalls[0].ID+":"+v.ToolCalls[0].Function.Name+v.ToolCalls[0].Function.Arguments)
			case v.ToolCallID != "":
				out = append(out, "result:"+v.ToolCallID)
			default:
				out = append(out, v.Role)
			}
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		budget int
		want   string
	}{
		{10000, `user assistant user calls:call_4_0:add_task{"title":"milk"} result:call_4_0 assistant user`},
		{300, `user calls:call_4_0:add_task{"title":"milk"} result:call_4_0 assistant user`}, // the first turn does not fit
		{1, `user`}, // the last message goes whatever the budget
	} {
		if got := roles(c.budget); got != c.want {
			t.Errorf("budget %d:\n got %s\nwant %s", c.budget, got, c.want)
		}
	}
	if got := agent.Window(nil, 100); len(got) != 0 {
		t.Errorf("an empty history: %d messages", len(got))
	}
}
