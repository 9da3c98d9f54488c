// Package session verifies opaque Better Auth session tokens (the bearer()
// plugin's "token" or "token.signature") by asking Better Auth who they
// belong to: GET {BETTER_AUTH_URL}/api/auth/get-session with the same
// Authorization header. Answers are cached per token for a short time, so a
// signed-out session stops working within CacheTTL.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/auth/tokencache"
)

// Name is the verifier's name in configuration and logs.
const Name = "session"

// Config configures a Verifier.
type Config struct {
	// URL is Better Auth's get-session endpoint. Required.
	URL string
	// CacheTTL is how long a valid session is trusted without asking again:
	// the longest a revoked session keeps working. Default 30s.
	CacheTTL time.Duration
	// NegativeTTL is how long an unknown token is remembered as unknown.
	// Default 5s.
	NegativeTTL time.Duration
	// Timeout bounds one call to Better Auth. Default 2s.
	Timeout time.Duration
	// MaxEntries bounds the cache; the least recently used entry goes first.
	// Default 10000.
	MaxEntries int
	// Credential is the header that carries a token to get-session. Default:
	// `Authorization: Bearer <token>` (the bearer() plugin); the cookie
	// verifier sends its session_token as a Cookie instead.
	Credential func(token string) (header, value string)
	// Client makes the calls. Default http.DefaultClient (Timeout applies).
	Client *http.Client
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// Verifier is an auth.Verifier and auth.Readier for session tokens.
type Verifier struct {
	cfg    Config
	cache  *tokencache.Cache[answer]
	flight singleflight.Group
}

// New returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.URL == "" {
		return nil, errors.New("session: no URL")
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 30 * time.Second
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Credential == nil {
		cfg.Credential = func(token string) (string, string) { return "Authorization", "Bearer " + token }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, cache: tokencache.New[answer](cfg.MaxEntries)}, nil
}

// answer is a cached verdict: a user, or none (an invalid token).
type answer struct {
	user    string
	expires time.Time // of the cache entry
	session time.Time // the session's own expiry
}

// Verify resolves the token through the cache or Better Auth. Better Auth
// being down, slow or failing is ErrUnavailable (503), never a 401 that would
// sign the user out; such failures are not cached.
func (v *Verifier) Verify(ctx context.Context, token string) (auth.Principal, error) {
	key := tokencache.Key(token)
	a, ok := v.cache.Get(key, v.cfg.Now())
	if !ok {
		res, err, _ := v.flight.Do(key, func() (any, error) { return v.ask(ctx, token) })
		if err != nil {
			return auth.Principal{}, err
		}
		a = res.(answer)
		v.cache.Put(key, a, a.expires)
	}
	if a.user == "" {
		return auth.Principal{}, fmt.Errorf("%w (%s): no such session", auth.ErrInvalidToken, Name)
	}
	return auth.Principal{UserID: a.user, Verifier: Name, Expires: a.session}, nil
}

// getSession is the part of Better Auth's get-session answer we read.
type getSession struct {
	Session struct {
		ExpiresAt time.Time `json:"expiresAt"`
	} `json:"session"`
	User struct {
		ID json.RawMessage `json:"id"`
	} `json:"user"`
}

func (v *Verifier) ask(ctx context.Context, token string) (answer, error) {
	// Shared by every request waiting on this token (singleflight): one
	// client going away must not fail the others.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.URL, nil)
	if err != nil {
		return answer{}, fmt.Errorf("%w (%s): %v", auth.ErrUnavailable, Name, err)
	}
	req.Header.Set(v.cfg.Credential(token))
	req.Header.Set("Accept", "application/json")
	resp, err := v.cfg.Client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%w (%s): get-session: %v", auth.ErrUnavailable, Name, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	now := v.cfg.Now()
	negative := answer{expires: now.Add(v.cfg.NegativeTTL)}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return negative, nil
	case resp.StatusCode != http.StatusOK:
		return answer{}, fmt.Errorf("%w (%s): get-session answered %s", auth.ErrUnavailable, Name, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, fmt.Errorf("%w (%s): get-session: %v", auth.ErrUnavailable, Name, err)
	}
	var s *getSession
	if err := json.Unmarshal(body, &s); err != nil {
		return answer{}, fmt.Errorf("%w (%s): get-session answered something that is not a session", auth.ErrUnavailable, Name)
	}
	var user string
	if s == nil || json.Unmarshal(s.User.ID, &user) != nil || user == "" {
		return negative, nil // null: no such session
	}
	expires := now.Add(v.cfg.CacheTTL)
	if !s.Session.ExpiresAt.IsZero() {
		if s.Session.ExpiresAt.Before(now) {
			return negative, nil
		}
		expires = minTime(expires, s.Session.ExpiresAt)
	}
	return answer{user: user, expires: expires, session: s.Session.ExpiresAt}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Ready reports whether Better Auth answers at all.
func (v *Verifier) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.URL, nil)
	if err != nil {
		return err
	}
	resp, err := v.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("session: get-session: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("session: get-session answered %s", resp.Status)
	}
	return nil
}

// Len is the number of cached answers.
func (v *Verifier) Len() int { return v.cache.Len() }
