package main

// Crash safety of the real binary: SIGKILL at random moments under
// concurrent writes must never lose a write that got a 2xx, nor leave a file
// that fails bbolt's consistency check; SIGTERM under load drains and exits.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// taskboltBinary builds the real binary once per test run.
func taskboltBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "taskbolt-bin")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "taskbolt")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

type process struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

func startBinary(t *testing.T, db string) *process {
	t.Helper()
	cmd := exec.Command(taskboltBinary(t), "serve")
	cmd.Env = append(os.Environ(), baseEnv(t, db)...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			p.url = u
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	go func() { p.done <- cmd.Wait() }()
	if p.url == "" {
		t.Fatalf("binary did not start: %v", <-p.done)
	}
	return p
}

// writeLoad runs writers until stop closes or the server goes away, and
// records what was acknowledged: created titles per user, and per task the
// highest description sequence a PUT got a 200 for.
type writeLoad struct {
	mu      sync.Mutex
	created map[string]map[string]bool // user -> title
	updated map[string]int             // user/id -> seq
	acks    int
}

func newWriteLoad() *writeLoad {
	return &writeLoad{created: map[string]map[string]bool{}, updated: map[string]int{}}
}

func (w *writeLoad) run(t *testing.T, url string, writers int, stop <-chan struct{}, cycle int) *sync.WaitGroup {
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for n := range writers {
		user := fmt.Sprintf("crash-user-%d", n%4)
		tok := mint(t, user)
		wg.Go(func() {
			var mine []string // ids this writer created: only it updates them
			for seq := 1; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				var req *http.Request
				title := fmt.Sprintf("c%d-w%d-%d", cycle, n, seq)
				update := len(mine) > 0 && seq%3 == 0
				var key string
				if update {
					id := mine[seq%len(mine)]
					key = user + "/" + id
					req, _ = http.NewRequest("PUT", url+"/api/"+user+"/tasks/"+id, strings.NewReader(`{"description":"seq-`+strconv.Itoa(seq)+`"}`))
				} else {
					req, _ = http.NewRequest("POST", url+"/api/"+user+"/tasks", strings.NewReader(`{"title":"`+title+`","tags":["crash","w`+strconv.Itoa(n%3)+`"],"priority":"high","due_date":"2030-01-01"}`))
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					return // killed
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				w.mu.Lock()
				switch {
				case !update && resp.StatusCode == 201:
					if w.created[user] == nil {
						w.created[user] = map[string]bool{}
					}
					w.created[user][title] = true
					w.acks++
					var task store.Task
					if task.UnmarshalJSON(body) == nil {
						mine = append(mine, strconv.FormatUint(task.ID, 10))
					}
				case update && resp.StatusCode == 200:
					w.updated[key] = max(w.updated[key], seq)
					w.acks++
				case resp.StatusCode >= 500:
					t.Errorf("a %d under load: %s", resp.StatusCode, body)
				}
				w.mu.Unlock()
			}
		})
	}
	return &wg
}

// verify checks the file after the process is gone: consistency, then every
// acknowledged write.
func (w *writeLoad) verify(t *testing.T, db string) {
	t.Helper()
	raw, err := bbolt.Open(db, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	raw.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("consistency check: %v", err)
		}
		return nil
	})
	raw.Close()
	s, err := bolt.Open(db, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Check(ctx); err != nil {
		t.Errorf("after the kill, indexes and counts disagree with the tasks: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for user, titles := range w.created {
		stored := map[string]bool{}
		byID := map[uint64]store.Task{}
		q := store.ListQuery{Status: store.StatusAll, Sort: store.SortID, Limit: store.MaxLimit}
		for {
			page, total, err := s.List(ctx, user, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range page {
				stored[task.Title] = true
				byID[task.ID] = task
			}
			q.Offset += len(page)
			if q.Offset >= total || len(page) == 0 {
				break
			}
		}
		for title := range titles {
			if !stored[title] {
				t.Errorf("acknowledged create %s/%s is lost", user, title)
			}
		}
		for key, seq := range w.updated {
			u, id, _ := strings.Cut(key, "/")
			if u != user {
				continue
			}
			n, _ := strconv.ParseUint(id, 10, 64)
			task := byID[n]
			got := 0
			if task.Description != nil {
				got, _ = strconv.Atoi(strings.TrimPrefix(*task.Description, "seq-"))
			}
			if got < seq {
				t.Errorf("acknowledged update %s to seq-%d is lost (stored seq-%d)", key, seq, got)
			}
		}
	}
}

func TestKill9UnderWriteLoad(t *testing.T) {
	cycles := 30 // about ten seconds; TASKBOLT_KILL_CYCLES for a longer soak
	if v, err := strconv.Atoi(os.Getenv("TASKBOLT_KILL_CYCLES")); err == nil {
		cycles = v
	}
	db := filepath.Join(t.TempDir(), "crash.db")
	load := newWriteLoad()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for cycle := range cycles {
		p := startBinary(t, db)
		stop := make(chan struct{})
		wg := load.run(t, p.url, 16, stop, cycle)
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		close(stop)
		wg.Wait()
		load.verify(t, db) // after every kill, before the next start
		if t.Failed() {
			t.Fatalf("cycle %d", cycle)
		}
	}
	t.Logf("%d kill -9 cycles, %d acknowledged writes verified present, file consistent after each", cycles, load.acks)
}

func TestSIGTERMUnderWriteLoad(t *testing.T) {
	db := filepath.Join(t.TempDir(), "term.db")
	p := startBinary(t, db)
	load := newWriteLoad()
	stop := make(chan struct{})
	wg := load.run(t, p.url, 32, stop, 0)
	time.Sleep(500 * time.Millisecond)
	began := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(12 * time.Second):
		p.cmd.Process.Kill()
		t.Fatal("did not exit within the 10s drain timeout")
	}
	took := time.Since(began)
	close(stop)
	wg.Wait()
	load.verify(t, db)
	t.Logf("SIGTERM under 32 writers: exited cleanly in %v, %d acknowledged writes all present", took.Round(time.Millisecond), load.acks)
}
