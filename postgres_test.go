package main

// taskbolt on PostgreSQL through the real run(): serving, moving data in
// from a FastAPI backend and between stores, and an outage of the server.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store/postgres/pgtest"
)

func TestServeOnPostgres(t *testing.T) {
	u := strings.Replace(pgtest.Schema(t), "postgres@", "postgres:s3cret-pw@", 1) // trust auth ignores it; the log must not show it
	s := start(t, baseEnv(t, u, "METRICS=true", "LOG_LEVEL=info"))
	crud(t, s.url, "alice", mint(t, "alice"), mint(t, "bob"))
	if code, body := call(t, "GET", s.url+"/readyz", "", ""); code != 200 || !strings.Contains(body, `"store":"ok"`) {
		t.Errorf("readyz: %d %s", code, body)
	}
	_, metrics := call(t, "GET", s.url+"/metrics", "", "")
	for _, m := range []string{`taskbolt_db_pool_connections{state="max"} 16`, "taskbolt_db_pool_acquires_total", "taskbolt_db_file_size_bytes"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	if logs := s.logs.String(); strings.Contains(logs, "s3cret-pw") || !strings.Contains(logs, "postgres://postgres:xxxxx@") {
		t.Errorf("the start-up log must show the database without its password:\n%s", logs)
	}
}

// fastAPISchema is the table SQLModel creates for the Phase II backend's
// Task model (what `SQLModel.metadata.create_all` emits on PostgreSQL).
const fastAPISchema = `CREATE TABLE task (
	id SERIAL NOT NULL,
	user_id VARCHAR NOT NULL,
	title VARCHAR(200) NOT NULL,
	description VARCHAR(1000),
	completed BOOLEAN NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_task_user_id ON task (user_id)`

func TestImportFromFastAPI(t *testing.T) {
	src := pgtest.Schema(t)
	pgtest.Exec(t, src, fastAPISchema)
	pgtest.Exec(t, src, `INSERT INTO task (user_id, title, description, completed, created_at, updated_at) VALUES
		('u_alice', 'Buy milk', '2 litres', false, '2026-03-01 09:00:00.123456', '2026-03-01 09:00:00.123456'),
		('u_bob',   'Bob''s task', NULL, true, '2026-03-02 10:00:00', '2026-03-03 11:30:00'),
		('u_alice', 'Ünïcode ✓', NULL, true, '2026-03-04 12:00:00', '2026-03-05 08:15:00.5')`)

	for _, target := range []struct{ name, url string }{
		{"IntoBolt", filepath.Join(t.TempDir(), "moved.db")},
		{"IntoPostgres", pgtest.Schema(t)},
	} {
		t.Run(target.name, func(t *testing.T) {
			env := baseEnv(t, target.url)
			for range 2 { // idempotent
				if _, stderr, err := runCmd(t, env, "import", "--from", src); err != nil {
					t.Fatalf("import --from: %v %s", err, stderr)
				}
			}
			out, _, err := runCmd(t, env, "export")
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Users []struct {
					UserID string `json:"user_id"`
					LastID int    `json:"last_id"`
					Tasks  []map[string]any
				}
			}
			json.Unmarshal([]byte(out), &doc)
			if len(doc.Users) != 2 || doc.Users[0].UserID != "u_alice" || len(doc.Users[0].Tasks) != 2 || len(doc.Users[1].Tasks) != 1 {
				t.Fatalf("export after import: %s", out)
			}
			alice, bob := doc.Users[0], doc.Users[1]
			if alice.Tasks[0]["id"] != 1.0 || alice.Tasks[1]["id"] != 3.0 || bob.Tasks[0]["id"] != 2.0 || alice.LastID != 3 {
				t.Errorf("ids not kept: %s", out)
			}
			if alice.Tasks[0]["created_at"] != "2026-03-01T09:00:00.123456Z" || alice.Tasks[1]["updated_at"] != "2026-03-05T08:15:00.500000Z" ||
				alice.Tasks[1]["title"] != "Ünïcode ✓" || bob.Tasks[0]["completed"] != true || alice.Tasks[0]["description"] != "2 litres" {
				t.Errorf("fields or naive-UTC timestamps not kept: %s", out)
			}
			s := start(t, baseEnv(t, target.url))
			if c := createTask(t, s.url, "u_alice", "after the move"); c != 4 {
				t.Errorf("the next id after the move = %d, want 4", c)
			}
		})
	}
	t.Run("RefusesBadRowsWhole", func(t *testing.T) {
		pgtest.Exec(t, src, `INSERT INTO task (user_id, title, description, completed, created_at, updated_at) VALUES
			('u_carol', 'fine', NULL, false, now(), now()), ('u/bad', 'x', NULL, false, now(), now()), ('u_carol', '   ', NULL, false, now(), now())`)
		db := filepath.Join(t.TempDir(), "refused.db")
		_, _, err := runCmd(t, baseEnv(t, db), "import", "--from", src)
		if err == nil || !strings.Contains(err.Error(), `user "u/bad"`) || !strings.Contains(err.Error(), `user "u_carol"`) || !strings.Contains(err.Error(), "nothing was imported") {
			t.Fatalf("%v", err)
		}
		if out, _, _ := runCmd(t, baseEnv(t, db), "export"); strings.Contains(out, "fine") {
			t.Errorf("a refused import loaded something: %s", out)
		}
	})
	t.Run("Usage", func(t *testing.T) {
		env := baseEnv(t, filepath.Join(t.TempDir(), "x.db"))
		if _, _, err := runCmd(t, env, "import", "--from", "mysql://x"); err == nil || !strings.Contains(err.Error(), "postgres://") {
			t.Errorf("a non-postgres --from: %v", err)
		}
		if _, _, err := runCmd(t, env, "import", "file.json", "--from", src); err == nil {
			t.Error("a FILE and --from together were accepted")
		}
		if _, _, err := runCmd(t, env, "import", "--from", strings.Replace(src, "postgres@", "postgres:pw-xyzzy@", 1), "--table", "nope"); err == nil || strings.Contains(err.Error(), "xyzzy") {
			t.Errorf("a missing table, and the password must not show: %v", err)
		}
	})
}

