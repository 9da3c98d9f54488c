package api_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/taskbolt/taskbolt/api"
)

// FuzzCreateBody sends arbitrary bodies to POST /tasks: the answer is a 201
// with the trimmed title or a 422 in the contract's shape, never anything else.
func FuzzCreateBody(f *testing.F) {
	for _, s := range []string{`{"title":"x"}`, `{"title":" a ","description":null}`, `{"title":1}`, `[]`, `{`, ``, `{"title":"x"} x`,
		`{"title":"` + strings.Repeat("a", 201) + `"}`, `{"title":"\u0000"}`, `{"a":{"b":{"c":[[[[[]]]]]}}}`, `"str"`, `null`,
		`{"title":"x","tags":["a","A"," b ",""],"priority":"high"}`, `{"title":"x","due_date":"2026-12-24","remind_at":"2026-12-24T08:00:00+02:00"}`,
		`{"title":"x","recurrence":"monthly","due_date":"2026-01-31T00:00:00Z"}`, `{"title":"x","tags":[1,null,{}]}`} {
		f.Add(s)
	}
	e := newEnv(&testing.T{}, api.Config{})
	e.listen() // for every input: the fuzz's own t has no Cleanup that would stop it
	f.Fuzz(func(t *testing.T, body string) {
		e.t = t
		r := e.do("POST", "/api/fuzz/tasks", token(t, "fuzz"), body)
		switch r.status {
		case 201:
			var in struct{ Title string }
			if json.Unmarshal([]byte(body), &in) != nil {
				return // a body Go reads more leniently than it decodes into a struct
			}
			task := r.task(t)
			if utf8.ValidString(in.Title) && task.Title != strings.TrimSpace(in.Title) {
				t.Fatalf("stored title %q for %q", task.Title, in.Title)
			}
		case 422:
			var v struct {
				Detail []api.Problem `json:"detail"`
			}
			if err := json.Unmarshal(r.body, &v); err != nil || len(v.Detail) == 0 || v.Detail[0].Type == "" {
				t.Fatalf("422 body %s", r.body)
			}
		default:
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
	})
}

// FuzzListQuery sends arbitrary query strings to the list route: 200 or 422.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{"", "limit=5", "status=pending&sort=title&order=asc", "limit=0", "offset=-1", "completed=maybe",
		"limit=1e3", "limit=%00", "sort=&order=&status=", "limit=99999999999999999999999999",
		"priority=high,low&tag=home&tag=Work", "q=milk&search=x", "due_before=2026-12-24&due_after=2026-01-01T00:00:00Z",
		"overdue=true&sort=due_date&order=desc", "sort=priority&priority=none", "tag=a,b", "due_before=2026-02-30"} {
		f.Add(s)
	}
	e := newEnv(&testing.T{}, api.Config{})
	e.listen() // for every input: the fuzz's own t has no Cleanup that would stop it
	f.Fuzz(func(t *testing.T, query string) {
		e.t = t
		r := e.do("GET", "/api/fuzz/tasks?"+url.PathEscape(query), token(t, "fuzz"), "")
		if r.status != 200 && r.status != 422 {
			t.Fatalf("status %d for %q: %s", r.status, query, r.body)
		}
	})
}

// BenchmarkHTTP drives the whole stack (routing, auth, validation, store,
// encoding) through Fiber's fasthttp handler, without a network.
func BenchmarkHTTP(b *testing.B) {
	t := &testing.T{}
	e := newEnv(t, api.Config{})
	handler := e.app.Handler()
	user := "hV2pX0yq8wQm3nZr7tLk4sBc9dFg1jEa"
	tok := token(b, user)
	for i := range 20 {
		e.create(user, "task "+strconv.Itoa(i))
	}
	run := func(b *testing.B, method, path, body string, want int) {
		b.ReportAllocs()
		b.SetParallelism(32) // 64 concurrent requests on 2 cores, like the load test
		b.RunParallel(func(pb *testing.PB) {
			var ctx fasthttp.RequestCtx
			for pb.Next() {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod(method)
				ctx.Request.SetRequestURI(path)
				ctx.Request.Header.Set("Authorization", "Bearer "+tok)
				if body != "" {
					ctx.Request.SetBodyString(body)
				}
				handler(&ctx)
				if ctx.Response.StatusCode() != want {
					b.Fatalf("%s %s: %d %s", method, path, ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
	b.Run("List20", func(b *testing.B) { run(b, "GET", "/api/"+user+"/tasks", "", 200) })
	b.Run("Get", func(b *testing.B) { run(b, "GET", "/api/"+user+"/tasks/7", "", 200) })
	b.Run("Toggle", func(b *testing.B) { run(b, "PATCH", "/api/"+user+"/tasks/3/complete", "", 200) })
	b.Run("Create", func(b *testing.B) {
		run(b, "POST", "/api/"+user+"/tasks", `{"title":"benchmark task","description":"x"}`, 201)
	})
}
