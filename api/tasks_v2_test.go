package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/store"
)

func TestTaskFieldsOverHTTP(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	r := e.do("POST", "/api/alice/tasks", tok, `{"title":"Buy milk","priority":"high","tags":[" home ","Errands","HOME","errands"],
		"due_date":"2026-12-24","recurrence":"weekly","remind_at":"2026-12-24T08:30:00+02:00"}`)
	if r.status != 201 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for _, want := range []string{`"priority":"high"`, `"tags":["home","Errands"]`, `"due_date":"2026-12-24T00:00:00.000000Z"`,
		`"recurrence":"weekly"`, `"remind_at":"2026-12-24T06:30:00.000000Z"`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("created %s lacks %s", r.body, want)
		}
	}
	steps := []struct{ method, path, body, want string }{
		{"PATCH", "/api/alice/tasks/1", `{"tags":[]}`, `"tags":[]`},
		{"PATCH", "/api/alice/tasks/1", `{"due_date":null,"remind_at":null}`, `"due_date":null,"recurrence":"weekly","remind_at":null`},
		{"PUT", "/api/alice/tasks/1", `{"recurrence":null,"priority":"low"}`, `"priority":"low","tags":[],"due_date":null,"recurrence":null`},
		{"PUT", "/api/alice/tasks/1", `{"due_date":"2027-01-01T10:00:00"}`, `"due_date":"2027-01-01T10:00:00.000000Z"`},
		{"PATCH", "/api/alice/tasks/1", `{"title":"Buy oat milk"}`, `"title":"Buy oat milk","description":null,"completed":false,"priority":"low"`},
	}
	for _, st := range steps {
		r := e.do(st.method, st.path, tok, st.body)
		if r.status != 200 || !strings.Contains(string(r.body), st.want) {
			t.Errorf("%s %s: %d %s, want %s", st.method, st.body, r.status, r.body, st.want)
		}
	}
}

