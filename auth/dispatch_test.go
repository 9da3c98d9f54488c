package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"github.com/taskbolt/taskbolt/auth"
)

// named is a verifier that accepts everything as its own name.
func named(name string) auth.Verifier {
	return fakeVerifier(func(string) (auth.Principal, error) { return auth.Principal{UserID: "u", Verifier: name}, nil })
}

func jwtWithHeader(header string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(`{"sub":"u"}`)) + ".c2ln"
}

// dispatch builds the routes the registry would: hs256, jwks (algs), session;
// a nil verifier is one that is off.
func dispatch(hs, jw, sess auth.Verifier, algs ...string) auth.Dispatch {
	return auth.Dispatch{Routes: []auth.Route{
		{Name: "hs256", Match: auth.JWTAlgs("HS256"), Verifier: hs},
		{Name: "jwks", Match: auth.JWTAlgs(algs...), Verifier: jw},
		{Name: "session", Match: auth.Opaque, Verifier: sess},
	}}
}

func TestDispatch(t *testing.T) {
	all := dispatch(named("hs256"), named("jwks"), named("session"), "EdDSA", "RS256")
	cases := []struct {
		name  string
		d     auth.Dispatch
		token string
		want  string // verifier name, or "" for ErrInvalidToken
	}{
		{"HS256", all, jwtWithHeader(`{"alg":"HS256","typ":"JWT"}`), "hs256"},
		{"EdDSA", all, jwtWithHeader(`{"alg":"EdDSA","kid":"k"}`), "jwks"},
		{"RS256", all, jwtWithHeader(`{"alg":"RS256","kid":"k"}`), "jwks"},
		{"OpaqueToken", all, "6AtuiZI7I2cJVXjgfplBgiHGzjK1wtEM", "session"},
		{"SignedOpaqueToken", all, "6AtuiZI7I2cJVXjgfplBgiHGzjK1wtEM.abc+/def=", "session"},
		{"ThreePartsNotJSON", all, "a.b.c", "session"},
		{"ErrAlgNone", all, jwtWithHeader(`{"alg":"none"}`), ""},
		{"ErrHS512", all, jwtWithHeader(`{"alg":"HS512"}`), ""},
		{"ErrAlgNotAString", all, jwtWithHeader(`{"alg":5}`), ""},
		{"ErrAsymmetricNotAllowed", all, jwtWithHeader(`{"alg":"ES512"}`), ""},
		{"ErrHS256Off", dispatch(nil, named("jwks"), nil, "EdDSA"), jwtWithHeader(`{"alg":"HS256"}`), ""},
		{"ErrJWKSOff", dispatch(named("hs256"), nil, nil, "EdDSA"), jwtWithHeader(`{"alg":"EdDSA"}`), ""},
		{"ErrSessionOff", dispatch(named("hs256"), nil, nil), "opaque", ""},
		{"ErrNoRoutes", auth.Dispatch{}, "opaque", ""},
	}
	// Twice: the second time the header's alg is the remembered one.
	for _, c := range append(cases, cases...) {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.d.Verify(context.Background(), c.token)
			if c.want == "" {
				if !errors.Is(err, auth.ErrInvalidToken) {
					t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", p, err)
				}
				return
			}
			if err != nil || p.Verifier != c.want {
				t.Fatalf("went to %q (%v), want %q", p.Verifier, err, c.want)
			}
		})
	}
}

// TestDispatchManyHeaders: past the headers it remembers, each token is still
// routed by its own header, and a forged one is not routed as the header it
// was made to resemble.
func TestDispatchManyHeaders(t *testing.T) {
	d := dispatch(named("hs256"), nil, named("session"), "EdDSA")
	for i := range 300 {
		alg, want := "HS256", "hs256"
		if i%3 == 0 {
			alg, want = "none", ""
		}
		for range 2 {
			p, err := d.Verify(context.Background(), jwtWithHeader(fmt.Sprintf(`{"alg":%q,"kid":"k%d"}`, alg, i)))
			if want == "" && !errors.Is(err, auth.ErrInvalidToken) || want != "" && (err != nil || p.Verifier != want) {
				t.Fatalf("header %d (%s): %+v, %v; want %q", i, alg, p, err, want)
			}
		}
	}
}

func FuzzDispatch(f *testing.F) {
	for _, s := range []string{jwtWithHeader(`{"alg":"HS256"}`), "opaque", "a.b.c", "..", "e30.e30.", ""} {
		f.Add(s)
	}
	d := dispatch(named("hs256"), nil, named("session"), "EdDSA")
	f.Fuzz(func(t *testing.T, token string) {
		p, err := d.Verify(context.Background(), token)
		if err != nil && !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("unexpected error class %v", err)
		}
		if err == nil && p.Verifier == "" {
			t.Fatal("accepted by nobody")
		}
		if err == nil && (p.Verifier == "jwks") {
			t.Fatal("accepted by a verifier that is off")
		}
	})
}
