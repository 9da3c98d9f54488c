package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Token is what a route sees of a token: read once, verified by nobody yet.
type Token struct {
	Raw   string
	IsJWT bool   // three base64url parts whose first is a JSON object
	Alg   string // a JWT's header alg
	Typ   string // a JWT's header typ
}

// ReadToken looks at a token's form without verifying anything.
func ReadToken(raw string) Token {
	h, isJWT := jwtHeader(raw)
	return Token{Raw: raw, IsJWT: isJWT, Alg: h.alg, Typ: h.typ}
}

// IsAccessTokenType reports whether a JWT header typ marks an OAuth 2.0
// access token (RFC 9068: "at+jwt", or its media type; case-insensitive).
func IsAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// AccessTokens matches OAuth access tokens (typ at+jwt) signed with one of
// algs.
func AccessTokens(algs ...string) func(Token) bool {
	return func(t Token) bool { return t.IsJWT && slices.Contains(algs, t.Alg) && IsAccessTokenType(t.Typ) }
}

// Route sends the tokens Match accepts to Verifier. A nil Verifier is a
// verifier that is off: the tokens it would have taken are invalid.
type Route struct {
	Name     string // for logs and metrics: "hs256", "jwks", "session"
	Match    func(Token) bool
	Verifier Verifier
}

// JWTAlgs matches JWTs whose header alg is one of algs.
func JWTAlgs(algs ...string) func(Token) bool {
	return func(t Token) bool { return t.IsJWT && slices.Contains(algs, t.Alg) }
}

// Opaque matches tokens that are not JWTs (opaque session tokens).
func Opaque(t Token) bool { return !t.IsJWT }

// Dispatch is a Verifier that sends each token to the one verifier made for
// it, by looking at the token, not by trying each in turn: the first route
// whose Match takes it decides. A JWT no route takes (alg none, HS512, ...)
// is invalid without being parsed further. The registry in package main
// builds the routes, one per known verifier, so a new verifier is one
// package and one registry entry.
type Dispatch struct {
	Routes []Route
}

// Verify implements Verifier.
func (d Dispatch) Verify(ctx context.Context, token string) (Principal, error) {
	t := ReadToken(token)
	for _, r := range d.Routes {
		if !r.Match(t) {
			continue
		}
		if r.Verifier == nil {
			return Principal{}, &VerifyError{Verifier: r.Name, Err: fmt.Errorf("%w: a %s token, and the %s verifier is off", ErrInvalidToken, r.Name, r.Name)}
		}
		p, err := r.Verifier.Verify(ctx, token)
		if err != nil {
			return Principal{}, &VerifyError{Verifier: r.Name, Err: err}
		}
		return p, nil
	}
	if t.IsJWT {
		return Principal{}, fmt.Errorf("%w: algorithm not accepted", ErrInvalidToken)
	}
	return Principal{}, fmt.Errorf("%w: no verifier takes this kind of token", ErrInvalidToken)
}

// VerifyError names the verifier that refused a token, for logs and metrics.
type VerifyError struct {
	Verifier string
	Err      error
}

func (e *VerifyError) Error() string { return e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

// VerifierOf names the verifier behind err, or "" when none decided.
func VerifierOf(err error) string {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Verifier
	}
	return ""
}

// Ready reports the readiness of every verifier that can tell.
func (d Dispatch) Ready(ctx context.Context) error {
	for _, route := range d.Routes {
		if r, ok := route.Verifier.(Readier); ok {
			if err := r.Ready(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// header is what routing reads of a JWT header.
type header struct{ alg, typ string }

// jwtHeader reports whether token has the form of a JWS (three base64url
// parts whose first is a JSON object) and its alg and typ. It does not
// verify anything.
func jwtHeader(token string) (h header, ok bool) {
	if strings.Count(token, ".") != 2 {
		return header{}, false
	}
	raw, _, _ := strings.Cut(token, ".")
	if len(raw) > 2048 {
		return header{}, true // a JWT-shaped token with an absurd header: invalid, not a session token
	}
	if h, ok := knownHeaders.Load(raw); ok {
		return h.(header), true
	}
	h, ok = decodeHeader(raw)
	if ok && knownHeaderCount.Add(1) <= maxKnownHeaders {
		knownHeaders.Store(raw, h)
	}
	return h, ok
}

// knownHeaders remembers the alg of JWT headers already decoded: every token
// of a deployment carries one of a handful of headers, and decoding the JSON
// cost more than the rest of reading a token. Only the first maxKnownHeaders
// are kept, so forged headers cannot grow it.
var (
	knownHeaders     sync.Map // base64url header → header
	knownHeaderCount atomic.Int64
)

const maxKnownHeaders = 64

func decodeHeader(encoded string) (header, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return header{}, false
	}
	var h map[string]any
	if json.Unmarshal(raw, &h) != nil {
		return header{}, false
	}
	var out header
	out.alg, _ = h["alg"].(string)
	out.typ, _ = h["typ"].(string)
	return out, true
}
