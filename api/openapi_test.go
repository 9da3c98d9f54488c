package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/api/metrics"
	"github.com/taskbolt/taskbolt/store"
)

func openAPIDoc(t *testing.T, e *testEnv) map[string]any {
	t.Helper()
	r := e.do("GET", "/openapi.json", "", "")
	var doc map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &doc) != nil {
		t.Fatalf("/openapi.json: %d", r.status)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	return doc
}

// TestOpenAPIMatchesTheRouter: every route the router serves is documented,
// and every documented route is served.
func TestOpenAPIMatchesTheRouter(t *testing.T) {
	e := newEnv(t, api.Config{AdminToken: "admin-token-0123456789", MetricsHandler: metrics.New().Handler()})
	doc := openAPIDoc(t, e)
	param := regexp.MustCompile(`:(\w+)`)
	served := map[string]bool{}
	for _, r := range e.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		path := param.ReplaceAllString(strings.TrimSuffix(r.Path, "/"), "{$1}")
		served[strings.ToLower(r.Method)+" "+path] = true
	}
	documented := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if method != "parameters" {
				documented[method+" "+path] = true
			}
		}
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("served but not documented: %v\ndocumented but not served: %v", missing, extra)
	}
	if len(served) < 12 {
		t.Errorf("only %d routes found: %v", len(served), served)
	}
}

// compiler loads the document so that its schemas can be used by pointer.
func compiler(t *testing.T, doc map[string]any) *jsonschema.Compiler {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOpenAPIExamplesValidate checks every example in the document against
// the schema it illustrates.
func TestOpenAPIExamplesValidate(t *testing.T) {
	e := newEnv(t, api.Config{})
	doc := openAPIDoc(t, e)
	c := compiler(t, doc)
	checked := 0
	validate := func(where, schemaPtr string, example any) {
		t.Helper()
		s, err := c.Compile("openapi.json#" + schemaPtr)
		if err != nil {
			t.Fatalf("%s: compile %s: %v", where, schemaPtr, err)
		}
		// Round trip through JSON so numbers are what a client would see.
		b, _ := json.Marshal(example)
		v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err := s.Validate(v); err != nil {
			t.Errorf("%s: example %s does not validate: %v", where, b, err)
		}
		checked++
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name, s := range schemas {
		for i, ex := range asSlice(s.(map[string]any)["examples"]) {
			validate(fmt.Sprintf("schemas.%s.examples[%d]", name, i), "/components/schemas/"+name, ex)
		}
	}
	// Media-type examples in responses and request bodies, by JSON pointer.
	var walk func(ptr string, node any)
	walk = func(ptr string, node any) {
		switch n := node.(type) {
		case map[string]any:
			if _, hasSchema := n["schema"]; hasSchema && strings.Contains(ptr, "application~1json") {
				if ex, ok := n["example"]; ok {
					validate(ptr, ptr+"/schema", ex)
				}
				for name, ex := range asMap(n["examples"]) {
					validate(ptr+"/examples/"+name, ptr+"/schema", ex.(map[string]any)["value"])
				}
			}
			for k, v := range n {
				walk(ptr+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), v)
			}
		case []any:
			for i, v := range n {
				walk(fmt.Sprintf("%s/%d", ptr, i), v)
			}
		}
	}
	walk("", doc)
	if checked < 20 {
		t.Errorf("only %d examples checked", checked)
	}
	t.Logf("%d examples validated", checked)
}

// TestRealResponsesMatchTheSchemas validates what the server actually sends.
func TestRealResponsesMatchTheSchemas(t *testing.T) {
	e, _ := chatEnv(t, api.Config{}, api.ChatConfig{})
	doc := openAPIDoc(t, e)
	c := compiler(t, doc)
	tok := token(t, "alice")
	e.create("alice", "one")
	e.do("POST", "/api/alice/tasks", tok, `{"title":"two","description":"d"}`)
	e.chat("alice", "add three").chatAnswer(t) // a conversation with a tool call
	for _, tc := range []struct {
		method, path, body, schema string
	}{
		{"GET", "/api/alice/tasks", "", `/paths/~1api~1{user_id}~1tasks/get/responses/200/content/application~1json/schema`},
		{"GET", "/api/alice/tasks/1", "", "/components/schemas/Task"},
		{"PATCH", "/api/alice/tasks/1/complete", "", "/components/schemas/Task"},
		{"POST", "/api/alice/tasks", `{"title":""}`, "/components/schemas/ValidationErrorBody"},
		{"GET", "/api/alice/tasks/9", "", "/components/schemas/HTTPError"},
		{"GET", "/healthz", "", "/components/schemas/Health"},
		{"GET", "/readyz", "", "/components/schemas/Ready"},
		{"POST", "/api/alice/chat", `{"message":"complete three"}`, "/components/schemas/ChatResponse"},
		{"POST", "/api/alice/chat", `{"message":"call delete_task {\"task_id\":99}"}`, "/components/schemas/ChatResponse"},
		{"GET", "/api/alice/conversations", "", `/paths/~1api~1{user_id}~1conversations/get/responses/200/content/application~1json/schema`},
		{"GET", "/api/alice/conversations/1/messages", "", `/paths/~1api~1{user_id}~1conversations~1{id}~1messages/get/responses/200/content/application~1json/schema`},
		{"GET", "/api/alice/conversations/9/messages", "", "/components/schemas/HTTPError"},
	} {
		r := e.do(tc.method, tc.path, tok, tc.body)
		s, err := c.Compile("openapi.json#" + tc.schema)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s %s (%d) does not match %s: %v", tc.method, tc.path, r.status, tc.schema, err)
		}
	}
}

