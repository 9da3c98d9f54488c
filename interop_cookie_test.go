package main

// Cookie mode against a live Better Auth: every cookie-cache strategy, the
// prefixes, chunked cookies, and the cases that must fail, all with cookies
// Better Auth really set (testdata/betterauth, MODE=cookies).

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// baCookies is one signed-up user and the cookies Better Auth set for them.
type baCookies struct {
	id      string
	cookies []*http.Cookie
}

func signUpForCookies(t *testing.T, base, name, displayName string) baCookies {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": name + "@example.com", "password": "correct-horse-battery", "name": displayName})
	req, _ := http.NewRequest("POST", base+"/api/auth/sign-up/email", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct{ User struct{ ID string } }
	if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil || r.User.ID == "" {
		t.Fatalf("sign-up: %d %s", resp.StatusCode, b)
	}
	return baCookies{id: r.User.ID, cookies: resp.Cookies()}
}

// header is a Cookie header of the cookies whose names contain one of parts
// ("session_token", "session_data"), with edit applied to their values.
func (u baCookies) header(edit func(name, value string) string, parts ...string) string {
	var out []string
	for _, c := range u.cookies {
		for _, p := range parts {
			if strings.Contains(c.Name, p) {
				v := c.Value
				if edit != nil {
					v = edit(c.Name, v)
				}
				out = append(out, c.Name+"="+v)
			}
		}
	}
	return strings.Join(out, "; ")
}

func (u baCookies) names() []string {
	var n []string
	for _, c := range u.cookies {
		n = append(n, c.Name)
	}
	return n
}

// callCookie makes a request the way a browser in cookie mode would.
func callCookie(t *testing.T, method, url, cookie, origin, bearer, body string) (int, string) {
	t.Helper()
	if bearer != "" {
		bearer = "Bearer " + bearer
	}
	return callWith(t, method, url, body, "Cookie", cookie, "Origin", origin, "Authorization", bearer)
}

// flipData changes one decoded byte in the middle of a session_data value
// (BETTER_AUTH.md: never the last base64url character).
func flipData(name, value string) string {
	if !strings.Contains(name, "session_data") {
		return value
	}
	parts := strings.Split(value, ".")
	i := len(parts) / 2 // a JWS's payload, a JWE's ciphertext, the compact value itself
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil || len(raw) == 0 {
		return value + "x"
	}
	raw[len(raw)/2] ^= 0x20
	parts[i] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

const appOrigin = "http://app.example.test"

func TestInteropCookies(t *testing.T) {
	for _, strategy := range []string{"compact", "jwt", "jwe", "plugin", "none"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			var harnessEnv []string
			if strategy != "none" {
				harnessEnv = append(harnessEnv, "COOKIE_CACHE="+strategy)
			}
			base, secret, _ := betterAuth(t, "cookies", 0, harnessEnv...)
			alice, bob := signUpForCookies(t, base, "alice", "Alice"), signUpForCookies(t, base, "bob", "Bob")
			hasData := strings.Contains(strings.Join(alice.names(), " "), "better-auth.session_data")
			if hasData != (strategy != "none") {
				t.Fatalf("cookies set: %v", alice.names())
			}
			env := []string{"BETTER_AUTH_SECRET=" + secret, "BETTER_AUTH_URL=" + base, "AUTH_COOKIES=true",
				"CORS_ORIGINS=" + appOrigin, "AUTH_SESSION_CACHE_TTL=1s", "MCP=true"}
			s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), env...))
			tasks := func(u baCookies) string { return s.url + "/api/" + u.id + "/tasks" }
			both := alice.header(nil, "session_token", "session_data")

			t.Run("CRUD", func(t *testing.T) {
				code, body := callCookie(t, "POST", tasks(alice), both, appOrigin, "", `{"title":"by cookie"}`)
				var task struct{ ID int }
				if code != 201 || json.Unmarshal([]byte(body), &task) != nil {
					t.Fatalf("create: %d %s", code, body)
				}
				one := tasks(alice) + "/" + strconv.Itoa(task.ID)
				for _, c := range []struct{ method, url, body, want string }{
					{"GET", tasks(alice), "", "by cookie"},
					{"PATCH", one + "/complete", "", `"completed":true`},
					{"PUT", one, `{"title":"renamed"}`, `"renamed"`},
					{"DELETE", one, "", ""},
				} {
					code, body := callCookie(t, c.method, c.url, both, appOrigin, "", c.body)
					if code >= 300 || !strings.Contains(body, c.want) {
						t.Fatalf("%s %s: %d %s", c.method, c.url, code, body)
					}
				}
			})
			t.Run("EachCookieAlone", func(t *testing.T) {
				if hasData {
					if code, body := callCookie(t, "GET", tasks(alice), alice.header(nil, "session_data"), "", "", ""); code != 200 {
						t.Errorf("session_data alone: %d %s", code, body)
					}
				}
				if code, body := callCookie(t, "GET", tasks(alice), alice.header(nil, "session_token"), "", "", ""); code != 200 {
					t.Errorf("session_token alone: %d %s", code, body)
				}
			})
			t.Run("AnotherUsersURL", func(t *testing.T) {
				if code, body := callCookie(t, "GET", tasks(alice), bob.header(nil, "session_token", "session_data"), "", "", ""); code != 403 {
					t.Errorf("bob's cookies on alice's URL: %d %s", code, body)
				}
			})
			t.Run("Tampered", func(t *testing.T) {
				if hasData {
					if code, body := callCookie(t, "GET", tasks(alice), alice.header(flipData, "session_data"), "", "", ""); code != 401 {
						t.Errorf("tampered session_data alone: %d %s", code, body)
					}
					if code, body := callCookie(t, "GET", tasks(alice), alice.header(flipData, "session_data", "session_token"), "", "", ""); code != 200 {
						t.Errorf("tampered session_data beside a good session_token: %d %s", code, body)
					}
				}
				forged := alice.header(func(_, v string) string { return strings.Replace(v, ".", "X.", 1) }, "session_token")
				if code, body := callCookie(t, "GET", tasks(alice), forged, "", "", ""); code != 401 {
					t.Errorf("session_token with a broken signature: %d %s", code, body)
				}
			})
			t.Run("MCP", func(t *testing.T) { // the tools take the cookies, under the same cross-site rule
				add := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_task","arguments":{"title":"by an agent in the page"}}}`
				for origin, want := range map[string]int{"https://evil.example": 403, "": 403, appOrigin: 200} {
					code, body := callWith(t, "POST", s.url+"/mcp", add, "Cookie", both, "Origin", origin, "Content-Type", "application/json",
						"Accept", "application/json", "Mcp-Protocol-Version", "2025-06-18")
					if code != want || code == 200 && !strings.Contains(body, `"status":"created"`) {
						t.Errorf("/mcp from %q: %d %s, want %d", origin, code, body, want)
					}
				}
			})
			t.Run("CrossSite", func(t *testing.T) {
				for origin, want := range map[string]int{"https://evil.example": 403, "": 403, appOrigin: 201} {
					if code, body := callCookie(t, "POST", tasks(alice), both, origin, "", `{"title":"x"}`); code != want {
						t.Errorf("POST from %q: %d %s, want %d", origin, code, body, want)
					}
				}
			})
			t.Run("BearerWins", func(t *testing.T) {
				if code, body := callCookie(t, "GET", tasks(alice), both, "", "not-a-valid-token", ""); code != 401 {
					t.Errorf("a bad bearer token beside good cookies: %d %s", code, body)
				}
			})
			t.Run("WrongSecret", func(t *testing.T) {
				other := start(t, baseEnv(t, filepath.Join(t.TempDir(), "w.db"), "BETTER_AUTH_SECRET=another-secret-of-at-least-32-bytes!",
					"BETTER_AUTH_URL="+base, "AUTH_COOKIES=true", "AUTH_VERIFIERS=cookie"))
				for _, parts := range [][]string{{"session_data"}, {"session_token"}} {
					if strategy == "plugin" && parts[0] == "session_data" {
						continue // signed by the JWKS key, not the secret, and the jwks verifier is off here
					}
					code, body := callCookie(t, "GET", other.url+"/api/"+alice.id+"/tasks", alice.header(nil, parts...), "", "", "")
					if code != 401 {
						t.Errorf("%s checked with the wrong secret: %d %s", parts[0], code, body)
					}
				}
			})
			t.Run("SignOut", func(t *testing.T) {
				token := bob.header(nil, "session_token")
				if code, _ := callCookie(t, "GET", tasks(bob), token, "", "", ""); code != 200 {
					t.Fatalf("before sign-out: %d", code)
				}
				code, body := callCookie(t, "POST", base+"/api/auth/sign-out", bob.header(nil, "session_token", "session_data"), base, "", "{}")
				if code != 200 {
					t.Fatalf("sign-out: %d %s", code, body)
				}
				time.Sleep(1500 * time.Millisecond) // AUTH_SESSION_CACHE_TTL
				if code, body := callCookie(t, "GET", tasks(bob), token, "", "", ""); code != 401 {
					t.Errorf("session_token after sign-out: %d %s", code, body)
				}
			})
		})
	}
}

