package hs256_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/authtest"
	"github.com/taskbolt/taskbolt/auth/hs256"
)

var secret = []byte("a-test-secret-that-is-at-least-32-bytes-long")

func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned builds a token from raw header and payload JSON with an arbitrary
// signature part, for tokens no library would sign.
func unsigned(header, payload, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + sig
}

func valid(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"sub": "user-1", "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix()}
}

var with = authtest.With

func TestVerify(t *testing.T) {
	v, err := hs256.New(hs256.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, secret, valid(now))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","exp":9999999999}`)) + "." + parts[2]
	sigBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sigBytes[0] ^= 0xff
	flipped := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sigBytes)

	cases := []struct {
		name  string
		token string
		want  error // nil means accepted as user-1
	}{
		{"OK", good, nil},
		{"OK/WithIssAndAudNotConfigured", sign(t, jwt.SigningMethodHS256, secret, with(with(valid(now), "iss", "http://localhost:3000"), "aud", "http://localhost:3000")), nil},
		{"OK/ExpiredWithinLeeway", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "exp", now.Add(-10*time.Second).Unix())), nil},
		{"ErrExpired", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "exp", now.Add(-time.Minute).Unix())), auth.ErrTokenExpired},
		{"ErrNbfInFuture", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "nbf", now.Add(time.Hour).Unix())), auth.ErrInvalidToken},
		{"ErrIatInFuture", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "iat", now.Add(time.Hour).Unix())), auth.ErrInvalidToken},
		{"ErrWrongSecret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!!"), valid(now)), auth.ErrInvalidToken},
		{"ErrAlgNone", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid(now)), auth.ErrInvalidToken},
		{"ErrAlgNoneCapitalised", unsigned(`{"alg":"None","typ":"JWT"}`, `{"sub":"user-1","exp":9999999999}`, ""), auth.ErrInvalidToken},
		{"ErrAlgNONE", unsigned(`{"alg":"NONE","typ":"JWT"}`, `{"sub":"user-1","exp":9999999999}`, ""), auth.ErrInvalidToken},
		{"ErrAlgLowercaseHS256", unsigned(`{"alg":"hs256"}`, `{"sub":"user-1","exp":9999999999}`, parts[2]), auth.ErrInvalidToken},
		{"ErrHS512", sign(t, jwt.SigningMethodHS512, secret, valid(now)), auth.ErrInvalidToken},
		{"ErrRS256", sign(t, jwt.SigningMethodRS256, rsaKey, valid(now)), auth.ErrInvalidToken},
		{"ErrMissingExp", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "exp", nil)), auth.ErrInvalidToken},
		{"ErrExpAsString", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "exp", "9999999999")), auth.ErrInvalidToken},
		{"ErrMissingSub", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "sub", nil)), auth.ErrInvalidToken},
		{"ErrEmptySub", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "sub", "")), auth.ErrInvalidToken},
		{"ErrNumericSub", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "sub", 42)), auth.ErrInvalidToken},
		{"ErrArraySub", sign(t, jwt.SigningMethodHS256, secret, with(valid(now), "sub", []string{"user-1"})), auth.ErrInvalidToken},
		{"ErrTamperedPayload", tampered, auth.ErrInvalidToken},
		{"ErrFlippedSignatureByte", flipped, auth.ErrInvalidToken},
		{"ErrStrippedSignature", parts[0] + "." + parts[1] + ".", auth.ErrInvalidToken},
		{"ErrGarbage", "not.a.jwt", auth.ErrInvalidToken},
		{"ErrEmpty", "", auth.ErrInvalidToken},
		{"ErrTwoParts", parts[0] + "." + parts[1], auth.ErrInvalidToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), c.token)
			if c.want == nil {
				if err != nil || p.UserID != "user-1" || p.Verifier != "hs256" {
					t.Fatalf("Verify = %+v, %v; want user-1", p, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.token != "" && strings.Contains(err.Error(), c.token) {
				t.Error("error message contains the token")
			}
		})
	}
}

