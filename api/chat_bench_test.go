package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/taskbolt/taskbolt/api"
)

// BenchmarkChatTurn is a whole chat turn over loopback HTTP against the
// scripted model (itself on loopback): a turn with no tool call, one that
// lists, one that adds. Besides ns/op it reports server-µs/turn, the turn's
// time outside the model as the server logs it (its "chat turn" line:
// history read, two message writes, tools, encoding, and the openai client's
// own work on requests and answers).
func BenchmarkChatTurn(b *testing.B) {
	e, _ := chatEnv(&testing.T{}, api.Config{}, api.ChatConfig{})
	base := e.listen()
	tok := token(b, "alice")
	for i := range 20 {
		e.create("alice", "task "+string(rune('a'+i)))
	}
	for _, c := range []struct{ name, message string }{{"NoTool", "hello"}, {"ListTasks", "list"}, {"AddTask", "add Bench task"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			mark := len(e.logs.String())
			body := `{"message":` + quote(c.message) + `}`
			for b.Loop() {
				benchRequest(b, tok, "POST", base+"/api/alice/chat", body)
			}
			var sum, n float64
			for _, line := range strings.Split(e.logs.String()[mark:], "\n") {
				var l struct {
					Msg      string  `json:"msg"`
					ServerUS float64 `json:"server_us"`
				}
				if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "chat turn" {
					sum, n = sum+l.ServerUS, n+1
				}
			}
			if n > 0 {
				b.ReportMetric(sum/n, "server-µs/turn")
			}
		})
	}
}
