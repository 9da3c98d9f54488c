package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/api"
)

const bodyLimit = 1 << 20 // the default

// countingReader counts what the client read of the body it sends.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func bigBody(n int) []byte {
	head, tail := `{"title":"big","description":"`, `"}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// TestOversizedBodyArrivesAs413 sends bodies over the limit from Go's
// client over a real socket, with and without Content-Length and Expect:
// 100-continue: each must read a 413 in the contract's shape, not a reset,
// and the same client must go on working.
func TestOversizedBodyArrivesAs413(t *testing.T) {
	e := newEnv(t, api.Config{})
	url := e.listen() + "/api/alice/tasks"
	tok := token(t, "alice")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}}
	for _, times := range []float64{1.5, 4, 16} {
		for _, chunked := range []bool{false, true} {
			for _, expect := range []bool{false, true} {
				name := fmt.Sprintf("%gx/chunked=%t/expect=%t", times, chunked, expect)
				t.Run(name, func(t *testing.T) {
					body := &countingReader{r: bytes.NewReader(bigBody(int(times * bodyLimit)))}
					req, _ := http.NewRequest("POST", url, body)
					req.ContentLength = int64(times * bodyLimit)
					if chunked {
						req.ContentLength = -1
					}
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("Content-Type", "application/json")
					if expect {
						req.Header.Set("Expect", "100-continue")
					}
					resp, err := client.Do(req)
					if err != nil {
						t.Fatalf("the client got %v, not the 413", err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 413 || string(b) != `{"detail":"Request body too large"}` {
						t.Errorf("%d %s", resp.StatusCode, b)
					}
					if expect && !chunked && body.n != 0 {
						t.Errorf("the client sent %d bytes of a body it declared too large; it should have got the 413 instead of 100 Continue", body.n)
					}
					if r := get(t, client, url, tok); r != 200 {
						t.Errorf("the next request on the same client: %d", r)
					}
				})
			}
		}
	}
	if r := get(t, client, url, tok); r != 200 {
		t.Fatalf("list: %d", r)
	}
}

func get(t *testing.T, client *http.Client, url, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET after a 413: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestOversizedBodyDrainIsBounded sends far more than any drain budget, and
// then sends nothing: in both cases the server still answers 413 and then
// closes the connection itself, so no client can pin it.
func TestOversizedBodyDrainIsBounded(t *testing.T) {
	e := newEnv(t, api.Config{})
	addr := strings.TrimPrefix(e.listen(), "http://")
	tok := token(t, "alice")
	head := fmt.Sprintf("POST /api/alice/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", tok, 1<<30)

	t.Run("Flood", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		answer := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(c) // until the server closes
			answer <- string(b)
		}()
		c.Write([]byte(head))
		chunk := make([]byte, 1<<20)
		sent := 0
		for sent < 1<<30 {
			c.SetWriteDeadline(time.Now().Add(15 * time.Second))
			n, err := c.Write(chunk)
			sent += n
			if err != nil {
				break
			}
		}
		if sent >= 1<<30 {
			t.Fatalf("the server read all of a 1 GiB body")
		}
		if got := <-answer; !strings.HasPrefix(got, "HTTP/1.1 413 ") {
			t.Errorf("answer %.200q", got)
		}
		t.Logf("the server stopped reading after %d MiB", sent>>20)
	})
	t.Run("Stall", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(head + "{\"title\":"))
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 413 || !resp.Close {
			t.Errorf("%d, closing %t", resp.StatusCode, resp.Close)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("no end of the response stream (FIN) after the 413: %v", err)
		}
		// The server has stopped writing; it stops reading, and closes,
		// once the sender has been quiet for a while: then writes fail.
		time.Sleep(3 * time.Second)
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if _, err := c.Write([]byte("x")); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a stalled sender kept its connection open")
			}
		}
	})
}

// TestOversizedBodyFromNode is the same check with the clients a Next.js
// server has: Node's fetch (Content-Length and chunked) and node:http with
// Expect: 100-continue (fetch refuses that header).
func TestOversizedBodyFromNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed; CI must install it")
		}
		t.Skip("SKIPPING the Node client test: node is not installed (CI installs it)")
	}
	e := newEnv(t, api.Config{})
	url := e.listen() + "/api/alice/tasks"
	out, err := exec.Command(node, "../testdata/clients/oversize.mjs", url, token(t, "alice"), fmt.Sprint(bodyLimit)).Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 9 {
		t.Fatalf("want 9 results, got:\n%s", out)
	}
	for _, line := range lines {
		var r struct {
			Client   string
			Times    float64
			Status   int
			Body     string
			Error    string
			BodySent *bool
			Next     any
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status != 413 || r.Body != `{"detail":"Request body too large"}` || r.Error != "" || r.Next != 200.0 {
			t.Errorf("%s", line)
		}
		if r.BodySent != nil && *r.BodySent {
			t.Errorf("%s: the body was sent after the server knew it was too large", line)
		}
	}
}
