package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/authtest"
)

func TestVerifierSelection(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		want string // the enabled names, or the error text
	}{
		{"SecretOnly", []string{"BETTER_AUTH_SECRET=" + testSecret}, "[hs256]"},
		{"URLOnly", []string{"BETTER_AUTH_URL=http://localhost:3000"}, "[jwks]"},
		{"JWKSURLOnly", []string{"BETTER_AUTH_JWKS_URL=http://localhost:3000/keys"}, "[jwks]"},
		{"All", []string{"BETTER_AUTH_SECRET=" + testSecret, "BETTER_AUTH_URL=http://localhost:3000", "AUTH_SESSION_INTROSPECTION=true"}, "[hs256 jwks session]"},
		{"Override", []string{"BETTER_AUTH_SECRET=" + testSecret, "BETTER_AUTH_URL=http://localhost:3000", "AUTH_VERIFIERS=session"}, "[session]"},
		{"Cookies", []string{"BETTER_AUTH_SECRET=" + testSecret, "BETTER_AUTH_URL=http://localhost:3000", "AUTH_COOKIES=true"}, "[hs256 jwks cookie]"},
		{"CookiesAlone", []string{"BETTER_AUTH_URL=http://localhost:3000", "AUTH_VERIFIERS=cookie"}, "[cookie]"},
		{"ErrNone", nil, "BETTER_AUTH_SECRET is not set"},
		{"ErrUnknown", []string{"AUTH_VERIFIERS=hs256,magic"}, `unknown verifier "magic"; known: cookie, hs256, jwks, session`},
		{"ErrBadURL", []string{"BETTER_AUTH_URL=localhost:3000"}, "not an absolute URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, _, err := loadConfig(append([]string{"TASKBOLT_ENV_FILE="}, c.env...))
			var names []string
			if err == nil {
				names, err = cfg.enabledVerifiers()
			}
			got := fmt.Sprint(names)
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	t.Run("ErrVerifierCannotStart", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "x.db")
		for _, c := range []struct {
			env  []string
			want string
		}{
			{[]string{"AUTH_VERIFIERS=session"}, "needs BETTER_AUTH_URL"},
			{[]string{"AUTH_COOKIES=true"}, "AUTH_COOKIES needs BETTER_AUTH_URL"},
			{[]string{"AUTH_VERIFIERS=cookie", "BETTER_AUTH_URL=http://127.0.0.1:1", "BETTER_AUTH_SECRET=short"}, "must be at least"},
			{[]string{"BETTER_AUTH_URL=http://127.0.0.1:1", "JWT_ALGORITHMS=HS256"}, `algorithm "HS256" is not allowed`},
		} {
			err := run(context.Background(), nil, baseEnv(t, db, c.env...), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: err = %v, want %q", c.env, err, c.want)
			}
		}
	})
	t.Run("BetterAuthEndpoints", func(t *testing.T) {
		for base, want := range map[string]string{
			"http://localhost:3000": "http://localhost:3000/api/auth/jwks", "http://localhost:3000/": "http://localhost:3000/api/auth/jwks",
			"https://app.example.com/api/auth": "https://app.example.com/api/auth/jwks", "https://x.dev/app/": "https://x.dev/app/api/auth/jwks",
		} {
			if got := betterAuthEndpoint(base, "jwks"); got != want {
				t.Errorf("%s -> %s, want %s", base, got, want)
			}
		}
	})
	t.Run("IssuerAndAudienceDefaultToTheOrigin", func(t *testing.T) {
		if got := auth.Origin("https://app.example.com:8443/base/path?x=1"); got != "https://app.example.com:8443" {
			t.Errorf("origin = %q", got)
		}
	})
}

func TestJWKSFetchesAreCounted(t *testing.T) {
	key := authtest.NewKey(t, "EdDSA", "k")
	srv := authtest.NewJWKSServer(t, key)
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_SECRET=", "BETTER_AUTH_JWKS_URL="+srv.URL, "METRICS=true"))
	_, body := call(t, "GET", s.url+"/metrics", "", "")
	if !strings.Contains(body, `taskbolt_jwks_fetches_total{result="ok"} 1`) {
		t.Errorf("JWKS fetch not counted:\n%.3000s", body)
	}
}
