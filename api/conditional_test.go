package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/api"
)

// TestConditionalRequests proves CONTRACT.md "Conditional requests" for one
// task: ETag on every response carrying a task, If-Match on each change,
// If-None-Match on GET.
func TestConditionalRequests(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	created := e.do("POST", "/api/alice/tasks", tok, `{"title":"v1"}`)
	tag := created.header.Get("ETag")
	if created.status != 201 || !strings.HasPrefix(tag, `"`) || strings.HasPrefix(tag, "W/") {
		t.Fatalf("create: %d, ETag %q: want a strong tag", created.status, tag)
	}
	task := "/api/alice/tasks/1"
	if got := e.do("GET", task, tok, ""); got.header.Get("ETag") != tag {
		t.Fatalf("GET's ETag %q, create's %q", got.header.Get("ETag"), tag)
	}

	t.Run("IfNoneMatch", func(t *testing.T) {
		for _, h := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
			r := e.do("GET", task, tok, "", "If-None-Match", h)
			if r.status != 304 || len(r.body) != 0 || r.header.Get("ETag") != tag {
				t.Errorf("If-None-Match %s: %d %q, ETag %q", h, r.status, r.body, r.header.Get("ETag"))
			}
		}
		if r := e.do("GET", task, tok, "", "If-None-Match", `"12345"`); r.status != 200 || !strings.Contains(string(r.body), `"v1"`) {
			t.Errorf("a tag that does not match: %d %s", r.status, r.body)
		}
	})

	t.Run("IfMatch", func(t *testing.T) {
		stale := tag
		r := e.do("PUT", task, tok, `{"title":"v2"}`, "If-Match", tag)
		if r.status != 200 || r.header.Get("ETag") == tag || r.header.Get("ETag") == "" {
			t.Fatalf("PUT with the current tag: %d %s, ETag %q", r.status, r.body, r.header.Get("ETag"))
		}
		current := r.header.Get("ETag")
		for _, c := range []struct{ method, path, body string }{
			{"PUT", task, `{"title":"lost update"}`},
			{"PATCH", task, `{"title":"lost update"}`},
			{"PATCH", task + "/complete", ""},
			{"DELETE", task, ""},
		} {
			wantJSON(t, e.do(c.method, c.path, tok, c.body, "If-Match", stale), 412, `{"detail":"Precondition Failed"}`)
			wantJSON(t, e.do(c.method, c.path, tok, c.body, "If-Match", "W/"+current), 412, `{"detail":"Precondition Failed"}`)
		}
		if got := e.do("GET", task, tok, ""); !strings.Contains(string(got.body), `"title":"v2","description":null,"completed":false`) || got.header.Get("ETag") != current {
			t.Fatalf("a refused change changed the task: %s", got.body)
		}
		r = e.do("PATCH", task+"/complete", tok, "", "If-Match", fmt.Sprintf(`"1", %s, "2"`, current))
		if r.status != 200 || !strings.Contains(string(r.body), `"completed":true`) {
			t.Fatalf("PATCH /complete with a list holding the current tag: %d %s", r.status, r.body)
		}
		if r := e.do("PATCH", task, tok, `{"title":"any"}`, "If-Match", "*"); r.status != 200 {
			t.Errorf("If-Match * on an existing task: %d %s", r.status, r.body)
		}
		for _, h := range []string{"*", `"1"`} {
			wantJSON(t, e.do("PUT", "/api/alice/tasks/99", tok, `{"title":"x"}`, "If-Match", h), 412, `{"detail":"Precondition Failed"}`)
		}
		wantJSON(t, e.do("PUT", "/api/alice/tasks/99", tok, `{"title":"x"}`), 404, `{"detail":"Task not found"}`)
		last := e.do("GET", task, tok, "").header.Get("ETag")
		if r := e.do("DELETE", task, tok, "", "If-Match", last); r.status != 204 {
			t.Fatalf("DELETE with the current tag: %d %s", r.status, r.body)
		}
		if r := e.do("GET", task, tok, ""); r.status != 404 {
			t.Errorf("after a conditional delete: %d", r.status)
		}
	})
	t.Run("AnotherUsersTagChangesNothing", func(t *testing.T) {
		b := e.do("POST", "/api/bob/tasks", token(t, "bob"), `{"title":"bob's"}`)
		r := e.do("PUT", "/api/alice/tasks/1", tok, `{"title":"x"}`, "If-Match", b.header.Get("ETag"))
		if r.status != 412 && r.status != 404 {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
}

// TestListETag: a list's ETag changes whenever any of the user's tasks
// changes (and, for overdue, when time passes a due date), and only then.
func TestListETag(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	e.create("alice", "one")
	list := "/api/alice/tasks?limit=1&sort=title"
	first := e.do("GET", list, tok, "")
	tag := first.header.Get("ETag")
	if first.status != 200 || tag == "" {
		t.Fatalf("list: %d, ETag %q", first.status, tag)
	}
	if r := e.do("GET", list, tok, "", "If-None-Match", tag); r.status != 304 || len(r.body) != 0 || r.header.Get("ETag") != tag {
		t.Fatalf("unchanged list: %d %q", r.status, r.body)
	}
	if r := e.do("GET", "/api/alice/tasks?limit=2", tok, "", "If-None-Match", tag); r.status != 200 {
		t.Errorf("another query under the same tag: %d", r.status)
	}
	e.create("bob", "bob's") // another user: alice's lists are as they were
	if r := e.do("GET", list, tok, "", "If-None-Match", tag); r.status != 304 {
		t.Errorf("after bob's change: %d", r.status)
	}
	e.create("alice", "zzz, off this page") // a change outside the page still changes the tag
	r := e.do("GET", list, tok, "", "If-None-Match", tag)
	if r.status != 200 || r.header.Get("ETag") == tag || r.header.Get("X-Total-Count") != "2" {
		t.Fatalf("after alice's change: %d, ETag %q", r.status, r.header.Get("ETag"))
	}

	due := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	e.do("POST", "/api/alice/tasks", tok, `{"title":"soon overdue","due_date":"`+due+`"}`)
	overdue := "/api/alice/tasks?overdue=true"
	before := e.do("GET", overdue, tok, "")
	if strings.Contains(string(before.body), "soon overdue") {
		t.Fatalf("overdue before its due date: %s", before.body)
	}
	time.Sleep(2 * time.Second)
	after := e.do("GET", overdue, tok, "", "If-None-Match", before.header.Get("ETag"))
	if after.status != 200 || !strings.Contains(string(after.body), "soon overdue") || after.header.Get("ETag") == before.header.Get("ETag") {
		t.Errorf("once its due date passed: %d %s", after.status, after.body)
	}
	if r := e.do("GET", overdue, tok, "", "If-None-Match", after.header.Get("ETag")); r.status != 304 {
		t.Errorf("overdue list, unchanged: %d", r.status)
	}
}
