package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Dispatch is a Verifier that sends each token to the one verifier made for
// it, by looking at the token, not by trying each in turn:
//
//   - a JWT whose header says "alg":"HS256" goes to HS256;
//   - a JWT with any other alg in Asymmetric goes to JWKS;
//   - anything that is not a JWT (an opaque session token) goes to Session.
//
// A nil verifier is off: its tokens are invalid. A JWT with an alg in neither
// list (none, HS512, ...) is invalid without being parsed further.
type Dispatch struct {
	HS256      Verifier
	JWKS       Verifier
	Session    Verifier
	Asymmetric []string // the algs that go to JWKS
}

// Verify implements Verifier.
func (d Dispatch) Verify(ctx context.Context, token string) (Principal, error) {
	alg, isJWT := jwtAlg(token)
	var v Verifier
	kind := "session"
	switch {
	case !isJWT:
		v = d.Session
	case alg == "HS256":
		v, kind = d.HS256, "hs256"
	case slices.Contains(d.Asymmetric, alg):
		v, kind = d.JWKS, "jwks"
	default:
		return Principal{}, fmt.Errorf("%w: algorithm not accepted", ErrInvalidToken)
	}
	if v == nil {
		return Principal{}, &VerifyError{Verifier: kind, Err: fmt.Errorf("%w: a %s token, and the %s verifier is off", ErrInvalidToken, kind, kind)}
	}
	p, err := v.Verify(ctx, token)
	if err != nil {
		return Principal{}, &VerifyError{Verifier: kind, Err: err}
	}
	return p, nil
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
	for _, v := range []Verifier{d.HS256, d.JWKS, d.Session} {
		if r, ok := v.(Readier); ok {
			if err := r.Ready(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// jwtAlg reports whether token has the form of a JWS (three base64url parts
// whose first is a JSON object) and its alg. It does not verify anything.
func jwtAlg(token string) (alg string, ok bool) {
	if strings.Count(token, ".") != 2 {
		return "", false
	}
	header, _, _ := strings.Cut(token, ".")
	if len(header) > 2048 {
		return "", true // a JWT-shaped token with an absurd header: invalid, not a session token
	}
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return "", false
	}
	var h map[string]any
	if json.Unmarshal(raw, &h) != nil {
		return "", false
	}
	alg, _ = h["alg"].(string)
	return alg, true
}
