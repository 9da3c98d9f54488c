package main

// The forged-token corpus: every attack of the hostile-input issue, sent as
// a real request to the real server with both JWT verifiers on. Each must get
// the contract's 401, and no token may reach the log.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth/authtest"
	"github.com/taskbolt/taskbolt/auth/hs256"
)

func rawToken(header, payload string, sig []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + enc(sig)
}

// hsRaw signs raw header and payload JSON with HS256 and key, so that the
// only thing wrong with the token is what the test put in it.
func hsRaw(t *testing.T, key []byte, header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	signing := enc([]byte(header)) + "." + enc([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc(sig)
}

func TestForgedTokens(t *testing.T) {
	const user = "user-1"
	const origin = "http://localhost:3000"
	key := authtest.NewKey(t, "EdDSA", "good-kid")
	rsa := authtest.NewKey(t, "RS256", "rsa-kid")
	jwksSrv := authtest.NewJWKSServer(t, key, rsa)
	var attackerHits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { attackerHits.Add(1) }))
	defer attacker.Close()

	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db"), "BETTER_AUTH_JWKS_URL="+jwksSrv.URL,
		"JWT_ISSUER="+origin, "JWT_AUDIENCE="+origin, "LOG_LEVEL=debug"))
	now := time.Now()
	claims := func(mod map[string]any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": user, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "iss": origin, "aud": origin}
		for k, v := range mod {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	payload := func(mod map[string]any) string { b, _ := json.Marshal(claims(mod)); return string(b) }
	hs := func(mod map[string]any) string {
		tok, _ := hs256.Sign([]byte(testSecret), claims(mod))
		return tok
	}
	good := hs(nil)
	goodParts := strings.Split(good, ".")
	edGood := key.Sign(t, claims(nil))
	attackerKey := authtest.NewKey(t, "EdDSA", "attacker-kid")
	attackerJWK, _ := json.Marshal(attackerKey.JWK())
	signedByAttacker := func(extraHeader string) string {
		enc := base64.RawURLEncoding.EncodeToString
		h := `{"alg":"EdDSA","kid":"good-kid",` + extraHeader + `}`
		signing := enc([]byte(h)) + "." + enc([]byte(payload(nil)))
		sig, _ := jwt.SigningMethodEdDSA.Sign(signing, attackerKey.Private)
		return signing + "." + enc(sig)
	}
	flipped := func(tok string) string {
		p := strings.Split(tok, ".")
		sig, _ := base64.RawURLEncoding.DecodeString(p[2])
		sig[len(sig)/2] ^= 0x01
		return p[0] + "." + p[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}

	// Sanity: the same server accepts the honest tokens.
	for _, ok := range []string{good, edGood, rsa.Sign(t, claims(nil))} {
		if code, body := call(t, "GET", s.url+"/api/"+user+"/tasks", ok, ""); code != 200 {
			t.Fatalf("an honest token was refused: %d %s", code, body)
		}
	}

	vectors := map[string]string{
		"alg none":                         rawToken(`{"alg":"none","typ":"JWT"}`, payload(nil), nil),
		"alg None":                         rawToken(`{"alg":"None","typ":"JWT"}`, payload(nil), nil),
		"alg NONE":                         rawToken(`{"alg":"NONE","typ":"JWT"}`, payload(nil), nil),
		"alg nOnE with a signature":        rawToken(`{"alg":"nOnE"}`, payload(nil), []byte("sig")),
		"empty signature":                  goodParts[0] + "." + goodParts[1] + ".",
		"stripped signature (two parts)":   goodParts[0] + "." + goodParts[1],
		"flipped signature byte (HS256)":   flipped(good),
		"flipped signature byte (EdDSA)":   flipped(edGood),
		"HS256 keyed with the Ed25519 x":   hsRaw(t, []byte(key.JWK()["x"]), `{"alg":"HS256","kid":"good-kid"}`, payload(nil)),
		"HS256 keyed with the JWK JSON":    hsRaw(t, []byte(`{"crv":"Ed25519","kty":"OKP","x":"`+key.JWK()["x"]+`"}`), `{"alg":"HS256","kid":"good-kid"}`, payload(nil)),
		"HS256 keyed with the RSA modulus": hsRaw(t, []byte(rsa.JWK()["n"]), `{"alg":"HS256","kid":"rsa-kid"}`, payload(nil)),
		"HS512 with the secret": func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claims(nil)).SignedString([]byte(testSecret))
			return s
		}(),
		"RS384 (not allowed)": func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodRS384, claims(nil)).SignedString(rsa.Private)
			return s
		}(),
		"kid path traversal":       authtest.Key{Kid: "../../../../etc/passwd", Alg: "EdDSA", Private: key.Private}.Sign(t, claims(nil)),
		"kid SQL":                  authtest.Key{Kid: "' OR '1'='1' --", Alg: "EdDSA", Private: key.Private}.Sign(t, claims(nil)),
		"kid of 10 KB":             authtest.Key{Kid: strings.Repeat("k", 10<<10), Alg: "EdDSA", Private: key.Private}.Sign(t, claims(nil)),
		"jku to the attacker":      signedByAttacker(`"jku":"` + attacker.URL + `/jwks"`),
		"x5u to the attacker":      signedByAttacker(`"x5u":"` + attacker.URL + `/cert"`),
		"embedded jwk":             signedByAttacker(`"jwk":` + string(attackerJWK)),
		"embedded x5c":             signedByAttacker(`"x5c":["MIIB"]`),
		"crit header":              hsRaw(t, []byte(testSecret), `{"alg":"HS256","crit":["exp"]}`, payload(nil)),
		"duplicate alg in header":  hsRaw(t, []byte(testSecret), `{"alg":"none","alg":"HS256"}`, payload(nil)),
		"duplicate sub in payload": hsRaw(t, []byte(testSecret), `{"alg":"HS256"}`, `{"sub":"someone-else","sub":"user-1","exp":`+jsonInt(now.Add(time.Minute).Unix())+`,"iss":"`+origin+`","aud":"`+origin+`"}`),
		"exp as a string":          hs(map[string]any{"exp": jsonInt(now.Add(time.Minute).Unix())}),
		"exp as a float":           hsRaw(t, []byte(testSecret), `{"alg":"HS256"}`, `{"sub":"user-1","exp":`+jsonInt(now.Add(time.Minute).Unix())+`.5,"iss":"`+origin+`","aud":"`+origin+`"}`),
		"exp negative":             hs(map[string]any{"exp": -1}),
		"exp in the far future":    hs(map[string]any{"exp": now.Add(10 * 365 * 24 * time.Hour).Unix()}),
		"exp 1e300":                hsRaw(t, []byte(testSecret), `{"alg":"HS256"}`, `{"sub":"user-1","exp":1e300,"iss":"`+origin+`","aud":"`+origin+`"}`),
		"exp null":                 hs(map[string]any{"exp": nil}),
		"no exp":                   hsRaw(t, []byte(testSecret), `{"alg":"HS256"}`, `{"sub":"user-1","iss":"`+origin+`","aud":"`+origin+`"}`),
		"nbf in the future":        hs(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()}),
		"iat in the future":        hs(map[string]any{"iat": now.Add(5 * time.Minute).Unix()}),
		"iss mismatch":             hs(map[string]any{"iss": "http://evil.example"}),
		"aud mismatch":             hs(map[string]any{"aud": "http://evil.example"}),
		"iss mismatch (EdDSA)":     key.Sign(t, claims(map[string]any{"iss": "http://evil.example"})),
		"sub a number":             hs(map[string]any{"sub": 1}),
		"sub an array":             hs(map[string]any{"sub": []string{user}}),
		"sub empty":                hs(map[string]any{"sub": ""}),
		"sub whitespace":           hs(map[string]any{"sub": " "}),
		"sub over 128 bytes":       hs(map[string]any{"sub": strings.Repeat("u", 129)}),
		"sub with a slash":         hs(map[string]any{"sub": "user-1/../user-2"}),
		"token over 8 KiB":         hs(map[string]any{"pad": strings.Repeat("p", 9<<10)}),
		"wrong secret": func() string {
			s, _ := hs256.Sign([]byte("another-secret-with-more-than-32-bytes"), claims(nil))
			return s
		}(),
		"EdDSA token, unknown key": authtest.NewKey(t, "EdDSA", "good-kid").Sign(t, claims(nil)),
		"garbage":                  "garbage",
		"three dots":               "...",
		"base64 junk":              "e30.e30.e30",
	}
	for name, tok := range vectors {
		t.Run(name, func(t *testing.T) {
			code, body := call(t, "GET", s.url+"/api/"+user+"/tasks", tok, "")
			if code != 401 || (body != `{"detail":"Invalid token"}` && body != `{"detail":"Token has expired"}`) {
				t.Fatalf("%d %s", code, body)
			}
		})
	}
	t.Logf("%d forged-token vectors, each refused with 401", len(vectors))
	if n := attackerHits.Load(); n != 0 {
		t.Errorf("the server fetched from a URL in a token header %d times", n)
	}
	logs := s.logs.String()
	for name, tok := range vectors {
		if len(tok) > 20 && strings.Contains(logs, tok) {
			t.Errorf("the %s token was written to the log", name)
		}
	}
	for _, secretPart := range []string{goodParts[1], testSecret} {
		if strings.Contains(logs, secretPart) {
			t.Error("claims or the secret were written to the log")
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
