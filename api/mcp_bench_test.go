package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/taskbolt/taskbolt/api"
)

// BenchmarkMCP is a tools/call through the whole stack over loopback HTTP
// (auth, the SDK's stateless Streamable HTTP handler, the tool), beside
// the REST list of the same page.
func BenchmarkMCP(b *testing.B) {
	e := newEnv(&testing.T{}, api.Config{MCP: &api.MCPConfig{}})
	base := e.listen()
	tok := token(b, "alice")
	for i := range 20 {
		e.create("alice", "task "+string(rune('a'+i)))
	}
	run := func(b *testing.B, method, path, body string, hdr ...string) {
		b.ReportAllocs()
		for b.Loop() {
			benchRequest(b, tok, method, base+path, body, hdr...)
		}
	}
	mcp := []string{"Accept", "application/json", "Mcp-Protocol-Version", "2025-06-18"}
	b.Run("RESTList", func(b *testing.B) { run(b, "GET", "/api/alice/tasks?limit=20", "") })
	b.Run("ListTasks", func(b *testing.B) {
		run(b, "POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks","arguments":{"limit":20}}}`, mcp...)
	})
	b.Run("ToolsList", func(b *testing.B) {
		run(b, "POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, mcp...)
	})
}

// benchRequest sends one request as tok's user and fails on anything but
// a 200; the body is read and dropped.
func benchRequest(b *testing.B, tok, method, url, body string, hdr ...string) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
}
