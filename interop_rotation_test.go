package main

// Rotating the secret as Better Auth 1.7 does it, with BETTER_AUTH_SECRETS
// ("2:new,1:old"): a live Better Auth issues cookies and HS256 tokens under
// the old secret, is restarted with the new one first, and issues more.
// taskbolt with the same BETTER_AUTH_SECRETS accepts both; with the old
// version removed, it refuses what that version signed.

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func rotationSecret(name string) string {
	return name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-padding-to-32-bytes-at-least"
}

func TestInteropSecretRotation(t *testing.T) {
	for _, strategy := range []string{"compact", "jwt", "jwe"} {
		t.Run("Cookies/"+strategy, func(t *testing.T) {
			t.Parallel()
			oldSecret, newSecret := rotationSecret("old"), rotationSecret("new")
			db := filepath.Join(t.TempDir(), "auth.sqlite")
			cache := "COOKIE_CACHE=" + strategy
			base, _, stop := betterAuth(t, "cookies", 0, cache, "BETTER_AUTH_SECRET="+oldSecret, "DB_FILE="+db)
			before := signUpForCookies(t, base, "alice", "Alice")
			stop()
			base, _, _ = betterAuth(t, "cookies", 0, cache, "BETTER_AUTH_SECRET="+oldSecret, "DB_FILE="+db,
				"BETTER_AUTH_SECRETS=2:"+newSecret+",1:"+oldSecret)
			after := signUpForCookies(t, base, "bob", "Bob")

			serve := func(secrets string) *server {
				return start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET=", "BETTER_AUTH_SECRETS="+secrets,
					"BETTER_AUTH_URL="+base, "AUTH_COOKIES=true", "CORS_ORIGINS="+appOrigin))
			}
			list := func(s *server, u baCookies, parts ...string) int {
				code, _ := callCookie(t, "GET", s.url+"/api/"+u.id+"/tasks", u.header(nil, parts...), "", "", "")
				return code
			}
			both := serve("2:" + newSecret + ",1:" + oldSecret)
			for _, u := range []struct {
				name string
				who  baCookies
			}{{"before the rotation", before}, {"after the rotation", after}} {
				if code := list(both, u.who, "session_data"); code != 200 {
					t.Errorf("session_data from %s: %d with both secrets", u.name, code)
				}
			}
			if code := list(both, after, "session_token"); code != 200 {
				t.Errorf("session_token from after the rotation: %d", code)
			}
			newOnly := serve("2:" + newSecret)
			if code := list(newOnly, before, "session_data"); code != 401 {
				t.Errorf("session_data signed by a removed version: %d, want 401", code)
			}
			if code := list(newOnly, before, "session_token"); code != 401 {
				t.Errorf("session_token signed by a removed version: %d, want 401", code)
			}
			if code := list(newOnly, after, "session_data", "session_token"); code != 200 {
				t.Errorf("cookies of the current version: %d", code)
			}
		})
	}
	t.Run("HS256Tokens", func(t *testing.T) {
		t.Parallel()
		oldSecret, newSecret := rotationSecret("old"), rotationSecret("new")
		db := filepath.Join(t.TempDir(), "auth.sqlite")
		base, _, stop := betterAuth(t, "hs256", 0, "BETTER_AUTH_SECRET="+oldSecret, "DB_FILE="+db)
		alice := signUp(t, base, "alice")
		oldToken := alice.jwt(t)
		stop()
		base, _, _ = betterAuth(t, "hs256", 0, "BETTER_AUTH_SECRET="+oldSecret, "DB_FILE="+db,
			"BETTER_AUTH_SECRETS=2:"+newSecret+",1:"+oldSecret)
		bob := signUp(t, base, "bob")
		newToken := bob.jwt(t)

		serve := func(env ...string) *server {
			return start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), append([]string{"JWT_ISSUER=", "JWT_AUDIENCE="}, env...)...))
		}
		list := func(s *server, user, tok string) int {
			code, _ := callWith(t, "GET", s.url+"/api/"+user+"/tasks", "", "Authorization", "Bearer "+tok)
			return code
		}
		// The legacy form: BETTER_AUTH_SECRET is still read, after the versions.
		both := serve("BETTER_AUTH_SECRET="+oldSecret, "BETTER_AUTH_SECRETS=2:"+newSecret)
		if code := list(both, alice.id, oldToken); code != 200 {
			t.Errorf("a token of the old secret, with it as BETTER_AUTH_SECRET: %d", code)
		}
		if code := list(both, bob.id, newToken); code != 200 {
			t.Errorf("a token of the new secret: %d", code)
		}
		newOnly := serve("BETTER_AUTH_SECRET=", "BETTER_AUTH_SECRETS=2:"+newSecret)
		if code := list(newOnly, alice.id, oldToken); code != 401 {
			t.Errorf("a token of a removed secret: %d, want 401", code)
		}
		if code := list(newOnly, bob.id, newToken); code != 200 {
			t.Errorf("a token of the current secret: %d", code)
		}
	})
}
