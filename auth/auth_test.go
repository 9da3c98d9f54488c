package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
)

func TestParseBearer(t *testing.T) {
	cases := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"  Bearer    abc  ", "abc", true},
		{"Bearer a b", "a b", true}, // the verifier rejects it
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"abc", "", false},
		{"Token abc", "", false},
	}
	for _, c := range cases {
		tok, ok := auth.ParseBearer(c.header)
		if tok != c.token || ok != c.ok {
			t.Errorf("ParseBearer(%q) = %q, %v; want %q, %v", c.header, tok, ok, c.token, c.ok)
		}
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x.y.z", "Basic x", "", " Bearer\t", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := auth.ParseBearer(header)
		if ok != (tok != "") {
			t.Fatalf("ok=%v with token %q", ok, tok)
		}
		if ok && !strings.Contains(header, tok) {
			t.Fatalf("token %q is not part of the header %q", tok, header)
		}
	})
}

// fakeVerifier is a function-field Verifier.
type fakeVerifier func(token string) (auth.Principal, error)

func (f fakeVerifier) Verify(_ context.Context, token string) (auth.Principal, error) {
	return f(token)
}

func newApp(v auth.Verifier, next func(*fiber.Ctx) bool) *fiber.App {
	app := fiber.New(fiber.Config{ReadBufferSize: 16 << 10, ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(599).SendString(err.Error())
	}})
	app.Get("/u/:user_id", auth.New(auth.Config{Verifier: v, Next: next, ValidUser: store.ValidUserID}), auth.RequireOwner("user_id"), func(c *fiber.Ctx) error {
		p, _ := auth.FromContext(c)
		return c.SendString(p.UserID + " via " + p.Verifier)
	})
	return app
}

func get(t *testing.T, app *fiber.App, path, authz string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMiddleware(t *testing.T) {
	var seen string
	v := fakeVerifier(func(token string) (auth.Principal, error) {
		seen = token
		switch token {
		case "alice-token":
			return auth.Principal{UserID: "alice", Verifier: "fake"}, nil
		case "bad-sub":
			return auth.Principal{UserID: "a/b", Verifier: "fake"}, nil
		}
		return auth.Principal{}, auth.ErrInvalidToken
	})
	app := newApp(v, nil)
	cases := []struct {
		name, path, authz string
		want              error // nil: 200
	}{
		{"OK", "/u/alice", "Bearer alice-token", nil},
		{"ErrUnauthenticated", "/u/alice", "", auth.ErrUnauthenticated},
		{"ErrUnauthenticated/Basic", "/u/alice", "Basic alice-token", auth.ErrUnauthenticated},
		{"ErrInvalidToken", "/u/alice", "Bearer nope", auth.ErrInvalidToken},
		{"ErrInvalidToken/UserIDNotAllowed", "/u/a", "Bearer bad-sub", auth.ErrInvalidToken},
		{"ErrInvalidToken/TooLong", "/u/alice", "Bearer " + strings.Repeat("x", auth.MaxTokenLen+1), auth.ErrInvalidToken},
		{"ErrForbidden", "/u/bob", "Bearer alice-token", auth.ErrForbidden},
		{"ErrForbidden/CaseDiffers", "/u/Alice", "Bearer alice-token", auth.ErrForbidden},
		{"ErrForbidden/Escaped", "/u/%61lice", "Bearer alice-token", auth.ErrForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := get(t, app, c.path, c.authz)
			if c.want == nil {
				if status != 200 || body != "alice via fake" {
					t.Fatalf("%d %q", status, body)
				}
				if seen != "alice-token" {
					t.Errorf("verifier saw %q", seen)
				}
				return
			}
			if status != 599 || !strings.HasPrefix(body, c.want.Error()) {
				t.Fatalf("%d %q, want error %v", status, body, c.want)
			}
		})
	}
	t.Run("Next", func(t *testing.T) {
		app := fiber.New()
		app.Get("/open", auth.New(auth.Config{Verifier: v, ValidUser: store.ValidUserID, Next: func(*fiber.Ctx) bool { return true }}), func(c *fiber.Ctx) error {
			_, ok := auth.FromContext(c)
			if ok {
				return errors.New("principal set although skipped")
			}
			return c.SendString("skipped")
		})
		if status, body := get(t, app, "/open", ""); status != 200 || body != "skipped" {
			t.Errorf("%d %q", status, body)
		}
	})
	t.Run("RequireOwnerWithoutNew", func(t *testing.T) {
		app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error { return c.Status(599).SendString(err.Error()) }})
		app.Get("/u/:user_id", auth.RequireOwner("user_id"), func(c *fiber.Ctx) error { return c.SendString("reached") })
		if status, body := get(t, app, "/u/alice", ""); status != 599 || !strings.Contains(body, auth.ErrUnauthenticated.Error()) {
			t.Errorf("%d %q", status, body)
		}
	})
}

// TestSources: the token comes from the first source that finds one, in
// order; a source's error is the answer; with no source finding one, 401.
func TestSources(t *testing.T) {
	v := fakeVerifier(func(tok string) (auth.Principal, error) { return auth.Principal{UserID: tok, Verifier: "fake"}, nil })
	fromCookie := auth.Source{Name: "cookie", Find: func(c *fiber.Ctx) (string, bool, error) {
		switch tok := c.Cookies("tok"); tok {
		case "":
			return "", false, nil
		case "bad":
			return "", false, fmt.Errorf("%w: a broken cookie", auth.ErrInvalidToken)
		default:
			return tok, true, nil
		}
	}}
	// A source with a verifier of its own, and a longer limit.
	fromQuirk := auth.Source{Name: "quirk", MaxLen: 20000,
		Find: func(c *fiber.Ctx) (string, bool, error) { q := c.Get("X-Quirk"); return q, q != "", nil },
		Verifier: fakeVerifier(func(tok string) (auth.Principal, error) {
			return auth.Principal{UserID: fmt.Sprintf("quirk-%d", len(tok))}, nil
		})}
	app := fiber.New(fiber.Config{ReadBufferSize: 64 << 10, ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(599).SendString(err.Error())
	}})
	app.Get("/", auth.New(auth.Config{Verifier: v, ValidUser: store.ValidUserID, Sources: []auth.Source{auth.FromHeader, fromCookie, fromQuirk}}),
		func(c *fiber.Ctx) error { p, _ := auth.FromContext(c); return c.SendString(p.UserID) })
	for _, c := range []struct{ authz, cookie, quirk, want string }{
		{"Bearer alice", "bob", "", "alice"}, // the header wins
		{"", "bob", "", "bob"},
		{"Basic x", "bob", "", "bob"}, // not a bearer header: the next source
		{"", "bad", "", "auth: invalid token: a broken cookie"},
		{"", "", "", "auth: not authenticated"},
		{"", "a/b", "", "auth: invalid token: the user claim is not a valid user id"},
		{"", "", strings.Repeat("q", 10000), "quirk-10000"}, // its own verifier, past MaxTokenLen
		{"", "", strings.Repeat("q", 20001), "auth: invalid token: credential longer than 20000 bytes"},
		{"Bearer " + strings.Repeat("t", auth.MaxTokenLen+1), "", "", "auth: invalid token: credential longer than 8192 bytes"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if c.authz != "" {
			req.Header.Set("Authorization", c.authz)
		}
		if c.cookie != "" {
			req.Header.Set("Cookie", "tok="+c.cookie)
		}
		if c.quirk != "" {
			req.Header.Set("X-Quirk", c.quirk)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != c.want {
			t.Errorf("%q %q: %s, want %s", c.authz, c.cookie, body, c.want)
		}
	}
}
