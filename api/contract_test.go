package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/store"
)

var timestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func TestTaskLifecycle(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")

	r := e.do("POST", "/api/alice/tasks", tok, `{"title":"  Buy milk  ","description":"2 litres","user_id":"mallory","completed":true,"id":99}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	created := r.task(t)
	if created.ID != 1 || created.UserID != "alice" || created.Title != "Buy milk" || *created.Description != "2 litres" || created.Completed {
		t.Errorf("created = %+v (title trimmed; body user_id, id and completed ignored)", created)
	}
	if loc := r.header.Get("Location"); loc != "/api/alice/tasks/1" {
		t.Errorf("Location = %q", loc)
	}
	var raw map[string]any
	r.json(t, &raw)
	for _, k := range []string{"created_at", "updated_at"} {
		if s, _ := raw[k].(string); !timestamp.MatchString(s) {
			t.Errorf("%s = %q, want RFC 3339 UTC with six fractional digits and Z", k, raw[k])
		}
	}
	if len(raw) != 12 {
		t.Errorf("task has fields %v, want exactly the 12 of the contract", raw)
	}
	for k, want := range map[string]any{"priority": "none", "due_date": nil, "recurrence": nil, "remind_at": nil} {
		if raw[k] != want {
			t.Errorf("new task's %s = %v, want %v", k, raw[k], want)
		}
	}
	if tags, ok := raw["tags"].([]any); !ok || len(tags) != 0 {
		t.Errorf("new task's tags = %v, want []", raw["tags"])
	}

	r = e.do("POST", "/api/alice/tasks", tok, `{"title":"No description"}`)
	if !strings.Contains(string(r.body), `"description":null`) {
		t.Errorf("absent description is not null: %s", r.body)
	}

	r = e.do("GET", "/api/alice/tasks/1", tok, "")
	if r.status != 200 || r.task(t).Title != "Buy milk" {
		t.Errorf("get: %d %s", r.status, r.body)
	}

	r = e.do("GET", "/api/alice/tasks", tok, "")
	var list []store.Task
	r.json(t, &list)
	if r.status != 200 || len(list) != 2 || list[0].ID != 2 || r.header.Get("X-Total-Count") != "2" {
		t.Errorf("list: %d %s total %q", r.status, r.body, r.header.Get("X-Total-Count"))
	}

	r = e.do("PUT", "/api/alice/tasks/1", tok, `{"title":"Buy oat milk"}`)
	put := r.task(t)
	if r.status != 200 || put.Title != "Buy oat milk" || *put.Description != "2 litres" || !put.UpdatedAt.After(created.UpdatedAt) || !put.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("PUT partial: %d %+v", r.status, put)
	}
	r = e.do("PATCH", "/api/alice/tasks/1", tok, `{"description":null,"completed":true}`)
	patched := r.task(t)
	if r.status != 200 || patched.Description != nil || !patched.Completed || patched.Title != "Buy oat milk" {
		t.Errorf("PATCH: %d %s", r.status, r.body)
	}

	r = e.do("PATCH", "/api/alice/tasks/1/complete", tok, "")
	if r.status != 200 || r.task(t).Completed {
		t.Errorf("toggle without body: %d %s", r.status, r.body)
	}
	r = e.do("PATCH", "/api/alice/tasks/1/complete", tok, `{}`)
	if r.status != 200 || !r.task(t).Completed {
		t.Errorf("toggle with {}: %d %s", r.status, r.body)
	}
	for range 2 {
		r = e.do("PATCH", "/api/alice/tasks/1/complete", tok, `{"completed":true}`)
		if r.status != 200 || !r.task(t).Completed {
			t.Errorf("set completed true: %d %s", r.status, r.body)
		}
	}

	r = e.do("DELETE", "/api/alice/tasks/1", tok, "")
	if r.status != 204 || len(r.body) != 0 {
		t.Errorf("delete: %d %q, want 204 with an empty body", r.status, r.body)
	}
	wantJSON(t, e.do("GET", "/api/alice/tasks/1", tok, ""), 404, `{"detail":"Task not found"}`)
	wantJSON(t, e.do("DELETE", "/api/alice/tasks/1", tok, ""), 404, `{"detail":"Task not found"}`)
	if next := e.create("alice", "after delete"); next.ID != 3 {
		t.Errorf("id after delete = %d, want 3 (never reused)", next.ID)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, api.Config{})
	now := time.Now()
	signed := func(c jwt.MapClaims) string {
		s, _ := hs256.Sign(secret, c)
		return s
	}
	valid := token(t, "alice")
	const notAuth = `{"detail":"Not authenticated"}`
	const invalid = `{"detail":"Invalid token"}`
	cases := []struct {
		name      string
		auth      string // the whole Authorization header; "-" sends none
		status    int
		body      string
		challenge string
	}{
		{"ErrNoHeader", "-", 401, notAuth, "Bearer"},
		{"ErrBasic", "Basic YWxpY2U6cHc=", 401, notAuth, "Bearer"},
		{"ErrBearerWithoutToken", "Bearer", 401, notAuth, "Bearer"},
		{"ErrBearerBlank", "Bearer    ", 401, notAuth, "Bearer"},
		{"ErrTokenWithoutScheme", valid, 401, notAuth, "Bearer"},
		{"ErrGarbage", "Bearer garbage", 401, invalid, `Bearer error="invalid_token"`},
		{"ErrWrongSecret", "Bearer " + func() string {
			s, _ := hs256.Sign([]byte("some-other-secret-that-is-32-bytes-long"), hs256.Claims("alice", time.Hour, "", "", now))
			return s
		}(), 401, invalid, `Bearer error="invalid_token"`},
		{"ErrExpired", "Bearer " + signed(hs256.Claims("alice", -time.Hour, "", "", now)), 401, `{"detail":"Token has expired"}`, `Bearer error="invalid_token"`},
		{"ErrNoSub", "Bearer " + signed(jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}), 401, invalid, `Bearer error="invalid_token"`},
		{"ErrSubNotAUserID", "Bearer " + signed(hs256.Claims("a/b", time.Hour, "", "", now)), 401, invalid, `Bearer error="invalid_token"`},
		{"ErrSubTooLong", "Bearer " + signed(hs256.Claims(strings.Repeat("a", 129), time.Hour, "", "", now)), 401, invalid, `Bearer error="invalid_token"`},
		{"ErrTokenOver8KiB", "Bearer " + valid + strings.Repeat("A", 8<<10), 401, invalid, `Bearer error="invalid_token"`},
		{"ErrAlgNone", "Bearer " + func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, hs256.Claims("alice", time.Hour, "", "", now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}(), 401, invalid, `Bearer error="invalid_token"`},
		{"OK", "Bearer " + valid, 200, `[]`, ""},
		{"OK/LowercaseScheme", "bearer " + valid, 200, `[]`, ""},
		{"OK/UppercaseScheme", "BEARER " + valid, 200, `[]`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.auth != "-" {
				hdr = []string{"Authorization", c.auth}
			}
			r := e.do("GET", "/api/alice/tasks", "", "", hdr...)
			wantJSON(t, r, c.status, c.body)
			if got := r.header.Get("WWW-Authenticate"); got != c.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, c.challenge)
			}
		})
	}
	t.Run("ErrForbidden", func(t *testing.T) {
		wantJSON(t, e.do("GET", "/api/bob/tasks", valid, ""), 403, `{"detail":"Not authorized to access these tasks"}`)
	})
	t.Run("UserIDComparedByteForByte", func(t *testing.T) {
		for _, path := range []string{"/api/Alice/tasks", "/api/alice%20/tasks", "/api/%61lice/tasks", "/api/alice%2F/tasks", "/api/alic/tasks"} {
			if r := e.do("GET", path, valid, ""); r.status != 403 {
				t.Errorf("GET %s with alice's token: %d, want 403", path, r.status)
			}
		}
	})
	t.Run("TokensNeverLogged", func(t *testing.T) {
		if strings.Contains(e.logs.String(), valid) || strings.Contains(e.logs.String(), strings.Split(valid, ".")[1]) {
			t.Error("a token or its payload appears in the log")
		}
		if !strings.Contains(e.logs.String(), `"msg":"auth failure"`) {
			t.Error("no audit line for authentication failures")
		}
	})
}

// TestBOLA proves one user can neither reach another's URLs nor, through
// their own URL, another's task ids.
func TestBOLA(t *testing.T) {
	e := newEnv(t, api.Config{})
	bobTask := e.create("bob", "bob's secret")
	alice := token(t, "alice")
	e.create("alice", "alice's") // alice has task 1 too; ids are per user

	routes := []struct{ method, path, body string }{
		{"GET", "/api/bob/tasks", ""},
		{"POST", "/api/bob/tasks", `{"title":"planted"}`},
		{"GET", "/api/bob/tasks/1", ""},
		{"PUT", "/api/bob/tasks/1", `{"title":"pwned"}`},
		{"PATCH", "/api/bob/tasks/1", `{"title":"pwned"}`},
		{"PATCH", "/api/bob/tasks/1/complete", ""},
		{"DELETE", "/api/bob/tasks/1", ""},
	}
	for _, rt := range routes {
		t.Run("ErrForbidden/"+rt.method+rt.path, func(t *testing.T) {
			wantJSON(t, e.do(rt.method, rt.path, alice, rt.body), 403, `{"detail":"Not authorized to access these tasks"}`)
		})
	}
	// Bob's task 2 does not exist for alice: the same 404 as a missing task.
	e.create("bob", "bob's second")
	for _, rt := range []struct{ method, path, body string }{
		{"GET", "/api/alice/tasks/2", ""},
		{"PUT", "/api/alice/tasks/2", `{"title":"pwned"}`},
		{"PATCH", "/api/alice/tasks/2", `{"completed":true}`},
		{"PATCH", "/api/alice/tasks/2/complete", ""},
		{"DELETE", "/api/alice/tasks/2", ""},
	} {
		t.Run("ErrNotFound/"+rt.method+rt.path, func(t *testing.T) {
			wantJSON(t, e.do(rt.method, rt.path, alice, rt.body), 404, `{"detail":"Task not found"}`)
		})
	}
	got, total, err := e.store.List(context.Background(), "bob", store.DefaultQuery())
	if err != nil || total != 2 || got[1].ID != bobTask.ID || got[1].Title != "bob's secret" || got[1].Completed || !got[1].UpdatedAt.Equal(bobTask.UpdatedAt) {
		t.Errorf("bob's tasks changed: %+v, %d, %v", got, total, err)
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	e.create("alice", "existing")
	long201 := strings.Repeat("é", 201)
	long1001 := strings.Repeat("x", 1001)
	cases := []struct {
		name, method, path, body, want string
	}{
		{"MissingTitle", "POST", "/api/alice/tasks", `{"description":"x"}`,
			`[{"type":"missing","loc":["body","title"],"msg":"Field required","input":{"description":"x"}}]`},
		{"EmptyBody", "POST", "/api/alice/tasks", ``,
			`[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]`},
		{"EmptyTitle", "POST", "/api/alice/tasks", `{"title":""}`,
			`[{"type":"string_too_short","loc":["body","title"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]`},
		{"WhitespaceTitle", "POST", "/api/alice/tasks", `{"title":" \t\n "}`,
			`[{"type":"string_too_short","loc":["body","title"],"msg":"String should have at least 1 character","input":" \t\n ","ctx":{"min_length":1}}]`},
		{"TitleTooLong", "POST", "/api/alice/tasks", `{"title":"` + long201 + `"}`,
			`[{"type":"string_too_long","loc":["body","title"],"msg":"String should have at most 200 characters","input":"` + long201 + `","ctx":{"max_length":200}}]`},
		{"DescriptionTooLong", "POST", "/api/alice/tasks", `{"title":"ok","description":"` + long1001 + `"}`,
			`[{"type":"string_too_long","loc":["body","description"],"msg":"String should have at most 1000 characters","input":"` + long1001 + `","ctx":{"max_length":1000}}]`},
		{"EveryProblemListed", "POST", "/api/alice/tasks", `{"description":"` + long1001 + `"}`,
			`[{"type":"missing","loc":["body","title"],"msg":"Field required","input":{"description":"` + long1001 + `"}},
			  {"type":"string_too_long","loc":["body","description"],"msg":"String should have at most 1000 characters","input":"` + long1001 + `","ctx":{"max_length":1000}}]`},
		{"NullTitle", "POST", "/api/alice/tasks", `{"title":null}`,
			`[{"type":"string_type","loc":["body","title"],"msg":"Input should be a valid string","input":null}]`},
		{"NumberTitle", "POST", "/api/alice/tasks", `{"title":12.50}`,
			`[{"type":"string_type","loc":["body","title"],"msg":"Input should be a valid string","input":12.50}]`},
		{"ArrayDescription", "POST", "/api/alice/tasks", `{"title":"ok","description":["x"]}`,
			`[{"type":"string_type","loc":["body","description"],"msg":"Input should be a valid string","input":["x"]}]`},
		{"InvalidJSON", "POST", "/api/alice/tasks", `{"title": "x",}`,
			`[{"type":"json_invalid","loc":["body",14],"msg":"JSON decode error","input":{},"ctx":{"error":"invalid character '}' looking for beginning of object key string"}}]`},
		{"TruncatedJSON", "POST", "/api/alice/tasks", `{"title": "x"`,
			`[{"type":"json_invalid","loc":["body",13],"msg":"JSON decode error","input":{},"ctx":{"error":"unexpected end of JSON input"}}]`},
		{"TrailingData", "POST", "/api/alice/tasks", `{"title":"x"} {}`,
			`[{"type":"json_invalid","loc":["body",14],"msg":"JSON decode error","input":{},"ctx":{"error":"Extra data"}}]`},
		{"BodyArray", "POST", "/api/alice/tasks", `[{"title":"x"}]`,
			`[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[{"title":"x"}]}]`},
		// A number no float64 holds is echoed as a string: as sent, most
		// decoders could not read the 422 back.
		{"BodyHugeNumber", "POST", "/api/alice/tasks", `1E700`,
			`[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"1E700"}]`},
		{"HugeNumberTitle", "POST", "/api/alice/tasks", `{"title":-1e400,"description":[1e-400]}`,
			`[{"type":"string_type","loc":["body","title"],"msg":"Input should be a valid string","input":"-1e400"},
			  {"type":"string_type","loc":["body","description"],"msg":"Input should be a valid string","input":[1e-400]}]`},
		{"BodyString", "PUT", "/api/alice/tasks/1", `"title"`,
			`[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"title"}]`},
		{"UpdateNullTitle", "PATCH", "/api/alice/tasks/1", `{"title":null}`,
			`[{"type":"string_type","loc":["body","title"],"msg":"Input should be a valid string","input":null}]`},
		{"UpdateBlankTitle", "PUT", "/api/alice/tasks/1", `{"title":"   "}`,
			`[{"type":"string_too_short","loc":["body","title"],"msg":"String should have at least 1 character","input":"   ","ctx":{"min_length":1}}]`},
		{"CompletedNotBool", "PATCH", "/api/alice/tasks/1", `{"completed":"maybe"}`,
			`[{"type":"bool_parsing","loc":["body","completed"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]`},
		{"CompletedNull", "PATCH", "/api/alice/tasks/1", `{"completed":null}`,
			`[{"type":"bool_type","loc":["body","completed"],"msg":"Input should be a valid boolean","input":null}]`},
		{"CompletedNumber", "PATCH", "/api/alice/tasks/1/complete", `{"completed":2}`,
			`[{"type":"bool_parsing","loc":["body","completed"],"msg":"Input should be a valid boolean, unable to interpret input","input":2}]`},
		{"CompletedObject", "PATCH", "/api/alice/tasks/1/complete", `{"completed":{}}`,
			`[{"type":"bool_type","loc":["body","completed"],"msg":"Input should be a valid boolean","input":{}}]`},
		{"UpdateEmptyBody", "PUT", "/api/alice/tasks/1", ``,
			`[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]`},
		{"TaskIDNotInteger", "GET", "/api/alice/tasks/abc", ``,
			`[{"type":"int_parsing","loc":["path","id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]`},
		{"TaskIDFloat", "DELETE", "/api/alice/tasks/1.5", ``,
			`[{"type":"int_parsing","loc":["path","id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"1.5"}]`},
		{"TaskIDAndBody", "PATCH", "/api/alice/tasks/x", `{"title":""}`,
			`[{"type":"int_parsing","loc":["path","id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"},
			  {"type":"string_too_short","loc":["body","title"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]`},
		{"BodyBeforeLookup", "PATCH", "/api/alice/tasks/0", `{"title":""}`,
			`[{"type":"string_too_short","loc":["body","title"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]`},
		{"LimitZero", "GET", "/api/alice/tasks?limit=0", ``,
			`[{"type":"greater_than_equal","loc":["query","limit"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]`},
		{"LimitTooBig", "GET", "/api/alice/tasks?limit=101", ``,
			`[{"type":"less_than_equal","loc":["query","limit"],"msg":"Input should be less than or equal to 100","input":"101","ctx":{"le":100}}]`},
		{"LimitHuge", "GET", "/api/alice/tasks?limit=99999999999999999999999", ``,
			`[{"type":"less_than_equal","loc":["query","limit"],"msg":"Input should be less than or equal to 100","input":"99999999999999999999999","ctx":{"le":100}}]`},
		{"LimitNotInt", "GET", "/api/alice/tasks?limit=ten", ``,
			`[{"type":"int_parsing","loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"ten"}]`},
		{"OffsetNegative", "GET", "/api/alice/tasks?offset=-1", ``,
			`[{"type":"greater_than_equal","loc":["query","offset"],"msg":"Input should be greater than or equal to 0","input":"-1","ctx":{"ge":0}}]`},
		{"OffsetNotInt", "GET", "/api/alice/tasks?offset=", ``,
			`[{"type":"int_parsing","loc":["query","offset"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":""}]`},
		{"Status", "GET", "/api/alice/tasks?status=done", ``,
			`[{"type":"literal_error","loc":["query","status"],"msg":"Input should be 'all', 'pending' or 'completed'","input":"done","ctx":{"expected":"'all', 'pending' or 'completed'"}}]`},
		{"Completed", "GET", "/api/alice/tasks?completed=maybe", ``,
			`[{"type":"bool_parsing","loc":["query","completed"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]`},
		{"Sort", "GET", "/api/alice/tasks?sort=rank", ``,
			`[{"type":"literal_error","loc":["query","sort"],"msg":"Input should be 'created', 'updated', 'title', 'id', 'due_date' or 'priority'","input":"rank","ctx":{"expected":"'created', 'updated', 'title', 'id', 'due_date' or 'priority'"}}]`},
		{"Order", "GET", "/api/alice/tasks?order=up", ``,
			`[{"type":"literal_error","loc":["query","order"],"msg":"Input should be 'asc' or 'desc'","input":"up","ctx":{"expected":"'asc' or 'desc'"}}]`},
		{"EveryQueryProblem", "GET", "/api/alice/tasks?status=x&limit=0&offset=y", ``,
			`[{"type":"literal_error","loc":["query","status"],"msg":"Input should be 'all', 'pending' or 'completed'","input":"x","ctx":{"expected":"'all', 'pending' or 'completed'"}},
			  {"type":"greater_than_equal","loc":["query","limit"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}},
			  {"type":"int_parsing","loc":["query","offset"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"y"}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantJSON(t, e.do(c.method, c.path, tok, c.body), 422, `{"detail":`+c.want+`}`)
		})
	}
	t.Run("NothingWritten", func(t *testing.T) {
		got, total, _ := e.store.List(context.Background(), "alice", store.DefaultQuery())
		if total != 1 || got[0].Title != "existing" || got[0].Completed {
			t.Errorf("a rejected request changed the store: %+v", got)
		}
	})
}

func TestTaskIDOutOfRangeIsNotFound(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	e.create("alice", "one")
	for _, id := range []string{"0", "-1", "+0", "99999999999999999999999", "18446744073709551616"} {
		wantJSON(t, e.do("GET", "/api/alice/tasks/"+id, tok, ""), 404, `{"detail":"Task not found"}`)
	}
	if r := e.do("GET", "/api/alice/tasks/+1", tok, ""); r.status != 200 {
		t.Errorf("+1: %d", r.status)
	}
}

func TestLaxBooleans(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	e.create("alice", "t")
	for _, c := range []struct {
		body string
		want bool
	}{{`{"completed":"true"}`, true}, {`{"completed":0}`, false}, {`{"completed":"yes"}`, true}, {`{"completed":"off"}`, false}, {`{"completed":1}`, true}} {
		r := e.do("PATCH", "/api/alice/tasks/1", tok, c.body)
		if r.status != 200 || r.task(t).Completed != c.want {
			t.Errorf("%s: %d %s", c.body, r.status, r.body)
		}
	}
}

func TestListing(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	for _, title := range []string{"banana", "apple", "cherry", "date", "Elder"} {
		e.create("alice", title)
		time.Sleep(time.Millisecond)
	}
	e.do("PATCH", "/api/alice/tasks/2/complete", tok, "")
	e.do("PATCH", "/api/alice/tasks/4/complete", tok, "")
	list := func(query string) ([]uint64, string) {
		t.Helper()
		r := e.do("GET", "/api/alice/tasks"+query, tok, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		var tasks []store.Task
		r.json(t, &tasks)
		ids := []uint64{}
		for _, task := range tasks {
			ids = append(ids, task.ID)
		}
		return ids, r.header.Get("X-Total-Count")
	}
	cases := []struct {
		query string
		want  string
		total string
	}{
		{"", "[5 4 3 2 1]", "5"},
		{"?status=all", "[5 4 3 2 1]", "5"},
		{"?status=pending", "[5 3 1]", "3"},
		{"?status=completed", "[4 2]", "2"},
		{"?completed=true", "[4 2]", "2"},
		{"?completed=false", "[5 3 1]", "3"},
		{"?status=completed&completed=true", "[4 2]", "2"},
		{"?status=pending&completed=true", "[]", "0"},
		{"?sort=created&order=asc", "[1 2 3 4 5]", "5"},
		{"?sort=updated", "[4 2 5 3 1]", "5"},
		{"?sort=title", "[5 2 1 3 4]", "5"}, // code point order: "Elder" < "apple"
		{"?sort=title&order=desc", "[4 3 1 2 5]", "5"},
		{"?sort=id", "[1 2 3 4 5]", "5"},
		{"?sort=id&order=desc", "[5 4 3 2 1]", "5"},
		{"?limit=2", "[5 4]", "5"},
		{"?limit=2&offset=2", "[3 2]", "5"},
		{"?limit=2&offset=4", "[1]", "5"},
		{"?offset=10", "[]", "5"},
		{"?status=pending&sort=id&limit=1&offset=1", "[3]", "3"},
		{"?limit=100", "[5 4 3 2 1]", "5"},
		{"?limit=100&limit=1", "[5]", "5"}, // the last value counts, as in Starlette
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			ids, total := list(c.query)
			if got := fmt.Sprint(ids); got != c.want || total != c.total {
				t.Errorf("ids %s total %s, want %s total %s", got, total, c.want, c.total)
			}
		})
	}
	t.Run("DefaultLimitIs50", func(t *testing.T) {
		for i := 0; i < 55; i++ {
			e.create("bulk", "t"+strconv.Itoa(i))
		}
		r := e.do("GET", "/api/bulk/tasks", token(t, "bulk"), "")
		var tasks []store.Task
		r.json(t, &tasks)
		if len(tasks) != 50 || r.header.Get("X-Total-Count") != "55" {
			t.Errorf("got %d tasks, total %s", len(tasks), r.header.Get("X-Total-Count"))
		}
	})
	t.Run("EmptyListIsArray", func(t *testing.T) {
		r := e.do("GET", "/api/nobody/tasks", token(t, "nobody"), "")
		if string(r.body) != "[]" || r.header.Get("X-Total-Count") != "0" {
			t.Errorf("empty list body %q total %q", r.body, r.header.Get("X-Total-Count"))
		}
	})
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	for _, tk := range []string{"", tok} {
		name := map[bool]string{true: "WithToken", false: "WithoutToken"}[tk != ""]
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/", "/api", "/api/alice", "/api/alice/task", "/api/alice/tasks/1/2", "/API/alice/tasks", "/api/alice/tasks/1/completed"} {
				wantJSON(t, e.do("GET", path, tk, ""), 404, `{"detail":"Not Found"}`)
			}
			for _, c := range []struct{ method, path, allow string }{
				{"DELETE", "/api/alice/tasks", "GET, HEAD, POST"},
				{"POST", "/api/alice/tasks/1", "GET, HEAD, PUT, DELETE, PATCH"},
				{"GET", "/api/alice/tasks/1/complete", "PATCH"},
				{"POST", "/healthz", "GET, HEAD"},
				{"TRACE", "/api/alice/tasks", "GET, HEAD, POST"},
			} {
				r := e.do(c.method, c.path, tk, "")
				wantJSON(t, r, 405, `{"detail":"Method Not Allowed"}`)
				if got := r.header.Get("Allow"); got != c.allow {
					t.Errorf("%s %s: Allow = %q, want %q", c.method, c.path, got, c.allow)
				}
			}
		})
	}
}

func TestUnknownMethodIsAJSON405(t *testing.T) {
	e := newEnv(t, api.Config{})
	r := e.do("BREW", "/api/alice/tasks", token(t, "alice"), "")
	wantJSON(t, r, 405, `{"detail":"Method Not Allowed"}`)
}

func TestBodyTooLarge(t *testing.T) {
	// Over a real socket: fasthttp refuses the body from its Content-Length,
	// before reading it, which app.Test reports as an error.
	e := newEnv(t, api.Config{BodyLimit: 1024})
	base := e.listen()
	req, _ := http.NewRequest("POST", base+"/api/alice/tasks", strings.NewReader(`{"title":"`+strings.Repeat("x", 2000)+`"}`))
	req.Header.Set("Authorization", "Bearer "+token(t, "alice"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, body: body}
	wantJSON(t, r, 413, `{"detail":"Request body too large"}`)
	if r.header.Get("X-Request-ID") == "" {
		t.Error("413 without X-Request-ID")
	}
	if _, total, _ := e.store.List(context.Background(), "alice", store.DefaultQuery()); total != 0 {
		t.Errorf("a refused body was stored")
	}
}

// failingStore is a real store whose chosen methods fail or panic.
type failingStore struct {
	store.Store
	create func() (store.Task, error)
	list   func() error
}

func (f failingStore) Create(ctx context.Context, owner string, in store.NewTask) (store.Task, error) {
	if f.create != nil {
		return f.create()
	}
	return f.Store.Create(ctx, owner, in)
}

func (f failingStore) List(ctx context.Context, owner string, q store.ListQuery) ([]store.Task, int, error) {
	if f.list != nil {
		return nil, 0, f.list()
	}
	return f.Store.List(ctx, owner, q)
}

func TestInternalErrorsHideTheirCause(t *testing.T) {
	const cause = "disk controller on fire at sector 42"
	cases := map[string]failingStore{
		"Error": {create: func() (store.Task, error) { return store.Task{}, errors.New(cause) }},
		"Panic": {create: func() (store.Task, error) { panic(cause) }},
	}
	for name, fs := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, api.Config{}, func(s store.Store) store.Store { fs.Store = s; return fs })
			r := e.do("POST", "/api/alice/tasks", token(t, "alice"), `{"title":"x"}`, "X-Request-ID", "trace-"+name)
			wantJSON(t, r, 500, `{"detail":"Internal Server Error"}`)
			if strings.Contains(string(r.body), "fire") {
				t.Error("the cause leaked to the client")
			}
			logs := e.logs.String()
			if !strings.Contains(logs, cause) || !strings.Contains(logs, `"request_id":"trace-`+name+`"`) {
				t.Errorf("the log lacks the cause or the request id:\n%s", logs)
			}
			// The server keeps serving.
			if r := e.do("GET", "/healthz", "", ""); r.status != 200 {
				t.Errorf("after the failure: %d", r.status)
			}
		})
	}
	t.Run("NonJSONListerStore", func(t *testing.T) {
		// failingStore hides the JSONLister capability: the generic path must give the same bytes.
		e := newEnv(t, api.Config{}, func(s store.Store) store.Store { return failingStore{Store: s} })
		e.create("alice", "one")
		e.create("alice", "two")
		r := e.do("GET", "/api/alice/tasks", token(t, "alice"), "")
		tasks, _, _ := e.store.List(context.Background(), "alice", store.DefaultQuery())
		if r.status != 200 || string(r.body) != string(store.AppendTasksJSON(nil, tasks)) {
			t.Errorf("generic list = %d %s", r.status, r.body)
		}
	})
}

func TestStoreUnavailable(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.store.Close()
	r := e.do("POST", "/api/alice/tasks", token(t, "alice"), `{"title":"x"}`)
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), `"detail"`) {
		t.Errorf("write to a closed store: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/readyz", "", "")
	wantJSON(t, r, 503, `{"detail":"Service Unavailable","status":"unavailable","checks":{"store":"unavailable"}}`)
}

func TestHealth(t *testing.T) {
	e := newEnv(t, api.Config{Version: "1.2.3"})
	wantJSON(t, e.do("GET", "/healthz", "", ""), 200, `{"status":"ok","version":"1.2.3"}`)
	wantJSON(t, e.do("GET", "/readyz", "", ""), 200, `{"status":"ok","checks":{"store":"ok"}}`)
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, api.Config{})
	if got := e.do("GET", "/healthz", "", "", "X-Request-ID", "abc-123.x:y_z").header.Get("X-Request-ID"); got != "abc-123.x:y_z" {
		t.Errorf("sane id not kept: %q", got)
	}
	for _, bad := range []string{"has space", "tab\there", strings.Repeat("a", 129), "<script>"} {
		got := e.do("GET", "/healthz", "", "", "X-Request-ID", bad).header.Get("X-Request-ID")
		if got == "" || got == bad {
			t.Errorf("insane id %q: response id %q", bad, got)
		}
	}
	a := e.do("GET", "/nope", "", "").header.Get("X-Request-ID")
	b := e.do("GET", "/nope", "", "").header.Get("X-Request-ID")
	if a == "" || a == b {
		t.Errorf("generated ids %q, %q: want distinct and present on 404s", a, b)
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, api.Config{CORSOrigins: []string{"http://localhost:3000", "https://app.example.com"}})
	pre := e.do("OPTIONS", "/api/alice/tasks", "", "", "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if pre.status != 204 {
		t.Errorf("preflight status %d", pre.status)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example.com",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET,POST,PUT,PATCH,DELETE,OPTIONS",
		"Access-Control-Allow-Headers":     "Authorization,Content-Type,If-Match,If-None-Match,Idempotency-Key,Last-Event-ID",
	} {
		if got := pre.header.Get(k); got != want {
			t.Errorf("preflight %s = %q, want %q", k, got, want)
		}
	}
	r := e.do("GET", "/api/alice/tasks", token(t, "alice"), "", "Origin", "http://localhost:3000")
	if r.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || r.header.Get("Access-Control-Expose-Headers") != "X-Total-Count,Location,X-Request-ID,ETag,X-Next-Occurrence,Idempotent-Replayed" {
		t.Errorf("actual request CORS headers: %v", r.header)
	}
	evil := e.do("OPTIONS", "/api/alice/tasks", "", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "GET")
	if got := evil.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("unlisted origin got Allow-Origin %q", got)
	}
	t.Run("WildcardNeverWithCredentials", func(t *testing.T) {
		e := newEnv(t, api.Config{CORSOrigins: []string{"*"}})
		r := e.do("OPTIONS", "/api/alice/tasks", "", "", "Origin", "https://any.example", "Access-Control-Request-Method", "GET")
		if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("wildcard: %v", r.header)
		}
	})
	t.Run("DefaultOrigin", func(t *testing.T) {
		e := newEnv(t, api.Config{})
		r := e.do("GET", "/healthz", "", "", "Origin", "http://localhost:3000")
		if r.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
			t.Errorf("default origin not allowed: %v", r.header)
		}
	})
}

func TestUnicodeRoundTrip(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	for _, title := range []string{"🧑‍🚀 launch", "e\u0301\u0301 combining", "עברית \u202eRTL", "日本語", "tab\there", "quote\"back\\slash", "<b>&amp;</b>", "line\u2028sep", strings.Repeat("🙂", 200)} {
		r := e.do("POST", "/api/alice/tasks", tok, `{"title":`+quote(title)+`,"description":`+quote(title)+`}`)
		if r.status != 201 {
			t.Fatalf("%q: %d %s", title, r.status, r.body)
		}
		id := r.task(t).ID
		got := e.do("GET", "/api/alice/tasks/"+strconv.FormatUint(id, 10), tok, "").task(t)
		if got.Title != title || *got.Description != title {
			t.Errorf("round trip %q -> %q", title, got.Title)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, api.Config{})
	r := e.do("GET", "/api/alice/tasks", token(t, "alice"), "")
	for _, h := range []string{"X-Content-Type-Options", "Cache-Control", "X-Frame-Options", "Content-Security-Policy"} {
		if r.header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Run("PerUser", func(t *testing.T) {
		e := newEnv(t, api.Config{RateLimit: api.RateLimit{PerUser: 3, Window: time.Minute}})
		alice, bob := token(t, "alice"), token(t, "bob")
		for i := range 3 {
			if r := e.do("GET", "/api/alice/tasks", alice, ""); r.status != 200 {
				t.Fatalf("request %d: %d", i, r.status)
			}
		}
		r := e.do("GET", "/api/alice/tasks", alice, "")
		wantJSON(t, r, 429, `{"detail":"Too many requests"}`)
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
		}
		if r := e.do("GET", "/api/bob/tasks", bob, ""); r.status != 200 {
			t.Errorf("another user was limited too: %d", r.status)
		}
	})
	t.Run("PerIPBeforeAuth", func(t *testing.T) {
		e := newEnv(t, api.Config{RateLimit: api.RateLimit{PerIP: 2}})
		for range 2 {
			e.do("GET", "/api/alice/tasks", "garbage", "")
		}
		wantJSON(t, e.do("GET", "/api/alice/tasks", token(t, "alice"), ""), 429, `{"detail":"Too many requests"}`)
	})
	t.Run("OffByDefault", func(t *testing.T) {
		e := newEnv(t, api.Config{})
		for range 50 {
			if r := e.do("GET", "/api/alice/tasks", token(t, "alice"), ""); r.status != 200 {
				t.Fatalf("%d", r.status)
			}
		}
	})
}

func TestHostileBodies(t *testing.T) {
	e := newEnv(t, api.Config{})
	tok := token(t, "alice")
	t.Run("DeeplyNested", func(t *testing.T) {
		body := `{"title":"x","extra":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
		r := e.do("POST", "/api/alice/tasks", tok, body)
		if r.status != 422 || !strings.Contains(string(r.body), `"json_invalid"`) {
			t.Errorf("20000 levels of nesting: %d %.200s", r.status, r.body)
		}
	})
	t.Run("NULIsKeptAsIs", func(t *testing.T) {
		// NUL is a valid code point: stored and served back escaped, never truncated.
		r := e.do("POST", "/api/alice/tasks", tok, `{"title":"a\u0000b"}`)
		if r.status != 201 || r.task(t).Title != "a\x00b" || !strings.Contains(string(r.body), `"title":"a\u0000b"`) {
			t.Errorf("NUL title: %d %s", r.status, r.body)
		}
	})
	t.Run("InvalidUTF8", func(t *testing.T) {
		r := e.do("POST", "/api/alice/tasks", tok, "{\"title\":\"a\xffb\"}")
		if r.status != 201 || r.task(t).Title != "a\ufffdb" {
			t.Errorf("invalid UTF-8 is replaced by U+FFFD, as any JSON decoder does: %d %s", r.status, r.body)
		}
	})
	t.Run("TaskIDOverflowAndJunk", func(t *testing.T) {
		for path, want := range map[string]int{
			"/api/alice/tasks/18446744073709551616": 404, "/api/alice/tasks/-9223372036854775809": 404,
			"/api/alice/tasks/0x10": 422, "/api/alice/tasks/1e3": 422, "/api/alice/tasks/%20": 422,
		} {
			if r := e.do("GET", path, tok, ""); r.status != want {
				t.Errorf("%s: %d, want %d", path, r.status, want)
			}
		}
	})
}

func TestSlowClientsAreCutOff(t *testing.T) {
	e := newEnv(t, api.Config{ReadTimeout: 300 * time.Millisecond})
	base := e.listen()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")) // and never finish the headers
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(conn) // returns when the server closes the connection
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a client that never finished its request held the connection for %v", d)
	}
}
