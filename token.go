package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/taskbolt/taskbolt/auth/hs256"
	"github.com/taskbolt/taskbolt/store"
)

// claimFlags collects repeated --claim k=v; a value that is valid JSON is
// used as JSON (numbers, booleans, objects), anything else as a string.
type claimFlags map[string]any

func (c claimFlags) String() string { return "" }
func (c claimFlags) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	var parsed any
	if json.Unmarshal([]byte(v), &parsed) == nil {
		c[k] = parsed
	} else {
		c[k] = v
	}
	return nil
}

func token(_ context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("token", stderr)
	sub := fs.String("sub", "", "the user id to put in the token's sub claim (required)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid (at most JWT_MAX_LIFETIME)")
	extra := claimFlags{}
	fs.Var(extra, "claim", "an extra claim, key=value (repeatable; JSON values allowed)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if !store.ValidUserID(*sub) {
		return usageError{errors.New("token: --sub must be 1-128 visible ASCII characters without '/'")}
	}
	cfg, _, err := loadConfig(environ)
	if err != nil {
		return err
	}
	if *ttl <= 0 || *ttl > cfg.JWTMaxLifetime {
		return usageError{fmt.Errorf("token: --ttl must be positive and at most JWT_MAX_LIFETIME (%v), or taskbolt refuses the token", cfg.JWTMaxLifetime)}
	}
	if len(cfg.Secret) < hs256.MinSecretLen {
		return secretError(cfg.Secret)
	}
	claims := hs256.Claims(*sub, *ttl, cfg.JWTIssuer, cfg.JWTAudience, time.Now())
	for k, v := range extra {
		claims[k] = v
	}
	tok, err := hs256.Sign([]byte(cfg.Secret), claims)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
