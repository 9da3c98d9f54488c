package cookie

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth"
)

// payload is the part of Better Auth's cookie-cache payload we read:
// {"session":{…,"expiresAt"},"user":{…,"id"},"updatedAt","version"}.
type payload struct {
	Session struct {
		ExpiresAt time.Time `json:"expiresAt"`
	} `json:"session"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
}

// user is the payload's user, while its session has not expired.
func (p payload) user(now time.Time) (string, error) {
	if p.User.ID == "" {
		return "", fmt.Errorf("%w (%s): session_data names no user", auth.ErrInvalidToken, Name)
	}
	if !p.Session.ExpiresAt.IsZero() && !now.Before(p.Session.ExpiresAt) {
		return "", fmt.Errorf("%w (%s): the session in session_data has ended", auth.ErrTokenExpired, Name)
	}
	return p.User.ID, nil
}

// fromData returns the user of a session_data value, telling its format by
// its shape: five dot-separated parts are a JWE, three a JWS (HS256 for the
// jwt strategy, an asymmetric alg for the plugin's session-cache JWT), none
// the compact format.
func (v *Verifier) fromData(ctx context.Context, data string) (string, time.Time, error) {
	switch strings.Count(data, ".") {
	case 4:
		return v.fromJWE(data)
	case 2:
		t := auth.ReadToken(data)
		switch {
		case !t.IsJWT:
		case t.Alg == "HS256":
			return v.fromJWT(data)
		case v.cfg.CacheJWT != nil:
			p, err := v.cfg.CacheJWT.Verify(ctx, data)
			return p.UserID, p.Expires, err
		}
	case 0:
		return v.fromCompact(data)
	}
	return "", time.Time{}, fmt.Errorf("%w (%s): session_data of an unknown format", auth.ErrInvalidToken, Name)
}

// fromCompact checks the compact strategy:
// base64url({"session":P,"expiresAt":ms,"signature":S}), where S is the
// base64url HMAC-SHA256 of JSON.stringify({...P, expiresAt}). P's raw bytes
// are what JSON.stringify made, so the signed text is P with expiresAt
// appended before its closing brace.
func (v *Verifier) fromCompact(data string) (string, time.Time, error) {
	invalid := fmt.Errorf("%w (%s): session_data is not a signed compact cache", auth.ErrInvalidToken, Name)
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil {
		return "", time.Time{}, invalid
	}
	var c struct {
		Session   json.RawMessage `json:"session"`
		ExpiresAt json.Number     `json:"expiresAt"`
		Signature string          `json:"signature"`
	}
	if json.Unmarshal(raw, &c) != nil || len(c.Session) < 2 || c.Session[0] != '{' || c.Signature == "" {
		return "", time.Time{}, invalid
	}
	expires, err := strconv.ParseInt(string(c.ExpiresAt), 10, 64)
	if err != nil {
		return "", time.Time{}, invalid
	}
	// A copy: appending to a slice of raw would overwrite c.Session.
	signed := append([]byte(nil), bytes.TrimSuffix(c.Session, []byte("}"))...)
	if len(bytes.TrimSpace(signed)) > 1 { // P had members: {…, "expiresAt":n}
		signed = append(signed, ',')
	}
	signed = append(append(append(signed, `"expiresAt":`...), c.ExpiresAt...), '}')
	if !v.hmacMatches(signed, c.Signature, base64.RawURLEncoding) {
		return "", time.Time{}, invalid
	}
	now := v.cfg.Now()
	if now.UnixMilli() >= expires {
		return "", time.Time{}, fmt.Errorf("%w (%s): session_data has expired", auth.ErrTokenExpired, Name)
	}
	var p payload
	if json.Unmarshal(c.Session, &p) != nil {
		return "", time.Time{}, invalid
	}
	user, err := p.user(now)
	return user, time.UnixMilli(expires), err
}

// hmacMatches reports whether sig is HMAC-SHA256(secret, msg) in enc for one
// of the secrets, compared in constant time.
func (v *Verifier) hmacMatches(msg []byte, sig string, enc *base64.Encoding) bool {
	for _, secret := range v.cfg.Secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write(msg)
		if hmac.Equal([]byte(enc.EncodeToString(mac.Sum(nil))), []byte(sig)) {
			return true
		}
	}
	return false
}

// jwtClaims are the jwt strategy's claims: the payload, iat and exp (no sub,
// iss or aud).
type jwtClaims struct {
	payload
	jwt.RegisteredClaims
}

// fromJWT checks the jwt strategy: an HS256 JWS with the secret.
func (v *Verifier) fromJWT(data string) (string, time.Time, error) {
	if len(v.cfg.Secrets) == 0 {
		return "", time.Time{}, fmt.Errorf("%w (%s): an HS256 session_data, and no secret to check it", auth.ErrInvalidToken, Name)
	}
	keys := jwt.VerificationKeySet{}
	for _, s := range v.cfg.Secrets {
		keys.Keys = append(keys.Keys, s)
	}
	var claims jwtClaims
	_, err := jwt.ParseWithClaims(data, &claims, func(*jwt.Token) (any, error) { return keys, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(v.cfg.Leeway), jwt.WithTimeFunc(v.cfg.Now))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "", time.Time{}, fmt.Errorf("%w (%s): session_data has expired", auth.ErrTokenExpired, Name)
	case err != nil:
		return "", time.Time{}, fmt.Errorf("%w (%s): session_data: %v", auth.ErrInvalidToken, Name, err)
	}
	user, err := claims.user(v.cfg.Now())
	return user, claims.ExpiresAt.Time, err
}

// The jwe strategy's key: HKDF-SHA256 of the secret, Better Auth's salt and
// info, 64 bytes for A256CBC-HS512.
const (
	jweSalt = "better-auth-session"
	jweInfo = "BetterAuth.js Generated Encryption Key"
)

func jweKey(secret []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, []byte(jweSalt), jweInfo, 64)
}

// fromJWE decrypts the jwe strategy: {"alg":"dir","enc":"A256CBC-HS512"}.
// (Better Auth lists A256GCM too, but hands it the same 64-byte key, which
// A256GCM cannot use, so no such cookie can be made; it is not accepted.)
func (v *Verifier) fromJWE(data string) (string, time.Time, error) {
	invalid := fmt.Errorf("%w (%s): session_data is not a JWE made with the secret", auth.ErrInvalidToken, Name)
	obj, err := jose.ParseEncryptedCompact(data, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256CBC_HS512})
	if err != nil {
		return "", time.Time{}, invalid
	}
	for _, key := range v.jweKeys {
		plain, err := obj.Decrypt(key)
		if err != nil {
			continue
		}
		var claims jwtClaims
		if json.Unmarshal(plain, &claims) != nil {
			return "", time.Time{}, invalid
		}
		// go-jose decrypts; the claims are checked as golang-jwt would.
		now := v.cfg.Now()
		if claims.ExpiresAt == nil {
			return "", time.Time{}, invalid
		}
		if !now.Before(claims.ExpiresAt.Add(v.cfg.Leeway)) {
			return "", time.Time{}, fmt.Errorf("%w (%s): session_data has expired", auth.ErrTokenExpired, Name)
		}
		user, err := claims.user(now)
		return user, claims.ExpiresAt.Time, err
	}
	return "", time.Time{}, invalid
}
