package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/taskbolt/taskbolt/api"
)

// countingListener counts the writes made to the connections it accepts.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return &countingConn{Conn: c, writes: &l.writes}, err
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestAPageIsOneWrite: a page of 20 tasks with descriptions (some 20 KB,
// where fasthttp's default 4 KiB write buffer sent a page in two writes or
// more) goes to the client in one write, headers and body together.
func TestAPageIsOneWrite(t *testing.T) {
	e := newEnv(t, api.Config{})
	alice := token(t, "alice")
	for i := range 20 {
		body := fmt.Sprintf(`{"title":"task %02d","description":%q,"tags":["home"]}`, i, strings.Repeat("words ", 150))
		if r := e.do("POST", "/api/alice/tasks", alice, body); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	go api.Serve(e.app, ln)
	t.Cleanup(func() { e.app.Shutdown() })

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	for round := range 3 { // and again on the same keep-alive connection
		before := ln.writes.Load()
		fmt.Fprintf(conn, "GET /api/alice/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", alice)
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) < 18000 {
			t.Fatalf("round %d: %d, %d bytes; want 200 and a page over 18,000 bytes", round, resp.StatusCode, len(body))
		}
		if n := ln.writes.Load() - before; n != 1 {
			t.Errorf("round %d: the page of %d bytes took %d writes, want 1", round, len(body), n)
		}
	}
}
