package jwks_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/authtest"
	"github.com/taskbolt/taskbolt/auth/jwks"
)

const origin = "http://localhost:3000"

func claims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		"iss": origin, "aud": origin, "email": "a@example.com", "name": "A"}
}

var with = authtest.With

func newVerifier(t *testing.T, cfg jwks.Config) *jwks.Verifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer, cfg.Audience = origin, origin
	}
	v, err := jwks.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func TestVerify(t *testing.T) {
	keys := map[string]authtest.Key{}
	var all []authtest.Key
	for _, alg := range jwks.Algorithms {
		k := authtest.NewKey(t, alg, "kid-"+alg)
		keys[alg] = k
		all = append(all, k)
	}
	srv := authtest.NewJWKSServer(t, all...)
	v := newVerifier(t, jwks.Config{URL: srv.URL})
	ed := keys["EdDSA"]
	stranger := authtest.NewKey(t, "EdDSA", "kid-EdDSA") // same kid, other key

	type tc struct {
		name  string
		token string
		want  error
	}
	var cases []tc
	for alg, k := range keys {
		cases = append(cases, tc{"OK/" + alg, k.Sign(t, claims("user-1")), nil})
	}
	hsWithPublicKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("user-1")).SignedString([]byte(ed.JWK()["x"]))
	noneToken, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims("user-1")).SignedString(jwt.UnsafeAllowNoneSignatureType)
	noKid := authtest.Key{Alg: "EdDSA", Private: ed.Private}
	unknownKid := authtest.Key{Kid: "kid-unknown", Alg: "EdDSA", Private: ed.Private}
	rsAsPS := authtest.Key{Kid: "kid-RS256", Alg: "PS256", Private: keys["RS256"].Private}
	cases = append(cases,
		tc{"ErrExpired", ed.Sign(t, with(claims("user-1"), "exp", time.Now().Add(-time.Hour).Unix())), auth.ErrTokenExpired},
		tc{"ErrWrongIssuer", ed.Sign(t, with(claims("user-1"), "iss", "http://evil.example")), auth.ErrInvalidToken},
		tc{"ErrWrongAudience", ed.Sign(t, with(claims("user-1"), "aud", "http://localhost:3001")), auth.ErrInvalidToken},
		tc{"ErrNoExp", ed.Sign(t, with(claims("user-1"), "exp", nil)), auth.ErrInvalidToken},
		tc{"ErrNoSub", ed.Sign(t, with(claims("user-1"), "sub", nil)), auth.ErrInvalidToken},
		tc{"ErrSignedByAnotherKeyWithTheSameKid", stranger.Sign(t, claims("user-1")), auth.ErrInvalidToken},
		tc{"ErrHS256WithThePublicKeyAsSecret", hsWithPublicKey, auth.ErrInvalidToken},
		tc{"ErrAlgNone", noneToken, auth.ErrInvalidToken},
		tc{"ErrNoKid", noKid.Sign(t, claims("user-1")), auth.ErrInvalidToken},
		tc{"ErrUnknownKid", unknownKid.Sign(t, claims("user-1")), auth.ErrInvalidToken},
		tc{"ErrAlgDiffersFromTheKeys", rsAsPS.Sign(t, claims("user-1")), auth.ErrInvalidToken},
		tc{"ErrGarbage", "a.b.c", auth.ErrInvalidToken},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), c.token)
			if c.want == nil {
				if err != nil || p.UserID != "user-1" || p.Verifier != "jwks" {
					t.Fatalf("Verify = %+v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	if err := v.Ready(context.Background()); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	ed, rs := authtest.NewKey(t, "EdDSA", "e"), authtest.NewKey(t, "RS256", "r")
	srv := authtest.NewJWKSServer(t, ed, rs)
	v := newVerifier(t, jwks.Config{URL: srv.URL, Algorithms: []string{"EdDSA"}})
	if _, err := v.Verify(context.Background(), ed.Sign(t, claims("u"))); err != nil {
		t.Errorf("EdDSA: %v", err)
	}
	if _, err := v.Verify(context.Background(), rs.Sign(t, claims("u"))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("RS256 when only EdDSA is allowed: %v", err)
	}
	for _, bad := range []string{"HS256", "none", "RS384"} {
		if _, err := jwks.New(jwks.Config{URL: srv.URL, Algorithms: []string{bad}}); err == nil {
			t.Errorf("algorithm %s was allowed", bad)
		}
	}
}

func TestRotationRefetchesOnUnknownKid(t *testing.T) {
	old, fresh := authtest.NewKey(t, "EdDSA", "old"), authtest.NewKey(t, "EdDSA", "new")
	srv := authtest.NewJWKSServer(t, old)
	v := newVerifier(t, jwks.Config{URL: srv.URL, RefreshInterval: time.Hour})
	if _, err := v.Verify(context.Background(), old.Sign(t, claims("u"))); err != nil {
		t.Fatal(err)
	}
	srv.SetKeys(old, fresh) // Better Auth minted a new key; the old one stays in its grace period
	if _, err := v.Verify(context.Background(), fresh.Sign(t, claims("u"))); err != nil {
		t.Fatalf("new kid after rotation: %v", err)
	}
	if _, err := v.Verify(context.Background(), old.Sign(t, claims("u"))); err != nil {
		t.Fatalf("old kid still published: %v", err)
	}
	srv.SetKeys(fresh) // the old key left the JWKS
	time.Sleep(1100 * time.Millisecond)
	newer := authtest.NewKey(t, "EdDSA", "newer")
	srv.SetKeys(fresh, newer)
	if _, err := v.Verify(context.Background(), newer.Sign(t, claims("u"))); err != nil {
		t.Fatalf("third kid: %v", err)
	}
	if _, err := v.Verify(context.Background(), old.Sign(t, claims("u"))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("kid that left the JWKS: %v", err)
	}
}

func TestUnknownKidRefetchesAreRateLimited(t *testing.T) {
	k := authtest.NewKey(t, "EdDSA", "k")
	srv := authtest.NewJWKSServer(t, k)
	v := newVerifier(t, jwks.Config{URL: srv.URL, RefreshInterval: time.Hour, RequestWait: 50 * time.Millisecond})
	before := srv.Fetches()
	start := time.Now()
	for i := range 50 {
		forged := authtest.Key{Kid: "forged-" + string(rune('a'+i%26)), Alg: "EdDSA", Private: k.Private}
		if _, err := v.Verify(context.Background(), forged.Sign(t, claims("u"))); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("forged kid: %v", err)
		}
	}
	elapsed := time.Since(start)
	if n := srv.Fetches() - before; n > int(elapsed/time.Second)+2 {
		t.Errorf("%d refetches in %v for 50 forged kids; want at most about one a second", n, elapsed)
	}
}

func TestUnreachableAtStartThenRecovers(t *testing.T) {
	k := authtest.NewKey(t, "EdDSA", "k")
	srv := authtest.NewJWKSServer(t, k)
	srv.SetHandler(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	v := newVerifier(t, jwks.Config{URL: srv.URL, RefreshInterval: time.Hour})
	if err := v.Ready(context.Background()); err == nil {
		t.Fatal("Ready with the JWKS down")
	}
	time.Sleep(1100 * time.Millisecond) // let the refetch limiter refill
	if _, err := v.Verify(context.Background(), k.Sign(t, claims("u"))); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("a token while the key set is unreachable: %v, want ErrUnavailable (503), not a 401", err)
	}
	srv.SetHandler(nil)
	time.Sleep(1100 * time.Millisecond)
	if _, err := v.Verify(context.Background(), k.Sign(t, claims("u"))); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if err := v.Ready(context.Background()); err != nil {
		t.Errorf("Ready after recovery: %v", err)
	}
}

func TestSlowJWKSNeverHoldsARequestLong(t *testing.T) {
	k := authtest.NewKey(t, "EdDSA", "k")
	srv := authtest.NewJWKSServer(t, k)
	v := newVerifier(t, jwks.Config{URL: srv.URL, RefreshInterval: time.Hour, RequestWait: 500 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	srv.SetHandler(func(http.ResponseWriter, *http.Request) { <-release })
	time.Sleep(1100 * time.Millisecond)
	other := authtest.Key{Kid: "new", Alg: "EdDSA", Private: k.Private}
	start := time.Now()
	_, err := v.Verify(context.Background(), other.Sign(t, claims("u")))
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Verify waited %v for a hanging JWKS", d)
	}
	if err == nil {
		t.Error("accepted a token whose key could not be fetched")
	}
	if _, err := v.Verify(context.Background(), k.Sign(t, claims("u"))); err != nil {
		t.Errorf("a known kid while the JWKS hangs: %v", err)
	}
}

func TestUserClaim(t *testing.T) {
	k := authtest.NewKey(t, "EdDSA", "k")
	srv := authtest.NewJWKSServer(t, k)
	v := newVerifier(t, jwks.Config{URL: srv.URL, UserClaim: "user.id"})
	p, err := v.Verify(context.Background(), k.Sign(t, with(claims("ignored"), "user", map[string]any{"id": "nested-user"})))
	if err != nil || p.UserID != "nested-user" {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	if _, err := v.Verify(context.Background(), k.Sign(t, with(claims("x"), "user", map[string]any{"id": 7}))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("non-string user claim: %v", err)
	}
}

// BenchmarkVerify: Uncached is the signature check every first request of
// a token pays; Cached is every later request with the same token.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		for name, size := range map[string]int{"Uncached": -1, "Cached": 0} {
			b.Run(alg+"/"+name, func(b *testing.B) {
				k := authtest.NewKey(b, alg, "k")
				srv := authtest.NewJWKSServer(b, k)
				v, err := jwks.New(jwks.Config{URL: srv.URL, Issuer: origin, Audience: origin, CacheSize: size})
				if err != nil {
					b.Fatal(err)
				}
				defer v.Close()
				tok := k.Sign(b, claims("hV2pX0yq8wQm3nZr7tLk4sBc9dFg1jEa"))
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
