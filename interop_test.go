package main

// Interop with a real Better Auth: testdata/betterauth/server.mjs runs
// better-auth 1.7.25 on 127.0.0.1, and these tests sign real users up, take
// the tokens Better Auth really issues, and use them against the real run().

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const harnessDir = "testdata/betterauth"

// betterAuth starts the harness in a mode and returns its base URL and secret.
// port 0 picks a free port.
func betterAuth(t *testing.T, mode string, port int, env ...string) (base, secret string, stop func()) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPING the live Better Auth interop test: node is not installed (CI installs it)")
	}
	if _, err := os.Stat(filepath.Join(harnessDir, "node_modules", "better-auth")); err != nil {
		t.Fatalf("%s/node_modules is missing: run `npm ci` there (`make test` does it)", harnessDir)
	}
	secret = "interop-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-padding-to-32-bytes"
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = harnessDir
	cmd.Env = append(os.Environ(), "MODE="+mode, "BETTER_AUTH_SECRET="+secret, "NODE_ENV=production",
		"DB_FILE="+filepath.Join(t.TempDir(), "auth.sqlite"), "PORT="+strconv.Itoa(port))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = &prefixWriter{t: t}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	ready := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if u, ok := strings.CutPrefix(lines.Text(), "ready "); ok {
				ready <- u
			}
		}
	}()
	select {
	case base = <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("Better Auth harness did not start")
	}
	return base, secret, stop
}

type prefixWriter struct{ t *testing.T }

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Logf("better-auth: %s", bytes.TrimSpace(p))
	return len(p), nil
}

// baUser is one signed-up Better Auth user with its cookie session.
type baUser struct {
	id, sessionToken, signedToken string
	base                          string
	client                        *http.Client
}

func (u *baUser) do(t *testing.T, method, path, bearer string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", u.base) // as the browser app would send
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func signUp(t *testing.T, base, name string) *baUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &baUser{base: base, client: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	resp, body := u.do(t, "POST", "/api/auth/sign-up/email", "", map[string]string{
		"email": name + "@example.com", "password": "correct-horse-battery", "name": name})
	var r struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil || r.User.ID == "" {
		t.Fatalf("sign-up: %d %s", resp.StatusCode, body)
	}
	u.id, u.sessionToken, u.signedToken = r.User.ID, r.Token, resp.Header.Get("Set-Auth-Token")
	return u
}

// jwt gets the user's JWT from /api/auth/token, as authClient.token() does.
func (u *baUser) jwt(t *testing.T) string {
	t.Helper()
	resp, body := u.do(t, "GET", "/api/auth/token", "", nil)
	var r struct{ Token string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil || r.Token == "" {
		t.Fatalf("/api/auth/token: %d %s", resp.StatusCode, body)
	}
	return r.Token
}

func tokenHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(h)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

// crud runs create, list, toggle, update, delete as user with tok, and checks
// that other's token is refused on user's URL.
func crud(t *testing.T, url, user, tok, otherTok string) {
	t.Helper()
	api := url + "/api/" + user + "/tasks"
	code, body := call(t, "POST", api, tok, `{"title":"from Better Auth"}`)
	var created struct{ ID uint64 }
	if code != 201 || json.Unmarshal([]byte(body), &created) != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	task := api + "/" + strconv.FormatUint(created.ID, 10)
	if code, body = call(t, "GET", api, tok, ""); code != 200 || !strings.Contains(body, "from Better Auth") {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body = call(t, "PATCH", task+"/complete", tok, ""); code != 200 || !strings.Contains(body, `"completed":true`) {
		t.Fatalf("toggle: %d %s", code, body)
	}
	if code, body = call(t, "PUT", task, tok, `{"title":"renamed"}`); code != 200 || !strings.Contains(body, `"title":"renamed"`) {
		t.Fatalf("update: %d %s", code, body)
	}
	if code, body = call(t, "GET", api, otherTok, ""); code != 403 {
		t.Fatalf("another user's real token on this URL: %d %s", code, body)
	}
	if code, body = call(t, "DELETE", task, tok, ""); code != 204 {
		t.Fatalf("delete: %d %s", code, body)
	}
}

func TestInteropJWKS(t *testing.T) {
	for _, mode := range []string{"eddsa", "es256", "es512", "rs256", "ps256"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			base, _, _ := betterAuth(t, mode, 0)
			alice, bob := signUp(t, base, "alice"), signUp(t, base, "bob")
			s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET=", "BETTER_AUTH_URL="+base))
			tok := alice.jwt(t)
			if h := tokenHeader(t, tok); h["kid"] == nil || h["alg"] == "HS256" {
				t.Fatalf("not an asymmetric Better Auth token: %v", h)
			}
			crud(t, s.url, alice.id, tok, bob.jwt(t))
			if code, body := call(t, "GET", s.url+"/readyz", "", ""); code != 200 {
				t.Errorf("readyz: %d %s", code, body)
			}
		})
	}
}

func TestInteropHS256SignHook(t *testing.T) {
	base, secret, _ := betterAuth(t, "hs256", 0)
	alice, bob := signUp(t, base, "alice"), signUp(t, base, "bob")
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET="+secret,
		"JWT_ISSUER="+base, "JWT_AUDIENCE="+base))
	tok := alice.jwt(t)
	if h := tokenHeader(t, tok); h["alg"] != "HS256" {
		t.Fatalf("the sign hook did not produce HS256: %v", h)
	}
	crud(t, s.url, alice.id, tok, bob.jwt(t))
}

