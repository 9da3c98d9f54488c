package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunRefusesBadConfig(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"ErrNoSecret", []string{"PORT=0", "TASKBOLT_ENV_FILE=", "DATABASE_URL=" + db}, "openssl rand -base64 32"},
		{"ErrWeakSecret", []string{"BETTER_AUTH_SECRET=short", "PORT=0", "TASKBOLT_ENV_FILE=", "DATABASE_URL=" + db}, "at least 32"},
		{"ErrUnknownStore", baseEnv(t, "mysql://localhost/tasks"), `scheme "mysql" is not supported; known: bolt, postgres, postgresql`},
		{"ErrPoolSize", baseEnv(t, db, "DATABASE_POOL_SIZE=0"), "DATABASE_POOL_SIZE"},
		{"ErrLogFormat", baseEnv(t, db, "LOG_FORMAT=xml"), "LOG_FORMAT"},
		{"ErrLogLevel", baseEnv(t, db, "LOG_LEVEL=loud"), "LOG_LEVEL"},
		{"ErrPort", baseEnv(t, db, "PORT=70000"), "PORT"},
		{"ErrPortNotANumber", baseEnv(t, db, "PORT=eighty"), "PORT"},
		{"ErrHeartbeat", baseEnv(t, db, "EVENTS_HEARTBEAT=10ms"), "EVENTS_HEARTBEAT"},
		{"ErrSecretsNoVersion", baseEnv(t, db, "BETTER_AUTH_SECRETS="+testSecret), "entry 1 is not <version>:<secret>"},
		{"ErrSecretsBadVersion", baseEnv(t, db, "BETTER_AUTH_SECRETS=2:"+testSecret+",v1:"+testSecret+"x"), "entry 2: the version must be a non-negative integer"},
		{"ErrSecretsTwice", baseEnv(t, db, "BETTER_AUTH_SECRETS=1:"+testSecret+",1:"+testSecret+"x"), "version 1 appears twice"},
		{"ErrSecretsWeak", baseEnv(t, db, "BETTER_AUTH_SECRETS=2:"+testSecret+",1:short"), "the secret of version 1 is 5 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := run(ctx, nil, c.env, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), "short") || strings.Contains(err.Error(), testSecret) {
				t.Error("the error repeats the secret")
			}
		})
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused start created the database file")
	}
}

// TestVersionedSecrets: BETTER_AUTH_SECRETS as Better Auth reads it, the
// first entry current, the others and BETTER_AUTH_SECRET still verifying.
func TestVersionedSecrets(t *testing.T) {
	older, oldest := testSecret+"-older", testSecret+"-oldest"
	cfg, _, err := loadConfig([]string{"TASKBOLT_ENV_FILE=", "BETTER_AUTH_SECRET=" + oldest,
		"BETTER_AUTH_SECRETS= 3:" + testSecret + " , 2:" + older + ",1:" + oldest})
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.secretBytes()
	if cfg.Secret != testSecret || len(got) != 3 || string(got[1]) != older || string(got[2]) != oldest {
		t.Errorf("current %v, %d secrets: want the first entry current, then the others once each", cfg.Secret == testSecret, len(got))
	}
	cfg, _, err = loadConfig([]string{"TASKBOLT_ENV_FILE=", "BETTER_AUTH_SECRET=" + oldest, "BETTER_AUTH_SECRETS=2:" + testSecret})
	if err != nil || len(cfg.secretBytes()) != 2 || string(cfg.secretBytes()[1]) != oldest {
		t.Errorf("BETTER_AUTH_SECRET beside BETTER_AUTH_SECRETS must stay as the legacy fallback: %v", err)
	}
}

func TestEnvironmentWinsOverDotEnv(t *testing.T) {
	dir := t.TempDir()
	envPath := filepath.Join(dir, ".env")
	os.WriteFile(envPath, []byte("BETTER_AUTH_SECRET=dotenv-secret-that-is-long-enough-32b\nJWT_ISSUER=from-dotenv\n"), 0o600)
	env := []string{"TASKBOLT_ENV_FILE=" + envPath, "BETTER_AUTH_SECRET=" + testSecret}
	cfg, _, err := loadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Secret != testSecret || cfg.JWTIssuer != "from-dotenv" || cfg.Port != 8000 || cfg.DatabaseURL != "./taskbolt.db" {
		t.Errorf("config = port %d db %q iss %q; secret from env: %v", cfg.Port, cfg.DatabaseURL, cfg.JWTIssuer, cfg.Secret == testSecret)
	}
}
