// Package hs256 verifies HS256 JWTs signed with the Better Auth secret, as
// issued by a jwt() plugin with a custom jwt.sign hook or by a Next.js route
// that signs {sub: user.id} itself (see BETTER_AUTH.md, mode 2).
package hs256

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"taskbolt/auth"
)

// MinSecretLen is the shortest secret accepted: 32 bytes, what
// `openssl rand -base64 32` prints 44 characters of.
const MinSecretLen = 32

// Name is the verifier's name in configuration and logs.
const Name = "hs256"

// Config configures a Verifier.
type Config struct {
	// Secret is the HMAC key: the secret string's UTF-8 bytes, never
	// base64-decoded. At least MinSecretLen bytes.
	Secret []byte
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 30s.
	Leeway time.Duration
	// Issuer and Audience are checked only when set. Tokens that carry iss
	// or aud pass when they are not set.
	Issuer   string
	Audience string
}

// Verifier is an auth.Verifier for HS256 tokens.
type Verifier struct {
	parser *jwt.Parser
	key    []byte
}

var _ auth.Verifier = (*Verifier)(nil)

// ErrWeakSecret means the secret is missing or shorter than MinSecretLen.
var ErrWeakSecret = fmt.Errorf("the secret must be at least %d bytes; make one with: openssl rand -base64 32", MinSecretLen)

// New returns a Verifier, or ErrWeakSecret.
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, ErrWeakSecret
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"HS256"}), // pinned: never none, never another HMAC size
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Verifier{parser: jwt.NewParser(opts...), key: append([]byte(nil), cfg.Secret...)}, nil
}

// claims decodes only what is checked. A non-string sub, iss or aud, or a
// time that is not a JSON number, fails decoding.
type claims struct {
	Subject   string           `json:"sub"`
	Issuer    string           `json:"iss"`
	Audience  jwt.ClaimStrings `json:"aud"`
	ExpiresAt *numericDate     `json:"exp"`
	NotBefore *numericDate     `json:"nbf"`
	IssuedAt  *numericDate     `json:"iat"`
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.date(), nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.date(), nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.date(), nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

// numericDate is a JWT NumericDate that must be a JSON number: jwt's own type
// also takes a numeric string, which RFC 7519 does not allow.
type numericDate struct{ jwt.NumericDate }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return errors.New("a time claim is not a JSON number")
	}
	return d.NumericDate.UnmarshalJSON(b)
}

func (d *numericDate) date() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &d.NumericDate
}

func (v *Verifier) keyFunc(*jwt.Token) (any, error) { return v.key, nil }

// Verify checks signature, algorithm, exp (required), nbf, iat, and iss/aud
// when configured, and returns the token's sub as the user.
func (v *Verifier) Verify(_ context.Context, token string) (auth.Principal, error) {
	var c claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyFunc); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return auth.Principal{}, fmt.Errorf("%w (%s)", auth.ErrTokenExpired, Name)
		}
		return auth.Principal{}, fmt.Errorf("%w (%s): %s", auth.ErrInvalidToken, Name, reason(err))
	}
	if c.Subject == "" {
		return auth.Principal{}, fmt.Errorf("%w (%s): no sub", auth.ErrInvalidToken, Name)
	}
	return auth.Principal{UserID: c.Subject, Verifier: Name}, nil
}

// reason names what failed without quoting any part of the token.
func reason(err error) string {
	for _, known := range []error{
		jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer,
		jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidClaims,
	} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	return "invalid"
}

// Sign mints an HS256 token for claims with the secret. It is what the
// `taskbolt token` command and the tests use; production tokens come from
// the app's Better Auth.
func Sign(secret []byte, claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	return t.SignedString(secret)
}

// Claims returns the claims of a token for sub that expires after ttl, with
// iss and aud when they are not empty, the way Better Auth's jwt plugin
// shapes them.
func Claims(sub string, ttl time.Duration, issuer, audience string, now time.Time) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	if issuer != "" {
		c["iss"] = issuer
	}
	if audience != "" {
		c["aud"] = audience
	}
	return c
}
