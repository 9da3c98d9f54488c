package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth/authtest"
	"github.com/taskbolt/taskbolt/store/postgres/pgtest"
)

// TestOAuthAccessTokens: the access tokens Better Auth's OAuth provider signs
// with the jwt plugin's keys (typ at+jwt, iss its base URL, aud the MCP
// resource, azp, scope) call the tools and, within their scopes, the REST
// routes; a token for another resource, expired, of another type, bound to
// a DPoP key, or an ID token, is a 401.
func TestOAuthAccessTokens(t *testing.T) {
	for name, database := range bothStores {
		t.Run(name, func(t *testing.T) { testOAuthAccessTokens(t, database(t)) })
	}
}

// bothStores are the DATABASE_URLs of a test on each store (the PostgreSQL
// one skips, saying so, without a server).
var bothStores = map[string]func(t *testing.T) string{
	"bolt":     func(t *testing.T) string { return filepath.Join(t.TempDir(), "t.db") },
	"postgres": func(t *testing.T) string { return pgtest.Schema(t) },
}

func testOAuthAccessTokens(t *testing.T, database string) {
	key := authtest.NewKey(t, "EdDSA", "k1")
	jwks := authtest.NewJWKSServer(t, key)
	s := start(t, baseEnv(t, database, "BETTER_AUTH_URL="+jwks.URL, "MCP=true"))
	issuer, resource := jwks.URL+"/api/auth", s.url+"/mcp"
	now := time.Now()
	access := func(mod map[string]any) string {
		c := jwt.MapClaims{"sub": "alice", "iss": issuer, "aud": []string{resource}, "azp": "agent-1", "client_id": "agent-1",
			"scope": "tasks:read tasks:write", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "j1"}
		header := map[string]any{"typ": "at+jwt"}
		for k, v := range mod {
			switch {
			case k == "typ":
				header["typ"] = v
			case v == nil:
				delete(c, k)
			default:
				c[k] = v
			}
		}
		return key.SignWithHeader(t, header, c)
	}
	rpc := func(tok, body string) (int, string) {
		t.Helper()
		return callWith(t, "POST", s.url+"/mcp", body, "Authorization", "Bearer "+tok, "Content-Type", "application/json",
			"Accept", "application/json", "Mcp-Protocol-Version", "2025-06-18")
	}
	add := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_task","arguments":{"title":"from an agent"}}}`
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_tasks","arguments":{}}}`

	code, body := rpc(access(nil), add)
	var res struct {
		Result struct {
			IsError           bool `json:"isError"`
			StructuredContent struct {
				Status string `json:"status"`
			} `json:"structuredContent"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	}
	if json.Unmarshal([]byte(body), &res); code != 200 || res.Result.IsError || res.Result.StructuredContent.Status != "created" {
		t.Fatalf("add_task with an access token: %d %s", code, body)
	}
	if code, body := call(t, "GET", s.url+"/api/alice/tasks", access(nil), ""); code != 200 || !strings.Contains(body, "from an agent") {
		t.Errorf("REST with an access token: %d %s", code, body)
	}

	readOnly := access(map[string]any{"scope": "openid tasks:read"})
	if code, body := rpc(readOnly, list); code != 200 || !strings.Contains(body, "from an agent") {
		t.Errorf("list_tasks with tasks:read: %d %s", code, body)
	}
	code, body = rpc(readOnly, add)
	if json.Unmarshal([]byte(body), &res); code != 200 || !res.Result.IsError || res.Result.Content[0].Text != "Insufficient scope: add_task needs tasks:write" {
		t.Errorf("add_task with tasks:read: %d %s", code, body)
	}
	if code, body := call(t, "POST", s.url+"/api/alice/tasks", readOnly, `{"title":"x"}`); code != 403 || body != `{"detail":"Insufficient scope"}` {
		t.Errorf("REST create with tasks:read: %d %s", code, body)
	}

	challenge := `Bearer error="invalid_token", resource_metadata="` + s.url + `/.well-known/oauth-protected-resource/mcp"`
	for name, tok := range map[string]string{
		"another resource": access(map[string]any{"aud": "https://other.example.com/mcp"}),
		"expired":          access(map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()}),
		"typ JWT":          access(map[string]any{"typ": "JWT"}),
		"DPoP-bound":       access(map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
		"another issuer":   access(map[string]any{"iss": "https://evil.example.com"}),
		"ID token":         key.Sign(t, jwt.MapClaims{"sub": "alice", "iss": issuer, "aud": "agent-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": "n"}),
		"signed elsewhere": authtest.NewKey(t, "EdDSA", "k1").SignWithHeader(t, map[string]any{"typ": "at+jwt"}, jwt.MapClaims{"sub": "alice", "iss": issuer, "aud": resource, "exp": now.Add(time.Hour).Unix()}),
	} {
		req, _ := http.NewRequest("POST", s.url+"/mcp", strings.NewReader(list))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != challenge {
			t.Errorf("%s: %d, challenge %q", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	code, body = call(t, "GET", s.url+"/.well-known/oauth-protected-resource/mcp", "", "")
	if code != 200 || !strings.Contains(body, `"authorization_servers":["`+issuer+`"]`) || !strings.Contains(body, `"resource":"`+resource+`"`) {
		t.Errorf("metadata: %d %s", code, body)
	}
}
