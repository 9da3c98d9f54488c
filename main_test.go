package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/store"
)

const testSecret = "end-to-end-secret-of-at-least-32-bytes"

const adminToken = "admin-token-for-tests-0123456789"

// server is one run() of the real program on a random port.
type server struct {
	url  string
	stop context.CancelFunc
	done chan error
	out  *io.PipeReader
	logs *syncBuffer // what the server wrote to stderr
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func baseEnv(t *testing.T, db string, extra ...string) []string {
	return append([]string{
		"BETTER_AUTH_SECRET=" + testSecret, "HOST=127.0.0.1", "PORT=0",
		"DATABASE_URL=" + db, "TASKBOLT_ENV_FILE=", "LOG_LEVEL=warn",
	}, extra...)
}

// start runs the program and waits for its "listening on" line.
func start(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{stop: cancel, done: make(chan error, 1), out: pr, logs: &syncBuffer{}}
	go func() {
		err := run(ctx, args, env, pw, s.logs)
		pw.CloseWithError(io.EOF)
		s.done <- err
	}()
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			s.url = url
			go io.Copy(io.Discard, pr)
			break
		}
	}
	if s.url == "" {
		cancel()
		t.Fatalf("server did not start: %v", <-s.done)
	}
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

func (s *server) shutdown(t *testing.T) {
	t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run returned %v on shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
}

func call(t *testing.T, method, url, tok, body string) (int, string) {
	t.Helper()
	if tok != "" {
		return callWith(t, method, url, body, "Authorization", "Bearer "+tok)
	}
	return callWith(t, method, url, body)
}

// callWith sends a request with the header pairs given (empty values are
// left out) and returns the status and body.
func callWith(t *testing.T, method, url, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] != "" {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mint(t *testing.T, sub string) string {
	tok, err := hs256.Sign([]byte(testSecret), hs256.Claims(sub, time.Hour, "", "", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func runCmd(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut strings.Builder
	err := run(context.Background(), args, env, &out, &errOut)
	return out.String(), errOut.String(), err
}

func listTitles(t *testing.T, url, user string) []string {
	t.Helper()
	code, body := call(t, "GET", url+"/api/"+user+"/tasks?sort=id&limit=100", mint(t, user), "")
	if code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
	var tasks []store.Task
	json.Unmarshal([]byte(body), &tasks)
	var titles []string
	for _, task := range tasks {
		titles = append(titles, task.Title)
	}
	return titles
}

func regexpFind(s, pattern string) string {
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return strings.Trim(m[1], `"`)
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestVersionAndUsage(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"version"}, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "taskbolt ") {
		t.Errorf("version: %q %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, nil, io.Discard, io.Discard); exitCode(err) != 2 {
		t.Errorf("unknown command: %v", err)
	}
}

// TestEveryCommandHasHelp checks that each --help says what the command does
// and shows an example, and that the overview lists every command.
func TestEveryCommandHasHelp(t *testing.T) {
	if len(docs) != len(commands) {
		t.Errorf("%d commands, %d documented", len(commands), len(docs))
	}
	overview, _, err := runCmd(t, nil, "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			if _, ok := commands[d.name]; !ok {
				t.Fatalf("documented but not a command")
			}
			if !strings.Contains(overview, "taskbolt "+d.synopsis) || !strings.Contains(overview, d.summary) {
				t.Errorf("the overview does not list it:\n%s", overview)
			}
			_, errOut, err := runCmd(t, nil, d.name, "--help")
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Usage: taskbolt " + d.synopsis + "\n", d.about, "Example:\n  ", strings.SplitN(d.example, "\n", 2)[0]} {
				if !strings.Contains(errOut, want) {
					t.Errorf("--help lacks %q:\n%s", want, errOut)
				}
			}
			if len(d.about) < 40 {
				t.Errorf("about %q says too little", d.about)
			}
		})
	}
	// A first-time user's `taskbolt --help` gets the overview, not serve's flags.
	for _, h := range []string{"--help", "-h", "-help"} {
		if got, _, err := runCmd(t, nil, h); err != nil || got != overview {
			t.Errorf("taskbolt %s = %q, %v; want the overview", h, got, err)
		}
	}
	if _, errOut, _ := runCmd(t, nil, "serve", "--help"); !strings.Contains(errOut, "Usage: taskbolt "+docOf("serve").synopsis+"\n") || !strings.Contains(errOut, "Flags:") {
		t.Errorf("serve --help:\n%s", errOut)
	}
	_, errOut, _ := runCmd(t, nil, "import", "--help")
	if !strings.Contains(errOut, "seed") || !strings.Contains(errOut, "--url") {
		t.Errorf("import --help:\n%s", errOut)
	}
}