func TestInteropSessionTokens(t *testing.T) {
	base, _, stopAuth := betterAuth(t, "session", 0)
	alice, bob := signUp(t, base, "alice"), signUp(t, base, "bob")
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET=", "BETTER_AUTH_URL="+base,
		"AUTH_SESSION_INTROSPECTION=true", "AUTH_VERIFIERS=session", "AUTH_SESSION_CACHE_TTL=1s", "MCP=true"))
	if strings.Count(alice.sessionToken, ".") != 0 || !strings.HasPrefix(alice.signedToken, alice.sessionToken+".") {
		t.Fatalf("unexpected session token forms: %q, %q", alice.sessionToken, alice.signedToken)
	}
	t.Run("RawToken", func(t *testing.T) { crud(t, s.url, alice.id, alice.sessionToken, bob.sessionToken) })
	t.Run("SignedToken", func(t *testing.T) { crud(t, s.url, alice.id, alice.signedToken, bob.signedToken) })
	t.Run("MCP", func(t *testing.T) {
		for _, tok := range []string{alice.sessionToken, alice.signedToken} {
			code, body := callWith(t, "POST", s.url+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_task","arguments":{"title":"by session"}}}`,
				"Authorization", "Bearer "+tok, "Content-Type", "application/json", "Accept", "application/json", "Mcp-Protocol-Version", "2025-06-18")
			if code != 200 || !strings.Contains(body, `"status":"created"`) {
				t.Errorf("add_task with a session token: %d %s", code, body)
			}
		}
	})
	t.Run("SignOutStopsWithinTheCacheTime", func(t *testing.T) {
		api := s.url + "/api/" + alice.id + "/tasks"
		if code, _ := call(t, "GET", api, alice.signedToken, ""); code != 200 {
			t.Fatalf("before sign-out: %d", code)
		}
		if resp, body := alice.do(t, "POST", "/api/auth/sign-out", alice.signedToken, map[string]any{}); resp.StatusCode != 200 {
			t.Fatalf("sign-out: %d %s", resp.StatusCode, body)
		}
		time.Sleep(1500 * time.Millisecond)
		if code, body := call(t, "GET", api, alice.signedToken, ""); code != 401 {
			t.Fatalf("after sign-out and the cache time: %d %s", code, body)
		}
		if code, _ := call(t, "GET", s.url+"/api/"+bob.id+"/tasks", bob.signedToken, ""); code != 200 {
			t.Errorf("bob's session ended with alice's: %d", code)
		}
	})
	t.Run("BetterAuthDownIs503", func(t *testing.T) {
		stopAuth()
		code, body := call(t, "GET", s.url+"/api/"+bob.id+"/tasks", "an-uncached-session-token", "")
		if code != 503 || !strings.Contains(body, "Authentication service unavailable") {
			t.Fatalf("%d %s", code, body)
		}
	})
}

// TestInteropKeyRotation: a token signed by a new key is accepted without a
// restart (refetch on an unknown kid), and a token of an old key is accepted
// until the key leaves the JWKS.
func TestInteropKeyRotation(t *testing.T) {
	const rotate, grace = 2, 3 // seconds
	base, _, _ := betterAuth(t, "eddsa", 0, fmt.Sprintf("ROTATION_INTERVAL=%d", rotate), fmt.Sprintf("GRACE_PERIOD=%d", grace))
	alice := signUp(t, base, "alice")
	// A long refresh interval: only the unknown-kid refetch can find new keys.
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET=", "BETTER_AUTH_URL="+base, "JWKS_REFRESH_INTERVAL=1h"))
	api := s.url + "/api/" + alice.id + "/tasks"
	began := time.Now()
	tok1 := alice.jwt(t)
	if code, _ := call(t, "GET", api, tok1, ""); code != 200 {
		t.Fatalf("first key: %d", code)
	}
	time.Sleep(time.Until(began.Add(2500 * time.Millisecond)))
	tok2 := alice.jwt(t)
	kid1, kid2 := tokenHeader(t, tok1)["kid"], tokenHeader(t, tok2)["kid"]
	if kid1 == kid2 {
		t.Fatalf("no rotation: both tokens have kid %v", kid1)
	}
	if code, body := call(t, "GET", api, tok2, ""); code != 200 {
		t.Fatalf("token of the new key: %d %s", code, body)
	}
	if code, _ := call(t, "GET", api, tok1, ""); code != 200 {
		t.Fatalf("token of the old key, still in the JWKS: %d", code)
	}
	// After the old key's expiry plus grace it leaves the JWKS; the next
	// new key's token makes taskbolt refetch, and the old key is gone.
	time.Sleep(time.Until(began.Add(time.Duration(rotate+grace)*time.Second + 700*time.Millisecond)))
	tok3 := alice.jwt(t)
	if code, body := call(t, "GET", api, tok3, ""); code != 200 {
		t.Fatalf("token of the third key: %d %s", code, body)
	}
	if code, body := call(t, "GET", api, tok1, ""); code != 401 {
		t.Fatalf("token of a key that left the JWKS: %d %s", code, body)
	}
}

