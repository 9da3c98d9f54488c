// Package authtest mints keys, JWKS documents and tokens for verifier tests.
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Key is a signing key with its kid and JWT algorithm.
type Key struct {
	Kid     string
	Alg     string
	Private crypto.Signer
}

// NewKey generates a key for alg: EdDSA, ES256, ES512, RS256 or PS256.
func NewKey(tb testing.TB, alg, kid string) Key {
	tb.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES512":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RS256", "PS256":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		tb.Fatalf("authtest: no key for %s", alg)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return Key{Kid: kid, Alg: alg, Private: k}
}

// Sign signs claims with the key, with its kid and alg in the header.
func (k Key) Sign(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	return k.SignWithHeader(tb, nil, claims)
}

// SignWithHeader is Sign with more header fields (typ "at+jwt" for an OAuth
// access token).
func (k Key) SignWithHeader(tb testing.TB, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), claims)
	if k.Kid != "" {
		t.Header["kid"] = k.Kid
	}
	for name, v := range header {
		t.Header[name] = v
	}
	s, err := t.SignedString(k.Private)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// JWK is the public key as Better Auth publishes it: kty, alg, kid, no use.
func (k Key) JWK() map[string]string {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	m := map[string]string{"alg": k.Alg, "kid": k.Kid}
	switch pub := k.Private.Public().(type) {
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(pub)
	case *ecdsa.PublicKey:
		// Bytes is the uncompressed point 0x04 || X || Y, each coordinate padded.
		point, err := pub.Bytes()
		if err != nil {
			panic(err)
		}
		size := (len(point) - 1) / 2
		m["kty"], m["crv"] = "EC", pub.Curve.Params().Name
		m["x"], m["y"] = b64(point[1:1+size]), b64(point[1+size:])
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	}
	return m
}

// JWKSServer serves a key set that a test can change, and counts fetches.
type JWKSServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []Key
	fetches int
	// Handler, when set, answers instead (to simulate failures).
	Handler http.HandlerFunc
}

// NewJWKSServer serves keys until the test ends.
func NewJWKSServer(tb testing.TB, keys ...Key) *JWKSServer {
	s := &JWKSServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.fetches++
		h := s.Handler
		doc := map[string]any{"keys": s.jwks()}
		s.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *JWKSServer) jwks() []map[string]string {
	out := []map[string]string{}
	for _, k := range s.keys {
		out = append(out, k.JWK())
	}
	return out
}

// SetKeys replaces the published keys.
func (s *JWKSServer) SetKeys(keys ...Key) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

// SetHandler makes the server answer with h (nil: serve the keys again).
func (s *JWKSServer) SetHandler(h http.HandlerFunc) {
	s.mu.Lock()
	s.Handler = h
	s.mu.Unlock()
}

// Fetches is how many times the key set was requested.
func (s *JWKSServer) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// With returns a copy of claims with k set to v, or removed when v is nil.
func With(claims jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for key, val := range claims {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}