func TestDocsPageWorksOffline(t *testing.T) {
	e := newEnv(t, api.Config{})
	page := e.do("GET", "/docs", "", "")
	if page.status != 200 || !strings.Contains(string(page.body), "swagger-ui") {
		t.Fatalf("/docs: %d", page.status)
	}
	if strings.Contains(string(page.body), "https://") {
		t.Error("the docs page references an outside URL")
	}
	for _, src := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page.body), -1) {
		r := e.do("GET", src[1], "", "")
		if r.status != 200 || len(r.body) == 0 {
			t.Errorf("%s: %d", src[1], r.status)
		}
		if strings.HasSuffix(src[1], "bundle.js") && !strings.Contains(string(r.body), "SwaggerUIBundle") {
			t.Errorf("%s is not Swagger UI", src[1])
		}
	}
	gz := e.do("GET", "/docs/swagger-ui-bundle.js", "", "", "Accept-Encoding", "gzip")
	if gz.header.Get("Content-Encoding") != "gzip" || len(gz.body) > 600_000 {
		t.Errorf("gzip not served: %v, %d bytes", gz.header.Get("Content-Encoding"), len(gz.body))
	}
	if r := e.do("GET", "/docs/../openapi.json", "", ""); r.status == 200 && strings.Contains(string(r.body), "SwaggerUIBundle") {
		t.Error("path traversal")
	}
}

func TestMetricsAreScraped(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, api.Config{Observer: m, MetricsHandler: m.Handler()})
	e.create("alice", "x")
	e.do("GET", "/api/alice/tasks", token(t, "alice"), "")
	e.do("GET", "/api/alice/tasks", "", "")
	e.do("GET", "/api/bob/tasks", token(t, "alice"), "")
	r := e.do("GET", "/metrics", "", "")
	body := string(r.body)
	for _, want := range []string{
		`taskbolt_http_requests_total{method="GET",route="/api/:user_id/tasks/",status="200"} 1`,
		`taskbolt_http_requests_total{method="POST",route="/api/:user_id/tasks/",status="201"} 1`,
		`taskbolt_auth_failures_total{reason="missing",verifier=""} 1`,
		`taskbolt_auth_failures_total{reason="forbidden",verifier=""} 1`,
		`taskbolt_store_operation_duration_seconds_count{op="create",outcome="ok"} 1`,
		`taskbolt_store_operation_duration_seconds_count{op="list",outcome="ok"} 1`,
		`taskbolt_http_request_duration_seconds_bucket{method="GET",route="/api/:user_id/tasks/",le="1"} 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("/metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// TestOpenAPIEnumsAreTheStore's: the documented sort keys, statuses,
// priorities and recurrences are the ones the store defines, which the
// parser also takes its literals from.
func TestOpenAPIEnumsAreTheStores(t *testing.T) {
	doc := openAPIDoc(t, newEnv(t, api.Config{}))
	get := func(path ...string) any {
		var v any = doc
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			if s, ok := x.(string); ok { // a null in a nullable enum is not a name
				out = append(out, s)
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		got  any
		want []string
	}{
		{"sort", get("components", "parameters", "Sort", "schema", "enum"), store.SortKeys},
		{"status", get("components", "parameters", "Status", "schema", "enum"), store.Statuses},
		{"Task.priority", get("components", "schemas", "Task", "properties", "priority", "enum"), store.Priorities},
		{"TaskCreate.priority", get("components", "schemas", "TaskCreate", "properties", "priority", "enum"), store.Priorities},
		{"Task.recurrence", get("components", "schemas", "Task", "properties", "recurrence", "enum"), store.Recurrences},
		{"TaskUpdate.recurrence", get("components", "schemas", "TaskUpdate", "properties", "recurrence", "enum"), store.Recurrences},
	} {
		if got := strs(c.got); !slices.Equal(got, c.want) {
			t.Errorf("%s enum %v, the store's %v", c.name, got, c.want)
		}
	}
}