// TestInteropCookieVariants: __Secure- names with a custom prefix, chunked
// session_data, and an expired cache that falls back to session_token.
func TestInteropCookieVariants(t *testing.T) {
	t.Run("SecurePrefix", func(t *testing.T) {
		t.Parallel()
		base, secret, _ := betterAuth(t, "cookies", 0, "COOKIE_CACHE=compact", "COOKIE_PREFIX=myapp", "SECURE_COOKIES=true")
		alice := signUpForCookies(t, base, "alice", "Alice")
		if names := strings.Join(alice.names(), " "); !strings.Contains(names, "__Secure-myapp.session_token") || !strings.Contains(names, "__Secure-myapp.session_data") {
			t.Fatalf("cookies set: %s", names)
		}
		s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET="+secret, "BETTER_AUTH_URL="+base,
			"AUTH_COOKIES=true", "BETTER_AUTH_COOKIE_PREFIX=myapp"))
		for _, part := range []string{"session_data", "session_token"} {
			if code, body := callCookie(t, "GET", s.url+"/api/"+alice.id+"/tasks", alice.header(nil, part), "", "", ""); code != 200 {
				t.Errorf("%s: %d %s", part, code, body)
			}
		}
		// The default prefix does not read them.
		d := start(t, baseEnv(t, filepath.Join(t.TempDir(), "d.db"), "BETTER_AUTH_SECRET="+secret, "BETTER_AUTH_URL="+base, "AUTH_COOKIES=true"))
		if code, body := callCookie(t, "GET", d.url+"/api/"+alice.id+"/tasks", alice.header(nil, "session_data"), "", "", ""); code != 401 {
			t.Errorf("myapp cookies under the default prefix: %d %s", code, body)
		}
	})
	t.Run("Chunked", func(t *testing.T) {
		t.Parallel()
		base, secret, _ := betterAuth(t, "cookies", 0, "COOKIE_CACHE=jwt")
		alice := signUpForCookies(t, base, "alice", "Alice "+strings.Repeat("Long-Name ", 450))
		if names := strings.Join(alice.names(), " "); !strings.Contains(names, "session_data.1") {
			t.Fatalf("session_data was not chunked: %s", names)
		}
		s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET="+secret, "BETTER_AUTH_URL="+base, "AUTH_COOKIES=true"))
		if code, body := callCookie(t, "GET", s.url+"/api/"+alice.id+"/tasks", alice.header(nil, "session_data"), "", "", ""); code != 200 {
			t.Errorf("chunked session_data: %d %s", code, body)
		}
	})
	for _, strategy := range []string{"compact", "jwt", "jwe", "plugin"} {
		t.Run("Expired/"+strategy, func(t *testing.T) {
			t.Parallel()
			base, secret, _ := betterAuth(t, "cookies", 0, "COOKIE_CACHE="+strategy, "COOKIE_MAX_AGE=1")
			alice := signUpForCookies(t, base, "alice", "Alice")
			s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET="+secret, "BETTER_AUTH_URL="+base,
				"AUTH_COOKIES=true", "JWT_LEEWAY=1ms"))
			tasks := s.url + "/api/" + alice.id + "/tasks"
			time.Sleep(2100 * time.Millisecond)
			if code, body := callCookie(t, "GET", tasks, alice.header(nil, "session_data"), "", "", ""); code != 401 {
				t.Errorf("expired session_data alone: %d %s", code, body)
			}
			if code, body := callCookie(t, "GET", tasks, alice.header(nil, "session_data", "session_token"), "", "", ""); code != 200 {
				t.Errorf("expired session_data beside session_token: %d %s", code, body)
			}
		})
	}
}
