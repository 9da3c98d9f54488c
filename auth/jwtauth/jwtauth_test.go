package jwtauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/jwtauth"
)

var key = []byte("jwtauth-test-key-of-at-least-32-bytes!")

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// counting is an HS256 key function that counts signature checks.
type counting struct {
	mu    sync.Mutex
	calls int
}

func (k *counting) keyfunc(context.Context) jwt.Keyfunc {
	return func(*jwt.Token) (any, error) {
		k.mu.Lock()
		k.calls++
		k.mu.Unlock()
		return key, nil
	}
}

func newVerifier(clk *clock, kf *counting, valid func(context.Context, string) bool) *jwtauth.Verifier {
	return jwtauth.New(jwtauth.Config{Name: "test", Methods: []string{"HS256"}, Leeway: 30 * time.Second,
		Now: clk.Now, Keyfunc: kf.keyfunc, KeyValid: valid})
}

func token(t *testing.T, sub string, exp time.Time, kid string) string {
	t.Helper()
	return signed(t, map[string]any{"kid": kid}, jwt.MapClaims{"sub": sub, "exp": exp.Unix()})
}

func TestCacheChecksASignatureOnce(t *testing.T) {
	clk := &clock{now: time.Now()}
	kf := &counting{}
	v := newVerifier(clk, kf, nil)
	tok := token(t, "alice", clk.Now().Add(10*time.Minute), "k1")
	for range 5 {
		if p, err := v.Verify(context.Background(), tok); err != nil || p.UserID != "alice" {
			t.Fatalf("Verify = %+v, %v", p, err)
		}
	}
	if kf.calls != 1 {
		t.Errorf("%d signature checks for 5 requests with one token, want 1", kf.calls)
	}
	other := token(t, "bob", clk.Now().Add(10*time.Minute), "k1")
	if p, _ := v.Verify(context.Background(), other); p.UserID != "bob" {
		t.Errorf("another token answered as %q", p.UserID)
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	clk := &clock{now: time.Now()}
	v := newVerifier(clk, &counting{}, nil)
	tok := token(t, "alice", clk.Now().Add(time.Minute), "k1")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute + 20*time.Second) // within the leeway: still good
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	clk.Advance(15 * time.Second)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("a cached token past exp and leeway: %v, want ErrTokenExpired", err)
	}
}

func TestCachedTokenEndsWithItsKey(t *testing.T) {
	clk := &clock{now: time.Now()}
	kf := &counting{}
	var trusted sync.Map
	trusted.Store("k1", true)
	v := newVerifier(clk, kf, func(_ context.Context, kid string) bool { ok, _ := trusted.Load(kid); return ok == true })
	tok := token(t, "alice", clk.Now().Add(10*time.Minute), "k1")
	v.Verify(context.Background(), tok)
	v.Verify(context.Background(), tok)
	if kf.calls != 1 {
		t.Fatalf("%d full checks while the key is trusted, want 1", kf.calls)
	}
	trusted.Store("k1", false) // the key left the key set
	v.Verify(context.Background(), tok)
	if kf.calls != 2 {
		t.Errorf("%d full checks after the key left, want 2: the cache must not answer for a key no longer trusted", kf.calls)
	}
}

func TestFailuresAreNotCached(t *testing.T) {
	clk := &clock{now: time.Now()}
	kf := &counting{}
	v := newVerifier(clk, kf, nil)
	forged := token(t, "alice", clk.Now().Add(time.Hour), "k1")
	forged = forged[:strings.LastIndex(forged, ".")+1] + base64.RawURLEncoding.EncodeToString([]byte("not the signature of this token!"))
	for range 3 {
		if _, err := v.Verify(context.Background(), forged); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("err = %v", err)
		}
	}
	if kf.calls != 3 {
		t.Errorf("%d checks of a failing token, want 3: failures are never cached", kf.calls)
	}
}