func TestVerifyIssuerAndAudience(t *testing.T) {
	v, err := hs256.New(hs256.Config{Secret: secret, Issuer: "http://localhost:3000", Audience: "http://localhost:3000"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	base := with(with(valid(now), "iss", "http://localhost:3000"), "aud", "http://localhost:3000")
	cases := []struct {
		name   string
		claims jwt.MapClaims
		ok     bool
	}{
		{"OK", base, true},
		{"OK/AudAsArray", with(base, "aud", []string{"other", "http://localhost:3000"}), true},
		{"ErrWrongIssuer", with(base, "iss", "http://evil.example"), false},
		{"ErrMissingIssuer", with(base, "iss", nil), false},
		{"ErrWrongAudience", with(base, "aud", "http://localhost:3001"), false},
		{"ErrMissingAudience", with(base, "aud", nil), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, secret, c.claims))
			if c.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("x", hs256.MinSecretLen-1)} {
		if _, err := hs256.New(hs256.Config{Secret: []byte(s)}); !errors.Is(err, hs256.ErrWeakSecret) {
			t.Errorf("secret of %d bytes: err = %v, want ErrWeakSecret", len(s), err)
		}
	}
	if _, err := hs256.New(hs256.Config{Secret: []byte(strings.Repeat("x", hs256.MinSecretLen))}); err != nil {
		t.Errorf("a %d-byte secret: %v", hs256.MinSecretLen, err)
	}
}

// TestSecretIsUTF8BytesNotBase64 proves the key is the string itself, as
// Better Auth signs with TextEncoder().encode(secret).
func TestSecretIsUTF8BytesNotBase64(t *testing.T) {
	b64 := "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==" // base64 of a 36-byte string
	v, _ := hs256.New(hs256.Config{Secret: []byte(b64)})
	now := time.Now()
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, []byte(b64), valid(now))); err != nil {
		t.Errorf("token signed with the string's bytes: %v", err)
	}
	decoded, _ := base64.StdEncoding.DecodeString(b64)
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, decoded, valid(now))); err == nil {
		t.Error("token signed with the base64-decoded secret was accepted")
	}
}

func TestSignAndClaims(t *testing.T) {
	v, _ := hs256.New(hs256.Config{Secret: secret, Issuer: "iss", Audience: "aud"})
	tok, err := hs256.Sign(secret, hs256.Claims("demo", time.Hour, "iss", "aud", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(context.Background(), tok); err != nil || p.UserID != "demo" {
		t.Fatalf("Verify(minted) = %+v, %v", p, err)
	}
}

// BenchmarkVerify: Uncached is the full check every first request of a
// token pays; Cached is every later request with the same token.
func BenchmarkVerify(b *testing.B) {
	tok := sign(b, jwt.SigningMethodHS256, secret, jwt.MapClaims{
		"sub": "hV2pX0yq8wQm3nZr7tLk4sBc9dFg1jEa", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"iss": "http://localhost:3000", "aud": "http://localhost:3000", "email": "a@example.com", "name": "A",
	})
	ctx := context.Background()
	for name, size := range map[string]int{"Uncached": -1, "Cached": 0} {
		b.Run(name, func(b *testing.B) {
			v, _ := hs256.New(hs256.Config{Secret: secret, CacheSize: size})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	v, _ := hs256.New(hs256.Config{Secret: secret})
	now := time.Now()
	f.Add(sign(f, jwt.SigningMethodHS256, secret, valid(now)))
	f.Add(unsigned(`{"alg":"none"}`, `{"sub":"x","exp":1}`, ""))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err == nil && p.UserID == "" {
			t.Fatal("accepted with an empty user")
		}
		if err != nil && !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrTokenExpired) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

// TestPreviousSecrets: after a rotation, tokens of the earlier secrets still
// verify, and a secret no longer listed signs nothing that passes.
func TestPreviousSecrets(t *testing.T) {
	older := []byte("an-older-secret-that-is-at-least-32-bytes")
	removed := []byte("a-removed-secret-that-is-at-least-32-bytes")
	v, err := hs256.New(hs256.Config{Secret: secret, Previous: [][]byte{older}})
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	for name, key := range map[string][]byte{"Current": secret, "Older": older} {
		if p, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, key, claims)); err != nil || p.UserID != "alice" {
			t.Errorf("%s: %+v, %v", name, p, err)
		}
	}
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, removed, claims)); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("a removed secret: %v", err)
	}
	if _, err := hs256.New(hs256.Config{Secret: secret, Previous: [][]byte{[]byte("short")}}); !errors.Is(err, hs256.ErrWeakSecret) {
		t.Errorf("a weak previous secret: %v", err)
	}
}
