package cookie

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/authtest"
	"github.com/taskbolt/taskbolt/auth/jwks"
	"github.com/taskbolt/taskbolt/auth/session"
)

// These cookies are made here the way better-auth 1.7.25 makes them
// (BETTER_AUTH.md §4); interop_test.go in package main checks the same
// verifier against cookies a live Better Auth issued.

var (
	secret = []byte("cookie-test-secret-cookie-test-secret")
	now    = time.Unix(1_800_000_000, 0)
)

// payloadJSON is P as JSON.stringify writes it: no spaces, Better Auth's key order.
func payloadJSON(user string, sessionEnds time.Time) string {
	return fmt.Sprintf(`{"session":{"expiresAt":%q,"token":"tok3nT0k3nTok3nTok3nTok3nTok3nT0","userId":%q,"id":"s1"},"user":{"name":"Alice","email":"a@example.com","id":%q},"updatedAt":%d,"version":"1"}`,
		sessionEnds.UTC().Format("2006-01-02T15:04:05.000Z"), user, user, now.UnixMilli())
}

func compactCookie(secret []byte, p string, expires time.Time) string {
	exp := expires.UnixMilli()
	signed := strings.TrimSuffix(p, "}") + fmt.Sprintf(`,"expiresAt":%d}`, exp)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signed))
	sig := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"session":%s,"expiresAt":%d,"signature":%q}`, p, exp, sig))
}

func claimsOf(p string, exp time.Time) jwt.MapClaims {
	var c jwt.MapClaims
	json.Unmarshal([]byte(p), &c)
	c["iat"], c["exp"] = now.Unix(), exp.Unix()
	return c
}

func jwtCookie(t *testing.T, secret []byte, p string, exp time.Time) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsOf(p, exp)).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jweCookie(t *testing.T, secret []byte, p string, exp time.Time, enc jose.ContentEncryption) string {
	key, _ := jweKey(secret)
	if enc == jose.A256GCM {
		key = key[:32]
	}
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: jose.DIRECT, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims := claimsOf(p, exp)
	claims["jti"] = "0b5f7a4e-0000-4000-8000-000000000000"
	plain, _ := json.Marshal(claims)
	obj, err := e.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}

func signedToken(secret []byte, token string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(token))
	return url.QueryEscape(token + "." + base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// getSession is a Better Auth get-session endpoint that knows one session
// cookie value and counts its calls.
type getSession struct {
	*httptest.Server
	calls atomic.Int32
}

func newGetSession(t *testing.T, cookieName, value, user string) *getSession {
	g := &getSession{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.calls.Add(1)
		if c, err := r.Cookie(cookieName); err == nil && c.Value == value {
			fmt.Fprintf(w, `{"session":{"expiresAt":%q,"userId":%q},"user":{"id":%q}}`, time.Now().Add(time.Hour).Format(time.RFC3339), user, user)
			return
		}
		io.WriteString(w, "null")
	}))
	t.Cleanup(g.Close)
	return g
}

func newVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return now }
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pluginKeys serves the jwt plugin's key set (one EdDSA key, k1) and returns
// the key, its server and the verifier of its session-cache JWT.
func pluginKeys(t *testing.T) (authtest.Key, *authtest.JWKSServer, auth.Verifier) {
	t.Helper()
	key := authtest.NewKey(t, "EdDSA", "k1")
	keys := authtest.NewJWKSServer(t, key)
	jv, err := jwks.New(jwks.Config{URL: keys.URL, Issuer: "http://localhost:3000", Audience: "http://localhost:3000"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jv.Close)
	return key, keys, jv.ForAudience(Name, CacheAudience)
}

func TestSessionData(t *testing.T) {
	key, _, cacheJWT := pluginKeys(t)
	v := newVerifier(t, Config{Secrets: [][]byte{[]byte("an-older-secret-an-older-secret-x"), secret}, CacheJWT: cacheJWT})

	p := payloadJSON("alice", now.Add(24*time.Hour))
	in5m, ago := now.Add(5*time.Minute), now.Add(-time.Minute)
	plugin := func(c jwt.MapClaims) string {
		return key.Sign(t, authtest.With(authtest.With(authtest.With(c, "sub", "alice"), "aud", CacheAudience), "iss", "http://localhost:3000"))
	}
	other := []byte("not-the-secret-not-the-secret-not-it")
	tamper := func(s string) string { // flip one decoded byte of the last segment
		i := strings.LastIndex(s, ".") + 1
		raw, _ := base64.RawURLEncoding.DecodeString(s[i:])
		raw[len(raw)/2] ^= 1
		return s[:i] + base64.RawURLEncoding.EncodeToString(raw)
	}
	compactTampered := func() string { // another user, the old signature
		raw, _ := base64.RawURLEncoding.DecodeString(compactCookie(secret, p, in5m))
		return base64.RawURLEncoding.EncodeToString([]byte(strings.ReplaceAll(string(raw), `"alice"`, `"mallory"`)))
	}()
	cases := []struct {
		name, data string
		want       error // nil: alice
	}{
		{"compact", compactCookie(secret, p, in5m), nil},
		{"compact/OlderSecret", compactCookie([]byte("an-older-secret-an-older-secret-x"), p, in5m), nil},
		{"compact/EmptyPayload", compactCookie(secret, `{}`, in5m), auth.ErrInvalidToken},
		{"compact/Expired", compactCookie(secret, p, ago), auth.ErrTokenExpired},
		{"compact/SessionEnded", compactCookie(secret, payloadJSON("alice", ago), in5m), auth.ErrTokenExpired},
		{"compact/WrongSecret", compactCookie(other, p, in5m), auth.ErrInvalidToken},
		{"compact/Tampered", compactTampered, auth.ErrInvalidToken},
		{"compact/NotBase64", "!!!" + compactCookie(secret, p, in5m), auth.ErrInvalidToken},
		{"jwt", jwtCookie(t, secret, p, in5m), nil},
		{"jwt/Expired", jwtCookie(t, secret, p, ago), auth.ErrTokenExpired},
		{"jwt/WrongSecret", jwtCookie(t, other, p, in5m), auth.ErrInvalidToken},
		{"jwt/Tampered", tamper(jwtCookie(t, secret, p, in5m)), auth.ErrInvalidToken},
		{"jwt/NoUser", jwtCookie(t, secret, `{"session":{}}`, in5m), auth.ErrInvalidToken},
		{"jwe", jweCookie(t, secret, p, in5m, jose.A256CBC_HS512), nil},
		{"jwe/WithinLeeway", jweCookie(t, secret, p, now.Add(-10*time.Second), jose.A256CBC_HS512), nil},
		{"jwe/Expired", jweCookie(t, secret, p, ago, jose.A256CBC_HS512), auth.ErrTokenExpired},
		{"jwe/WrongSecret", jweCookie(t, other, p, in5m, jose.A256CBC_HS512), auth.ErrInvalidToken},
		{"jwe/Tampered", tamper(jweCookie(t, secret, p, in5m, jose.A256CBC_HS512)), auth.ErrInvalidToken},
		{"jwe/A256GCM", jweCookie(t, secret, p, in5m, jose.A256GCM), auth.ErrInvalidToken},
		// The JWKS verifier keeps its own (real) clock.
		{"plugin", plugin(jwt.MapClaims{"exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix()}), nil},
		{"plugin/Expired", plugin(jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix(), "iat": time.Now().Add(-time.Hour).Unix()}), auth.ErrTokenExpired},
		{"plugin/BearerAudience", key.Sign(t, jwt.MapClaims{"sub": "alice", "aud": "http://localhost:3000", "exp": in5m.Unix()}), auth.ErrInvalidToken},
		{"plugin/UnknownKey", authtest.NewKey(t, "EdDSA", "k2").Sign(t, jwt.MapClaims{"sub": "alice", "aud": CacheAudience, "exp": in5m.Unix()}), auth.ErrInvalidToken},
		{"plugin/HS512", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claimsOf(p, in5m)).SignedString(secret)
			return s
		}(), auth.ErrInvalidToken},
		{"none", "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"user":{"id":"alice"},"exp":9999999999}`)) + ".", auth.ErrInvalidToken},
		{"Garbage", "a.b", auth.ErrInvalidToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), "better-auth.session_data="+c.data)
			switch {
			case c.want == nil && (err != nil || p.UserID != "alice" || p.Verifier != Name):
				t.Fatalf("got %+v, %v; want alice", p, err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Fatalf("got %+v, %v; want %v", p, err, c.want)
			case c.want != nil && auth.VerifierOf(err) != Name:
				t.Fatalf("error not named for the cookie verifier: %v", err)
			}
		})
	}
	t.Run("NoSecretNoHS256", func(t *testing.T) {
		v := newVerifier(t, Config{CacheJWT: cacheJWT})
		for _, data := range []string{compactCookie(secret, p, in5m), jwtCookie(t, secret, p, in5m), jweCookie(t, secret, p, in5m, jose.A256CBC_HS512)} {
			if _, err := v.Verify(context.Background(), "better-auth.session_data="+data); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("a secret-based cookie passed without the secret: %v", err)
			}
		}
	})
}