func TestTaskFieldValidation(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprint("t", i))
	}
	cases := []struct{ name, body, want string }{
		{"Priority", `{"title":"x","priority":"urgent"}`,
			`[{"type":"literal_error","loc":["body","priority"],"msg":"Input should be 'none', 'low', 'medium' or 'high'","input":"urgent","ctx":{"expected":"'none', 'low', 'medium' or 'high'"}}]`},
		{"PriorityType", `{"title":"x","priority":3}`,
			`[{"type":"literal_error","loc":["body","priority"],"msg":"Input should be 'none', 'low', 'medium' or 'high'","input":3,"ctx":{"expected":"'none', 'low', 'medium' or 'high'"}}]`},
		{"PriorityNull", `{"title":"x","priority":null}`,
			`[{"type":"literal_error","loc":["body","priority"],"msg":"Input should be 'none', 'low', 'medium' or 'high'","input":null,"ctx":{"expected":"'none', 'low', 'medium' or 'high'"}}]`},
		{"RecurrenceType", `{"title":"x","recurrence":true}`,
			`[{"type":"literal_error","loc":["body","recurrence"],"msg":"Input should be 'daily', 'weekly', 'monthly' or 'yearly'","input":true,"ctx":{"expected":"'daily', 'weekly', 'monthly' or 'yearly'"}}]`},
		{"TagsNotAList", `{"title":"x","tags":"home"}`,
			`[{"type":"list_type","loc":["body","tags"],"msg":"Input should be a valid list","input":"home"}]`},
		{"TagsNull", `{"title":"x","tags":null}`,
			`[{"type":"list_type","loc":["body","tags"],"msg":"Input should be a valid list","input":null}]`},
		{"TagItems", `{"title":"x","tags":["ok",1,"  ","a,b","` + strings.Repeat("x", 51) + `"]}`,
			`[{"type":"string_type","loc":["body","tags",1],"msg":"Input should be a valid string","input":1},
			  {"type":"string_too_short","loc":["body","tags",2],"msg":"String should have at least 1 character","input":"  ","ctx":{"min_length":1}},
			  {"type":"string_pattern_mismatch","loc":["body","tags",3],"msg":"String should match pattern '^[^,\\x00-\\x1f\\x7f-\\x9f]+$'","input":"a,b","ctx":{"pattern":"^[^,\\x00-\\x1f\\x7f-\\x9f]+$"}},
			  {"type":"string_too_long","loc":["body","tags",4],"msg":"String should have at most 50 characters","input":"` + strings.Repeat("x", 51) + `","ctx":{"max_length":50}}]`},
		{"TooManyTags", `{"title":"x","tags":[` + strings.Join(many, ",") + `]}`,
			`[{"type":"too_long","loc":["body","tags"],"msg":"List should have at most 20 items after validation, not 21","input":[` + strings.Join(many, ",") + `],"ctx":{"field_type":"List","max_length":20,"actual_length":21}}]`},
		{"DueDate", `{"title":"x","due_date":"next tuesday at 5"}`,
			`[{"type":"datetime_parsing","loc":["body","due_date"],"msg":"Input should be a valid datetime, invalid character or value in date-time","input":"next tuesday at 5","ctx":{"error":"invalid character or value in date-time"}}]`},
		{"RemindAtType", `{"title":"x","remind_at":17}`,
			`[{"type":"datetime_parsing","loc":["body","remind_at"],"msg":"Input should be a valid datetime, input is not a string","input":17,"ctx":{"error":"input is not a string"}}]`},
		{"Recurrence", `{"title":"x","recurrence":"hourly"}`,
			`[{"type":"literal_error","loc":["body","recurrence"],"msg":"Input should be 'daily', 'weekly', 'monthly' or 'yearly'","input":"hourly","ctx":{"expected":"'daily', 'weekly', 'monthly' or 'yearly'"}}]`},
		{"EveryProblem", `{"priority":"x","tags":5,"due_date":"2026-13-01"}`,
			`[{"type":"missing","loc":["body","title"],"msg":"Field required","input":{"priority":"x","tags":5,"due_date":"2026-13-01"}},
			  {"type":"literal_error","loc":["body","priority"],"msg":"Input should be 'none', 'low', 'medium' or 'high'","input":"x","ctx":{"expected":"'none', 'low', 'medium' or 'high'"}},
			  {"type":"list_type","loc":["body","tags"],"msg":"Input should be a valid list","input":5},
			  {"type":"datetime_parsing","loc":["body","due_date"],"msg":"Input should be a valid datetime, invalid date","input":"2026-13-01","ctx":{"error":"invalid date"}}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantJSON(t, e.do("POST", "/api/alice/tasks", tok, c.body), 422, `{"detail":`+c.want+`}`)
		})
	}
	e.create("alice", "kept")
	wantJSON(t, e.do("PATCH", "/api/alice/tasks/1", tok, `{"priority":"urgent"}`), 422,
		`{"detail":[{"type":"literal_error","loc":["body","priority"],"msg":"Input should be 'none', 'low', 'medium' or 'high'","input":"urgent","ctx":{"expected":"'none', 'low', 'medium' or 'high'"}}]}`)
	if r := e.do("GET", "/api/alice/tasks", tok, ""); r.header.Get("X-Total-Count") != "1" || !strings.Contains(string(r.body), `"priority":"none"`) {
		t.Errorf("a 422 changed something: %s", r.body)
	}
}

func TestRecurrenceOverHTTP(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	e.do("POST", "/api/alice/tasks", tok, `{"title":"Pay rent","recurrence":"monthly","due_date":"2099-01-31T09:00:00Z","tags":["money"]}`)
	r := e.do("PATCH", "/api/alice/tasks/1/complete", tok, "")
	if r.status != 200 || r.header.Get("X-Next-Occurrence") != "2" {
		t.Fatalf("completing: %d %q %s", r.status, r.header.Get("X-Next-Occurrence"), r.body)
	}
	next := e.do("GET", "/api/alice/tasks/2", tok, "")
	for _, want := range []string{`"title":"Pay rent"`, `"completed":false`, `"tags":["money"]`, `"due_date":"2099-02-28T09:00:00.000000Z"`, `"recurrence":"monthly"`} {
		if !strings.Contains(string(next.body), want) {
			t.Errorf("next occurrence %s lacks %s", next.body, want)
		}
	}
	e.do("PATCH", "/api/alice/tasks/1/complete", tok, "") // un-complete
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/api/alice/tasks/1/complete", ``},
		{"PUT", "/api/alice/tasks/1", `{"completed":false}`},
		{"PUT", "/api/alice/tasks/1", `{"completed":true}`},
	} {
		if r := e.do(c.method, c.path, tok, c.body); r.status != 200 || r.header.Get("X-Next-Occurrence") != "" {
			t.Errorf("%s %s: %d, X-Next-Occurrence %q: a task spawns once in its life", c.method, c.body, r.status, r.header.Get("X-Next-Occurrence"))
		}
	}
	// PATCH with completed:true on a fresh recurring task spawns too.
	e.do("POST", "/api/alice/tasks", tok, `{"title":"Gym","recurrence":"daily"}`)
	if r := e.do("PATCH", "/api/alice/tasks/3", tok, `{"completed":true}`); r.header.Get("X-Next-Occurrence") != "4" {
		t.Errorf("PATCH completed: X-Next-Occurrence %q", r.header.Get("X-Next-Occurrence"))
	}
	if r := e.do("GET", "/api/alice/tasks", tok, ""); r.header.Get("X-Total-Count") != "4" {
		t.Errorf("total %s, want 4", r.header.Get("X-Total-Count"))
	}
}

func TestListingV2OverHTTP(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	for _, body := range []string{
		`{"title":"Milk","priority":"high","tags":["home","errands"],"due_date":"2000-01-01"}`, // 1: overdue
		`{"title":"Report","description":"quarterly MILK numbers","priority":"low","tags":["Work"],"due_date":"2099-06-01"}`,
		`{"title":"Call mum","priority":"medium","tags":["home"]}`,
		`{"title":"Taxes","tags":["work","errands"],"due_date":"2099-01-15T12:00:00Z"}`,
	} {
		if r := e.do("POST", "/api/alice/tasks", tok, body); r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	cases := []struct{ query, want, total string }{
		{"?priority=high", "[1]", "1"},
		{"?priority=high,low", "[2 1]", "2"},
		{"?priority=high&priority=medium", "[3 1]", "2"},
		{"?tag=HOME", "[3 1]", "2"},
		{"?tag=work&tag=errands", "[4]", "1"},
		{"?q=milk", "[2 1]", "2"},
		{"?search=MILK&sort=title", "[1 2]", "2"},
		{"?q=", "[4 3 2 1]", "4"},
		{"?due_before=2099-01-16", "[4 1]", "2"},
		{"?due_after=2099-01-15T12:00:00Z", "[4 2]", "2"},
		{"?due_after=2099-01-15T12:00:01Z&due_before=2099-12-31", "[2]", "1"},
		{"?overdue=true", "[1]", "1"},
		{"?overdue=false", "[4 3 2]", "3"},
		{"?sort=due_date", "[1 4 2 3]", "4"},
		{"?sort=due_date&order=desc", "[2 4 1 3]", "4"},
		{"?sort=priority", "[1 3 2 4]", "4"},
		{"?sort=priority&order=asc", "[4 2 3 1]", "4"},
		{"?status=completed&tag=home", "[]", "0"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := e.do("GET", "/api/alice/tasks"+c.query, tok, "")
			var tasks []store.Task
			r.json(t, &tasks)
			var ids []uint64
			for _, x := range tasks {
				ids = append(ids, x.ID)
			}
			if got := fmt.Sprint(ids); (got != c.want && !(got == "[]" && c.want == "[]")) || r.header.Get("X-Total-Count") != c.total {
				t.Errorf("%s total %s, want %s total %s", got, r.header.Get("X-Total-Count"), c.want, c.total)
			}
		})
	}
	bad := []struct{ query, want string }{
		{"?priority=urgent", `[{"type":"literal_error","loc":["query","priority"],"msg":"Input should be 'none', 'low', 'medium' or 'high'","input":"urgent","ctx":{"expected":"'none', 'low', 'medium' or 'high'"}}]`},
		{"?due_before=soon", `[{"type":"datetime_parsing","loc":["query","due_before"],"msg":"Input should be a valid datetime, input is too short","input":"soon","ctx":{"error":"input is too short"}}]`},
		{"?overdue=maybe", `[{"type":"bool_parsing","loc":["query","overdue"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]`},
		{"?q=" + strings.Repeat("a", 201), `[{"type":"string_too_long","loc":["query","q"],"msg":"String should have at most 200 characters","input":"` + strings.Repeat("a", 201) + `","ctx":{"max_length":200}}]`},
		{"?tag=a,b", `[{"type":"string_pattern_mismatch","loc":["query","tag"],"msg":"String should match pattern '^[^,\\x00-\\x1f\\x7f-\\x9f]+$'","input":"a,b","ctx":{"pattern":"^[^,\\x00-\\x1f\\x7f-\\x9f]+$"}}]`},
	}
	for _, c := range bad {
		wantJSON(t, e.do("GET", "/api/alice/tasks"+c.query, tok, ""), 422, `{"detail":`+c.want+`}`)
	}
}

func TestTagsRoute(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	e.do("POST", "/api/alice/tasks", tok, `{"title":"a","tags":["Errands","home"]}`)
	e.do("POST", "/api/alice/tasks", tok, `{"title":"b","tags":["errands"]}`)
	e.do("PATCH", "/api/alice/tasks/2/complete", tok, "")
	wantJSON(t, e.do("GET", "/api/alice/tags", tok, ""), 200, `[{"name":"Errands","count":2},{"name":"home","count":1}]`)
	wantJSON(t, e.do("GET", "/api/bob/tags", token(t, "bob"), ""), 200, `[]`)
	wantJSON(t, e.do("GET", "/api/bob/tags", tok, ""), 403, `{"detail":"Not authorized to access these tasks"}`)
	wantJSON(t, e.do("GET", "/api/alice/tags", "", ""), 401, `{"detail":"Not authenticated"}`)
	wantJSON(t, e.do("POST", "/api/alice/tags", tok, ""), 405, `{"detail":"Method Not Allowed"}`)
}
