package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// oauthGrant runs the authorization-code flow with PKCE and the resource
// parameter against Better Auth's OAuth provider, as an MCP client does for
// its user: register a public client, authorize (the user is signed in),
// consent, exchange the code. It returns the token response.
func oauthGrant(t *testing.T, u *baUser, scope, resource string) (accessToken, idToken string) {
	t.Helper()
	const redirect = "http://127.0.0.1:9/callback"
	resp, body := u.do(t, "POST", "/api/auth/oauth2/create-client", "", map[string]any{
		"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "none", "client_name": "an agent", "application_type": "native",
		"grant_types": []string{"authorization_code"}, "response_types": []string{"code"}})
	var client struct {
		ClientID string `json:"client_id"`
	}
	if resp.StatusCode/100 != 2 || json.Unmarshal(body, &client) != nil || client.ClientID == "" {
		t.Fatalf("register a client: %d %s", resp.StatusCode, body)
	}
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {client.ClientID}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {"st4te"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "resource": {resource}}
	noFollow := *u.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", u.base+"/api/auth/oauth2/authorize?"+q.Encode(), nil)
	r, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	next := r.Header.Get("Location")
	if next == "" {
		var j struct{ URL string }
		json.Unmarshal(b, &j)
		next = j.URL
	}
	consent, err := url.Parse(next)
	if err != nil || !strings.HasPrefix(consent.Path, "/consent") {
		t.Fatalf("authorize: %d %q %s", r.StatusCode, next, b)
	}
	resp, body = u.do(t, "POST", "/api/auth/oauth2/consent", "", map[string]any{"accept": true, "oauth_query": consent.RawQuery})
	var done struct{ URL string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &done) != nil {
		t.Fatalf("consent: %d %s", resp.StatusCode, body)
	}
	back, err := url.Parse(done.URL)
	if err != nil || back.Query().Get("code") == "" || back.Query().Get("state") != "st4te" {
		t.Fatalf("consent redirect %q", done.URL)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {redirect},
		"client_id": {client.ClientID}, "code_verifier": {verifier}, "resource": {resource}}
	r, err = http.Post(u.base+"/api/auth/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if r.StatusCode != 200 || json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %s", r.StatusCode, b)
	}
	return tok.AccessToken, tok.IDToken
}

// TestInteropOAuthProvider: Better Auth 1.7.25 with jwt() and
// @better-auth/oauth-provider 1.7.25; a signed-in user completes the
// authorization-code flow with PKCE and the resource parameter, and the access
// token it gets calls taskbolt's tools. A token for another resource, an
// expired one, an ID token and one without tasks:write (for a write) are
// refused. The app's own JWT keeps working.
func TestInteropOAuthProvider(t *testing.T) {
	for name, database := range bothStores {
		t.Run(name, func(t *testing.T) { testInteropOAuthProvider(t, database(t)) })
	}
}

func testInteropOAuthProvider(t *testing.T, database string) {
	const resource, other = "https://tasks.example.com/mcp", "https://other.example.com/mcp"
	base, _, _ := betterAuth(t, "oauth", 0, "OAUTH_RESOURCE="+resource, "OAUTH_OTHER_RESOURCE="+other, "OAUTH_TOKEN_TTL=4")
	alice := signUp(t, base, "alice")
	s := start(t, baseEnv(t, database, "BETTER_AUTH_SECRET=", "BETTER_AUTH_URL="+base,
		"MCP=true", "MCP_RESOURCE="+resource, "JWT_LEEWAY=0s"))
	rpc := func(tok, tool, args string) (int, string) {
		t.Helper()
		return callWith(t, "POST", s.url+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+tool+`","arguments":`+args+`}}`,
			"Authorization", "Bearer "+tok, "Content-Type", "application/json", "Accept", "application/json", "Mcp-Protocol-Version", "2025-06-18")
	}

	access, idToken := oauthGrant(t, alice, "openid tasks:read tasks:write", resource)
	issued := time.Now()
	if h := tokenHeader(t, access); h["typ"] != "at+jwt" {
		t.Fatalf("not an RFC 9068 access token: %v", h)
	}
	if code, body := rpc(access, "add_task", `{"title":"added through OAuth"}`); code != 200 || !strings.Contains(body, `"status":"created"`) || strings.Contains(body, `"isError":true`) {
		t.Fatalf("add_task with the access token: %d %s", code, body)
	}
	if code, body := rpc(access, "list_tasks", `{}`); code != 200 || !strings.Contains(body, "added through OAuth") {
		t.Errorf("list_tasks with the access token: %d %s", code, body)
	}

	readOnly, _ := oauthGrant(t, alice, "tasks:read", resource)
	if code, body := rpc(readOnly, "list_tasks", `{}`); code != 200 || !strings.Contains(body, "added through OAuth") {
		t.Errorf("list_tasks with tasks:read: %d %s", code, body)
	}
	if code, body := rpc(readOnly, "add_task", `{"title":"x"}`); code != 200 || !strings.Contains(body, `"isError":true`) || !strings.Contains(body, "Insufficient scope: add_task needs tasks:write") {
		t.Errorf("add_task with tasks:read: %d %s", code, body)
	}
	if code, body := call(t, "POST", s.url+"/api/"+alice.id+"/tasks", readOnly, `{"title":"x"}`); code != 403 || body != `{"detail":"Insufficient scope"}` {
		t.Errorf("REST create with tasks:read: %d %s", code, body)
	}

	forOther, _ := oauthGrant(t, alice, "tasks:read tasks:write", other)
	for name, tok := range map[string]string{"another resource's token": forOther, "an ID token": idToken} {
		if code, body := rpc(tok, "list_tasks", `{}`); code != 401 {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if code, body := rpc(alice.jwt(t), "list_tasks", `{}`); code != 200 || !strings.Contains(body, "added through OAuth") {
		t.Errorf("the app's own JWT: %d %s", code, body)
	}

	time.Sleep(time.Until(issued.Add(5 * time.Second))) // OAUTH_TOKEN_TTL=4, JWT_LEEWAY=0s
	if code, body := rpc(access, "list_tasks", `{}`); code != 401 || body != `{"detail":"Token has expired"}` {
		t.Errorf("the expired access token: %d %s", code, body)
	}
}