// TestSessionToken: session_token's HMAC is checked here, so a forged one is
// refused without a call; a genuine one is resolved by get-session, sent as
// the cookie it came in, and cached.
func TestSessionToken(t *testing.T) {
	const name = "better-auth.session_token"
	value := signedToken(secret, "SessionTokenOfAliceSessionTokenA")
	gs := newGetSession(t, name, value, "alice")
	s, _ := session.New(session.Config{URL: gs.URL, Credential: func(nv string) (string, string) { return "Cookie", nv }})
	v := newVerifier(t, Config{Secrets: [][]byte{secret}, Session: s})

	p, err := v.Verify(context.Background(), name+"="+value)
	if err != nil || p.UserID != "alice" || p.Verifier != Name {
		t.Fatalf("%+v %v", p, err)
	}
	v.Verify(context.Background(), name+"="+value)
	if n := gs.calls.Load(); n != 1 {
		t.Errorf("get-session called %d times for one token, want 1 (cached)", n)
	}
	for _, bad := range []string{
		signedToken([]byte("not-the-secret-not-the-secret-not-it"), "SessionTokenOfAliceSessionTokenA"),
		"SessionTokenOfAliceSessionTokenA",                                  // unsigned
		signedToken(secret, "SessionTokenOfAliceSessionTokenB")[:40] + "xx", // cut
	} {
		if _, err := v.Verify(context.Background(), name+"="+bad); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if n := gs.calls.Load(); n != 1 {
		t.Errorf("forged tokens reached get-session: %d calls", n)
	}
	// A validly signed token Better Auth does not know: 401 after asking.
	if _, err := v.Verify(context.Background(), name+"="+signedToken(secret, "SignedButUnknownSignedButUnknown")); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("unknown session: %v", err)
	}
	t.Run("BadSessionDataFallsBackToTheToken", func(t *testing.T) {
		p, err := v.Verify(context.Background(), name+"="+value+"; better-auth.session_data="+compactCookie(secret, payloadJSON("alice", now), now.Add(-time.Second)))
		if err != nil || p.UserID != "alice" {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("SessionDataNeedsNoCall", func(t *testing.T) {
		before := gs.calls.Load()
		p, err := v.Verify(context.Background(), "better-auth.session_data="+compactCookie(secret, payloadJSON("bob", now.Add(time.Hour)), now.Add(time.Minute))+"; "+name+"="+value)
		if err != nil || p.UserID != "bob" || gs.calls.Load() != before {
			t.Fatalf("%+v %v, %d calls", p, err, gs.calls.Load()-before)
		}
	})
	t.Run("BetterAuthDownIs503", func(t *testing.T) {
		down, _ := session.New(session.Config{URL: "http://127.0.0.1:1/api/auth/get-session", Credential: func(nv string) (string, string) { return "Cookie", nv }})
		v := newVerifier(t, Config{Secrets: [][]byte{secret}, Session: down})
		if _, err := v.Verify(context.Background(), name+"="+value); !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("%v", err)
		}
	})
}

func TestJar(t *testing.T) {
	n := namesFor("better-auth")
	cases := []struct {
		header string
		want   jar
	}{
		{"", jar{}},
		{"other=1; better-auth.session_token=T", jar{tokenName: "better-auth.session_token", token: "T"}},
		{"better-auth.session_token=T1; better-auth.session_token=T2", jar{tokenName: "better-auth.session_token", token: "T1"}},
		{"better-auth.session_token=P; __Secure-better-auth.session_token=S", jar{tokenName: "__Secure-better-auth.session_token", token: "S"}},
		{`better-auth.session_data="D"`, jar{dataName: "better-auth.session_data", data: "D"}},
		{"better-auth.session_data.1=B; x=y; better-auth.session_data.0=A; better-auth.session_data.2=C",
			jar{dataName: "better-auth.session_data", data: "ABC"}},
		{"better-auth.session_data=W; better-auth.session_data.0=A", jar{dataName: "better-auth.session_data", data: "W"}},
		{"better-auth.session_data.x=A; better-auth.session_data.-1=B; better-auth.session_data.100=C", jar{}},
		{"myapp.session_token=T", jar{}},
		{"better-auth.session_token=; noequals; =v", jar{}},
		{"better-auth.session_data=" + strings.Repeat("a", MaxDataLen+1), jar{}},
	}
	for _, c := range cases {
		if got := parseJar(c.header, n); got != c.want {
			t.Errorf("%.80q: got %+v, want %+v", c.header, got, c.want)
		}
		if got := parseJar(parseJar(c.header, n).String(), n); got != c.want {
			t.Errorf("%.80q does not survive String: %+v", c.header, got)
		}
	}
	if got := parseJar("myapp.session_token=T; __Secure-myapp.session_data=D", namesFor("myapp")); got.token != "T" || got.data != "D" {
		t.Errorf("custom prefix: %+v", got)
	}
}

// TestSource runs the source in a Fiber app: which requests have a cookie
// credential, and the CSRF rule for changes.
func TestSource(t *testing.T) {
	v := newVerifier(t, Config{Secrets: [][]byte{secret}, Origins: []string{"http://localhost:3000"}})
	data := "better-auth.session_data=" + compactCookie(secret, payloadJSON("alice", now.Add(time.Hour)), now.Add(time.Minute))
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		switch {
		case errors.Is(err, auth.ErrCrossSite):
			return c.Status(403).SendString("cross-site")
		case errors.Is(err, auth.ErrUnauthenticated):
			return c.Status(401).SendString("none")
		}
		return c.Status(401).SendString("invalid")
	}})
	app.Use(auth.New(auth.Config{Verifier: v, Sources: []auth.Source{v.Source()}, ValidUser: func(string) bool { return true }}))
	app.All("/", func(c *fiber.Ctx) error { p, _ := auth.FromContext(c); return c.SendString(p.UserID) })
	cases := []struct {
		method, cookie, origin, referer, want string
		authorization                         string
	}{
		{"GET", data, "", "", "none", "Basic YTpi"}, // any Authorization header: cookies are not consulted
		{"GET", data, "", "", "alice", ""},
		{"GET", data, "https://evil.example", "", "alice", ""}, // reads are not CSRF (CORS keeps the answer from evil)
		{"GET", "", "", "", "none", ""},
		{"POST", data, "http://localhost:3000", "", "alice", ""},
		{"DELETE", data, "http://example.com", "", "alice", ""}, // the request's own origin
		{"PATCH", data, "", "http://localhost:3000/tasks?x=1", "alice", ""},
		{"PUT", data, "", "", "cross-site", ""},
		{"POST", data, "https://evil.example", "", "cross-site", ""},
		{"POST", data, "null", "http://localhost:3000/", "cross-site", ""},
		{"POST", data, "", "https://evil.example/http://localhost:3000", "cross-site", ""},
		{"POST", data, "http://localhost:3000.evil.example", "", "cross-site", ""},
		{"POST", "", "https://evil.example", "", "none", ""},
		{"POST", "better-auth.session_data=forged", "http://localhost:3000", "", "invalid", ""},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, "http://example.com/", nil)
		if c.cookie != "" {
			req.Header.Set("Cookie", c.cookie)
		}
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		if c.referer != "" {
			req.Header.Set("Referer", c.referer)
		}
		if c.authorization != "" {
			req.Header.Set("Authorization", c.authorization)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != c.want {
			t.Errorf("%s origin %q referer %q cookie %.30q: %s, want %s", c.method, c.origin, c.referer, c.cookie, body, c.want)
		}
	}
}