func createTask(t *testing.T, url, user, title string) int {
	t.Helper()
	code, body := call(t, "POST", url+"/api/"+user+"/tasks", mint(t, user), fmt.Sprintf(`{"title":%q}`, title))
	var c struct{ ID int }
	if code != 201 || json.Unmarshal([]byte(body), &c) != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	return c.ID
}

// TestMoveBetweenStores: export from bolt, import into PostgreSQL, export
// again: the same document, both ways.
func TestMoveBetweenStores(t *testing.T) {
	boltDB, pg := filepath.Join(t.TempDir(), "a.db"), pgtest.Schema(t)
	s := start(t, baseEnv(t, boltDB))
	for i := range 30 {
		user := []string{"alice", "bob", "carol"}[i%3]
		code, body := call(t, "POST", s.url+"/api/"+user+"/tasks", mint(t, user),
			fmt.Sprintf(`{"title":"task %d","priority":"high","tags":["Home","x%d"],"due_date":"2030-01-0%dT10:00:00Z","recurrence":"weekly","description":"d\u0000%d"}`, i, i%4, 1+i%9, i))
		if code != 201 {
			t.Fatalf("%d %s", code, body)
		}
	}
	call(t, "DELETE", s.url+"/api/alice/tasks/1", mint(t, "alice"), "")
	call(t, "PATCH", s.url+"/api/bob/tasks/2/complete", mint(t, "bob"), "") // spawns bob's next occurrence
	s.shutdown(t)
	file := filepath.Join(t.TempDir(), "bolt.json")
	mustRun(t, baseEnv(t, boltDB), "export", "--out", file)
	mustRun(t, baseEnv(t, pg), "import", file)
	pgFile := filepath.Join(t.TempDir(), "pg.json")
	mustRun(t, baseEnv(t, pg), "export", "--out", pgFile)
	back := filepath.Join(t.TempDir(), "back.db")
	mustRun(t, baseEnv(t, back), "import", pgFile)
	backFile := filepath.Join(t.TempDir(), "back.json")
	mustRun(t, baseEnv(t, back), "export", "--out", backFile)
	a, b, c := readFile(t, file), readFile(t, pgFile), readFile(t, backFile)
	if a != b || b != c {
		t.Errorf("bolt → PostgreSQL → bolt changed the export:\n%s\n%s\n%s", a, b, c)
	}
	if !strings.Contains(a, `"last_id":10`) || !strings.Contains(a, `d\u0000`) {
		t.Errorf("the export lacks what it should carry: %.400s", a)
	}
}