// TestRefusedBeforeAnyKeyLookup: what the token alone decides (its alg, its
// claims, its user, its lifetime) is refused without asking for a key, so
// no forged token can cost a key set fetch.
func TestRefusedBeforeAnyKeyLookup(t *testing.T) {
	clk := &clock{now: time.Now()}
	kf := &counting{}
	v := newVerifier(clk, kf, nil)
	signed := func(alg jwt.SigningMethod, claims jwt.MapClaims, k any) string {
		tok := jwt.NewWithClaims(alg, claims)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := clk.Now().Add(10 * time.Minute).Unix()
	unsigned := func(header string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." +
			base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"alice","exp":%d}`, exp))) + "."
	}
	cases := map[string]string{
		"Expired":         token(t, "alice", clk.Now().Add(-time.Hour), "k1"),
		"NoExp":           signed(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice"}, key),
		"NoSub":           signed(jwt.SigningMethodHS256, jwt.MapClaims{"exp": exp}, key),
		"TooLong":         signed(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": clk.Now().Add(48 * time.Hour).Unix()}, key),
		"NotYetValid":     signed(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": exp, "nbf": exp}, key),
		"OtherAlg":        signed(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "alice", "exp": exp}, key),
		"AlgNone":         unsigned(`{"alg":"none","kid":"k1"}`),
		"AlgNoneCapital":  unsigned(`{"alg":"None","kid":"k1"}`),
		"AlgNONE":         unsigned(`{"alg":"NONE","kid":"k1"}`),
		"AlgUnknown":      unsigned(`{"alg":"XS256","kid":"k1"}`),
		"ClaimsNotObject": base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`[1]`)) + ".c2ln",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrTokenExpired) {
				t.Fatalf("err = %v, want a 401", err)
			}
		})
	}
	if kf.calls != 0 {
		t.Errorf("%d key lookups for tokens the claims alone refuse, want 0", kf.calls)
	}
}

func TestStructureChecks(t *testing.T) {
	clk := &clock{now: time.Now()}
	v := newVerifier(clk, &counting{}, nil)
	exp := clk.Now().Add(time.Minute).Unix()
	enc := func(header, payload string) string {
		signing := b64(header) + "." + b64(payload)
		sig, _ := jwt.SigningMethodHS256.Sign(signing, key)
		return signing + "." + b64(string(sig))
	}
	good := fmt.Sprintf(`{"sub":"alice","exp":%d,"nested":{"a":[{"b":1},{"b":2}],"c":"}\"{,"}}`, exp)
	if _, err := v.Verify(context.Background(), enc(`{"alg":"HS256","kid":"k"}`, good)); err != nil {
		t.Fatalf("a token with repeated keys only in different objects: %v", err)
	}
	for name, tok := range map[string]string{
		"DuplicateSub":         enc(`{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"bob","sub":"alice","exp":%d}`, exp)),
		"DuplicateSubEscaped":  enc(`{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"bob","\u0073ub":"alice","exp":%d}`, exp)),
		"DuplicateNested":      enc(`{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","exp":%d,"user":{"id":"a","id":"b"}}`, exp)),
		"DuplicateAlgInHeader": enc(`{"alg":"none","alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","exp":%d}`, exp)),
		"CritHeader":           enc(`{"alg":"HS256","crit":["x"]}`, fmt.Sprintf(`{"sub":"alice","exp":%d}`, exp)),
		"KidTooLong":           enc(`{"alg":"HS256","kid":"`+strings.Repeat("k", 300)+`"}`, fmt.Sprintf(`{"sub":"alice","exp":%d}`, exp)),
		"UnterminatedString":   enc(`{"alg":"HS256"}`, `{"sub":"alice`),
		"UnbalancedClose":      enc(`{"alg":"HS256"}`, `}}`),
		"TimeWithFraction":     enc(`{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","exp":%d.5}`, exp)),
		"TimeWithExponent":     enc(`{"alg":"HS256"}`, `{"sub":"alice","exp":1e10}`),
		"TimeAsString":         enc(`{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","exp":"%d"}`, exp)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signed signs claims with header fields added (typ, kid).
func signed(t *testing.T, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAccessTokens: an access-token verifier takes typ at+jwt naming the
// request's resource in aud, and the app verifier never takes one; neither
// takes a key-bound (cnf) token; scope becomes the principal's scopes.
func TestAccessTokens(t *testing.T) {
	clk := &clock{now: time.Now()}
	kf := &counting{}
	cfg := jwtauth.Config{Name: "oauth", Methods: []string{"HS256"}, Now: clk.Now, Keyfunc: kf.keyfunc, Issuer: "https://auth.example.com/api/auth", AccessTokens: true}
	oauth := jwtauth.New(cfg)
	cfg.Name, cfg.AccessTokens, cfg.Issuer = "app", false, ""
	app := jwtauth.New(cfg)
	const resource = "https://tasks.example.com/mcp"
	ctx := auth.WithResource(context.Background(), resource)
	exp := clk.now.Add(time.Hour).Unix()
	claims := func(extra ...any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "alice", "exp": exp, "iss": "https://auth.example.com/api/auth", "aud": []string{resource, "https://auth.example.com/api/auth/oauth2/userinfo"},
			"azp": "agent", "client_id": "agent", "scope": "openid tasks:read"}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == nil {
				delete(c, extra[i].(string))
			} else {
				c[extra[i].(string)] = extra[i+1]
			}
		}
		return c
	}
	at := map[string]any{"typ": "at+jwt"}

	p, err := oauth.Verify(ctx, signed(t, at, claims()))
	if err != nil || p.UserID != "alice" || !p.Scoped || !p.Allows(auth.ScopeRead) || p.Allows(auth.ScopeWrite) {
		t.Fatalf("a good access token: %+v %v", p, err)
	}
	if p, err := oauth.Verify(ctx, signed(t, map[string]any{"typ": "application/AT+JWT"}, claims("scope", "tasks:read tasks:write"))); err != nil || !p.Allows(auth.ScopeWrite) {
		t.Errorf("typ as a media type, both scopes: %+v %v", p, err)
	}
	for name, tok := range map[string]string{
		"another resource":   signed(t, at, claims("aud", "https://other.example.com/mcp")),
		"no aud":             signed(t, at, claims("aud", nil)),
		"typ JWT":            signed(t, map[string]any{"typ": "JWT"}, claims()),
		"no typ":             signed(t, map[string]any{"typ": nil}, claims()),
		"another issuer":     signed(t, at, claims("iss", "https://evil.example.com")),
		"DPoP-bound":         signed(t, at, claims("cnf", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})),
		"scope not a string": signed(t, at, claims("scope", []string{"tasks:read"})),
		"expired":            signed(t, at, claims("exp", clk.now.Add(-time.Hour).Unix())),
	} {
		if _, err := oauth.Verify(ctx, tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := oauth.Verify(context.Background(), signed(t, at, claims())); err == nil {
		t.Error("accepted without knowing the request's resource")
	}
	if _, err := app.Verify(ctx, signed(t, at, claims())); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("the app verifier took an access token: %v", err)
	}
	if _, err := app.Verify(ctx, signed(t, nil, claims("cnf", map[string]any{"jkt": "x"}))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("the app verifier took a key-bound token: %v", err)
	}
	if p, err := app.Verify(ctx, signed(t, nil, claims("scope", nil))); err != nil || p.Scoped || !p.Allows(auth.ScopeWrite) {
		t.Errorf("an app token without scope: %+v %v", p, err)
	}
}

// TestNoLeeway: a zero Leeway is the default 30 s; NoLeeway allows none
// (JWT_LEEWAY=0).
func TestNoLeeway(t *testing.T) {
	clk := &clock{now: time.Now()}
	tok := token(t, "alice", clk.now.Add(-2*time.Second), "k")
	for _, c := range []struct {
		leeway time.Duration
		ok     bool
	}{{0, true}, {jwtauth.NoLeeway, false}, {time.Second, false}} {
		v := jwtauth.New(jwtauth.Config{Name: "test", Methods: []string{"HS256"}, Leeway: c.leeway, Now: clk.Now, Keyfunc: (&counting{}).keyfunc, CacheSize: -1})
		if _, err := v.Verify(context.Background(), tok); (err == nil) != c.ok {
			t.Errorf("leeway %v, a token expired 2 s ago: %v", c.leeway, err)
		}
	}
}
