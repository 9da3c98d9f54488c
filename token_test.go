package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskbolt/taskbolt/auth/hs256"
)

func TestTokenCommand(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"token", "--sub", "alice", "--ttl", "2h"}, baseEnv(t, "x.db"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	v, _ := hs256.New(hs256.Config{Secret: []byte(testSecret)})
	p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil || p.UserID != "alice" {
		t.Fatalf("minted token: %+v %v", p, err)
	}
	if err := run(context.Background(), []string{"token"}, baseEnv(t, "x.db"), io.Discard, io.Discard); exitCode(err) != 2 {
		t.Errorf("token without --sub: %v (exit %d), want a usage error", err, exitCode(err))
	}
}

func TestTokenClaims(t *testing.T) {
	out, _, err := runCmd(t, baseEnv(t, "x.db"), "token", "--sub", "alice", "--claim", "role=admin", "--claim", "n=3", "--ttl", "5m")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(out), claims); err != nil {
		t.Fatal(err)
	}
	if claims["role"] != "admin" || claims["n"] != 3.0 || claims["sub"] != "alice" {
		t.Errorf("claims = %v", claims)
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d < 4*time.Minute || d > 6*time.Minute {
		t.Errorf("exp in %v, want 5m", d)
	}
	if _, _, err := runCmd(t, baseEnv(t, "x.db"), "token", "--sub", "alice", "--ttl", "48h"); exitCode(err) != 2 {
		t.Errorf("--ttl over JWT_MAX_LIFETIME: %v", err)
	}
}