func FuzzCookies(f *testing.F) {
	data := compactCookie(secret, payloadJSON("alice", now.Add(time.Hour)), now.Add(time.Minute))
	for _, s := range []string{
		"better-auth.session_data=" + data,
		"better-auth.session_data.0=" + data[:10] + "; better-auth.session_data.1=" + data[10:],
		"__Secure-better-auth.session_token=" + signedToken(secret, "abc") + "; a=b",
		"better-auth.session_data=e30.e30.e30.e30.e30; better-auth.session_data=a.b.c",
		"better-auth.session_data=" + base64.RawURLEncoding.EncodeToString([]byte(`{"session":{},"expiresAt":1e99,"signature":"x"}`)),
	} {
		f.Add(s)
	}
	v := newVerifier(f, Config{Secrets: [][]byte{secret}})
	f.Fuzz(func(t *testing.T, header string) {
		j := parseJar(header, v.names)
		if j != parseJar(j.String(), v.names) {
			t.Fatalf("the jar of %q does not survive String", header)
		}
		if len(j.data) > MaxDataLen {
			t.Fatalf("session_data of %d bytes kept", len(j.data))
		}
		p, err := v.Verify(context.Background(), header)
		if err == nil && p.UserID == "" {
			t.Fatal("authenticated with no user")
		}
		if err != nil && !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrTokenExpired) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err == nil && strings.Contains(header, "session_data") == false {
			t.Fatal("authenticated without session_data and without get-session")
		}
	})
}