func mustRun(t *testing.T, env []string, args ...string) {
	t.Helper()
	if _, stderr, err := runCmd(t, env, args...); err != nil {
		t.Fatalf("%v: %v %s", args, err, stderr)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPostgresOutage stops a PostgreSQL of the test's own under load and
// starts it again: requests get 503 (never a 500) and /readyz 503 while it
// is down, and the same server recovers by itself when it is back.
func TestPostgresOutage(t *testing.T) {
	pgtest.URL(t) // the same condition as every PostgreSQL test
	dir, err := os.MkdirTemp("", "taskbolt-pg-outage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port := 25500 + int(time.Now().UnixNano()%90) // clear of make postgres's 25432, and below the ephemeral ports
	pg := func(cmd string) {
		t.Helper()
		c := exec.Command("testdata/postgres.sh", cmd)
		c.Env = append(os.Environ(), fmt.Sprintf("PGPORT=%d", port), "PGDIR="+dir, "PG_LIFETIME=600")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("postgres.sh %s: %v\n%s", cmd, err, out)
		}
	}
	pg("start")
	t.Cleanup(func() { pg("stop") })
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/taskbolt?sslmode=disable", port)
	s := start(t, baseEnv(t, url, "DATABASE_CONNECT_TIMEOUT=1s", "DATABASE_STATEMENT_TIMEOUT=2s"))
	tok := mint(t, "alice")
	createTask(t, s.url, "alice", "before the outage")

	var codes sync.Map // status -> count
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for !stop.Load() {
				method, body := "GET", ""
				if i%2 == 0 {
					method, body = "POST", `{"title":"under load"}`
				}
				code, _ := call(t, method, s.url+"/api/alice/tasks", tok, body)
				n, _ := codes.LoadOrStore(code, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	pg("stop")
	time.Sleep(1500 * time.Millisecond)
	if code, body := call(t, "GET", s.url+"/readyz", "", ""); code != 503 || !strings.Contains(body, `"store":"unavailable"`) {
		t.Errorf("readyz while the database is down: %d %s", code, body)
	}
	if code, body := call(t, "GET", s.url+"/api/alice/tasks", tok, ""); code != 503 || !strings.Contains(body, "Storage unavailable") {
		t.Errorf("a request while the database is down: %d %s", code, body)
	}
	pg("start")
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _ := call(t, "GET", s.url+"/readyz", "", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("taskbolt did not recover after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	summary := map[int]int64{}
	codes.Range(func(k, v any) bool { summary[k.(int)] = v.(*atomic.Int64).Load(); return true })
	t.Logf("statuses under load through the outage: %v", summary)
	for code := range summary {
		if code != 200 && code != 201 && code != 503 {
			t.Errorf("status %d during the outage: only 2xx and 503 are allowed", code)
			for _, line := range strings.Split(s.logs.String(), "\n") {
				if strings.Contains(line, "status=5") && !strings.Contains(line, "status=503") || strings.Contains(line, "internal") {
					t.Log(line)
				}
			}
		}
	}
	if summary[503] == 0 {
		t.Error("no request saw the outage")
	}
	if c := createTask(t, s.url, "alice", "after the outage"); c < 2 {
		t.Errorf("after recovery: id %d", c)
	}
}
