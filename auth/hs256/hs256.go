// Package hs256 verifies HS256 JWTs signed with the Better Auth secret, as
// issued by a jwt() plugin with a custom jwt.sign hook or by a Next.js route
// that signs {sub: user.id} itself (see BETTER_AUTH.md, mode 2).
package hs256

import (
	"context"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/jwtauth"
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
	// Previous are earlier secrets (BETTER_AUTH_SECRETS after the first, and
	// the legacy BETTER_AUTH_SECRET): tokens they signed still verify, so a
	// rotation signs no one out. Each at least MinSecretLen bytes.
	Previous [][]byte
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 30s.
	Leeway time.Duration
	// Issuer and Audience are checked only when set. Tokens that carry iss
	// or aud pass when they are not set.
	Issuer   string
	Audience string
	// UserClaim names the claim with the user id; default "sub".
	UserClaim string
	// MaxLifetime refuses tokens that expire further in the future; default 24h.
	MaxLifetime time.Duration
	// CacheSize bounds the cache of verified tokens (see jwtauth.Config).
	CacheSize int
}

// ErrWeakSecret means the secret is missing or shorter than MinSecretLen.
var ErrWeakSecret = fmt.Errorf("the secret must be at least %d bytes; make one with: openssl rand -base64 32", MinSecretLen)

// New returns an auth.Verifier for HS256 tokens, or ErrWeakSecret. The
// algorithm is pinned: never none, never another HMAC size, never a public key
// used as an HMAC secret.
func New(cfg Config) (auth.Verifier, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, ErrWeakSecret
	}
	var key any = append([]byte(nil), cfg.Secret...)
	if len(cfg.Previous) > 0 {
		keys := jwt.VerificationKeySet{Keys: []jwt.VerificationKey{key}}
		for _, p := range cfg.Previous {
			if len(p) < MinSecretLen {
				return nil, ErrWeakSecret
			}
			keys.Keys = append(keys.Keys, append([]byte(nil), p...))
		}
		key = keys
	}
	keyfunc := func(*jwt.Token) (any, error) { return key, nil }
	return jwtauth.New(jwtauth.Config{
		Name: Name, Methods: []string{"HS256"}, Leeway: cfg.Leeway,
		Issuer: cfg.Issuer, Audience: cfg.Audience, UserClaim: cfg.UserClaim, MaxLifetime: cfg.MaxLifetime,
		CacheSize: cfg.CacheSize,
		Keyfunc:   func(context.Context) jwt.Keyfunc { return keyfunc },
	}), nil
}

// Sign mints an HS256 token for claims with the secret. It is what the
// `taskbolt token` command and the tests use; production tokens come from
// the app's Better Auth.
func Sign(secret []byte, claims jwt.MapClaims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
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