// TestForgedCookiesCostNoRequest sends a corpus of forged and malformed
// cookies (every alg spelling of none, algorithms outside the list, unknown
// and missing kids, tampered signatures, cut and padded values, forged
// session tokens) while the key set and get-session are down: every one is
// a 401, decided here, with no request to either.
func TestForgedCookiesCostNoRequest(t *testing.T) {
	const tokenName = "better-auth.session_token"
	key, keys, cacheJWT := pluginKeys(t)
	gs := newGetSession(t, tokenName, signedToken(secret, "SessionTokenOfAliceSessionTokenA"), "alice")
	s, _ := session.New(session.Config{URL: gs.URL, Credential: func(nv string) (string, string) { return "Cookie", nv }})
	v := newVerifier(t, Config{Secrets: [][]byte{secret}, CacheJWT: cacheJWT, Session: s})
	// Both services fail from now on: a request to either would be a 503.
	keys.SetHandler(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	fetchesBefore := keys.Fetches()

	exp := time.Now().Add(5 * time.Minute).Unix()
	plugin := jwt.MapClaims{"sub": "alice", "aud": CacheAudience, "iss": "http://localhost:3000", "exp": exp, "iat": time.Now().Unix()}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	claims := b64(fmt.Sprintf(`{"sub":"alice","aud":%q,"user":{"id":"alice"},"session":{"userId":"alice"},"exp":%d}`, CacheAudience, exp))
	withHeader := func(h string) string { return b64(h) + "." + claims + "." + b64("signature-bytes-signature-bytes!") }
	other := []byte("not-the-secret-not-the-secret-not-it")
	p := payloadJSON("alice", now.Add(24*time.Hour))
	data := []string{
		withHeader(`{"alg":"none"}`), withHeader(`{"alg":"None","kid":"k1"}`), withHeader(`{"alg":"NONE","kid":"k1"}`),
		withHeader(`{"alg":"nOnE","kid":"k1"}`), b64(`{"alg":"None"}`) + "." + claims + ".",
		withHeader(`{"alg":"HS512","kid":"k1"}`), withHeader(`{"alg":"HS384"}`), withHeader(`{"alg":"RS256","kid":"k1"}`),
		withHeader(`{"alg":"ES384","kid":"k1"}`), withHeader(`{"alg":"EdDSA"}`), withHeader(`{"alg":"EdDSA","kid":"unknown-kid"}`),
		withHeader(`{"alg":"EdDSA","kid":"k1","crit":["exp"]}`), withHeader(`{"alg":"EdDSA","kid":"` + strings.Repeat("k", 300) + `"}`),
		withHeader(`{"alg":"EdDSA","kid":"k1"}`), withHeader(`{"alg":"EdDSA","kid":"k1","alg":"HS256"}`),
		withHeader(`{"alg":"EdDSA","kid":7}`), withHeader(`{"alg":["EdDSA"]}`), withHeader(`{}`), withHeader(`[]`), withHeader(`null`),
		authtest.NewKey(t, "EdDSA", "k2").Sign(t, plugin),                  // a key the set never had, every claim right
		authtest.NewKey(t, "ES256", "k1").Sign(t, plugin),                  // the known kid, another key and alg
		key.Sign(t, authtest.With(plugin, "aud", "http://localhost:3000")), // a bearer token as a cookie
		key.Sign(t, authtest.With(plugin, "exp", nil)),
		jwtCookie(t, other, p, now.Add(5*time.Minute)), jweCookie(t, other, p, now.Add(5*time.Minute), jose.A256CBC_HS512),
		b64(`{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".a.b.c.d", b64(`{"alg":"dir","enc":"A128CBC-HS256"}`) + ".." + b64("iv") + "." + b64("ct") + "." + b64("tag"),
		compactCookie(other, p, now.Add(5*time.Minute)), b64(`{"session":{"user":{"id":"alice"}},"expiresAt":9999999999999,"signature":"x"}`),
		"", ".", "..", "....", ".....", "a.b.c.d.e.f", "%zz", "\x00\xff\xfe", strings.Repeat("A", 4000), strings.Repeat(".", 64),
		withHeader(`{"alg":"EdDSA","kid":"k1"}`)[:20],
	}
	tokens := []string{
		"", "SessionTokenOfAliceSessionTokenA", signedToken(other, "SessionTokenOfAliceSessionTokenA"),
		"SessionTokenOfAliceSessionTokenA.", "SessionTokenOfAliceSessionTokenA.%zz", ".", "%2E", strings.Repeat("x", 500) + ".c2ln",
	}
	n := 0
	for _, d := range data {
		for _, tok := range tokens {
			jar := []string{}
			if d != "" {
				jar = append(jar, "better-auth.session_data="+d)
			}
			if tok != "" {
				jar = append(jar, tokenName+"="+tok)
			}
			if len(jar) == 0 {
				continue
			}
			n++
			_, err := v.Verify(context.Background(), strings.Join(jar, "; "))
			if !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrTokenExpired) {
				t.Errorf("data %.60q, token %.40q: %v, want a 401", d, tok, err)
			}
		}
	}
	if f := keys.Fetches() - fetchesBefore; f != 0 {
		t.Errorf("%d forged cookies caused %d key set fetches, want 0", n, f)
	}
	if c := gs.calls.Load(); c != 0 {
		t.Errorf("%d forged cookies caused %d get-session requests, want 0", n, c)
	}
	t.Logf("%d forged cookies: all refused here, no request made", n)
}