// TestInteropJWKSDownAtStart: taskbolt starts while Better Auth is down,
// says so in /readyz, and recovers when it comes up.
func TestInteropJWKSDownAtStart(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET=", "BETTER_AUTH_URL="+base))
	if code, body := call(t, "GET", s.url+"/readyz", "", ""); code != 503 || !strings.Contains(body, `"keys":"unavailable"`) {
		t.Fatalf("readyz with the JWKS down: %d %s", code, body)
	}
	betterAuth(t, "eddsa", port)
	alice := signUp(t, base, "alice")
	tok := alice.jwt(t)
	if code, body := call(t, "GET", s.url+"/api/"+alice.id+"/tasks", tok, ""); code != 200 {
		t.Fatalf("after Better Auth came up: %d %s", code, body)
	}
	if code, body := call(t, "GET", s.url+"/readyz", "", ""); code != 200 {
		t.Fatalf("readyz after recovery: %d %s", code, body)
	}
}

// TestInteropMCPTypeScriptClient: the official TypeScript MCP SDK (1.32)
// drives the five tools with a real Better Auth JWT: the results CONTRACT.md
// "MCP" describes, the REST view agrees, another user's id is refused.
func TestInteropMCPTypeScriptClient(t *testing.T) {
	base, _, _ := betterAuth(t, "eddsa", 0)
	alice, bob := signUp(t, base, "alice"), signUp(t, base, "bob")
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET=", "BETTER_AUTH_URL="+base, "MCP=true"))
	tok := alice.jwt(t)
	node, _ := exec.LookPath("node")
	cmd := exec.Command(node, "mcp-client.mjs", s.url, tok, alice.id, bob.id)
	cmd.Dir = "testdata/betterauth"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mcp-client.mjs: %v\n%s", err, out)
	}
	type result struct {
		IsError    bool           `json:"isError"`
		Structured map[string]any `json:"structured"`
		Text       string         `json:"text"`
	}
	steps := map[string]json.RawMessage{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		var s struct {
			Step  string          `json:"step"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		steps[s.Step] = s.Value
	}
	get := func(step string) result {
		t.Helper()
		var r result
		if err := json.Unmarshal(steps[step], &r); err != nil {
			t.Fatalf("%s: %s: %v", step, steps[step], err)
		}
		return r
	}
	var tools []struct {
		Name        string         `json:"name"`
		Annotations map[string]any `json:"annotations"`
		HasOutput   bool           `json:"hasOutputSchema"`
	}
	json.Unmarshal(steps["tools"], &tools)
	if len(tools) != 5 || tools[2].Name != "delete_task" || tools[2].Annotations["destructiveHint"] != true || tools[3].Annotations["readOnlyHint"] != true || !tools[0].HasOutput {
		t.Errorf("tools as the TypeScript client sees them: %s", steps["tools"])
	}
	if r := get("add_task"); r.IsError || r.Structured["status"] != "created" || r.Structured["title"] != "From the TypeScript SDK" {
		t.Errorf("add_task: %+v", r)
	}
	if r := get("list_tasks"); r.IsError || r.Structured["total"] != float64(1) || !strings.Contains(r.Text, "From the TypeScript SDK") {
		t.Errorf("list_tasks: %+v", r)
	}
	if r := get("complete_task"); r.IsError || r.Structured["status"] != "completed" {
		t.Errorf("complete_task: %+v", r)
	}
	if r := get("update_task"); r.IsError || r.Structured["title"] != "Renamed by an agent" {
		t.Errorf("update_task: %+v", r)
	}
	if r := get("other_user"); !r.IsError || r.Text != "Not authorized to access these tasks" {
		t.Errorf("list_tasks with bob's id: %+v", r)
	}
	if r := get("delete_task"); r.IsError || r.Structured["status"] != "deleted" || r.Structured["title"] != "Renamed by an agent" {
		t.Errorf("delete_task: %+v", r)
	}
	if r := get("missing"); !r.IsError || r.Text != "Task not found" {
		t.Errorf("complete_task of a deleted task: %+v", r)
	}
	if code, body := call(t, "GET", s.url+"/api/"+alice.id+"/tasks", tok, ""); code != 200 || body != "[]" {
		t.Errorf("REST after the agent deleted its task: %d %s", code, body)
	}
}
