package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthcheckCommand(t *testing.T) {
	s := start(t, baseEnv(t, filepath.Join(t.TempDir(), "t.db")))
	for _, url := range []string{s.url + "/healthz", s.url, s.url + "/"} {
		if out, errOut, err := runCmd(t, nil, "healthcheck", url); err != nil || out != "" || errOut != "" {
			t.Errorf("healthy at %s: %v %q %q", url, err, out, errOut)
		}
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	for _, c := range []struct {
		name, url string
		want      []string // in the one line on stderr
	}{
		{"ErrStatus", down.URL, []string{"GET " + down.URL + "/healthz", "503 Service Unavailable"}},
		{"ErrUnreachable", "http://127.0.0.1:1/healthz", []string{"GET http://127.0.0.1:1/healthz", "no answer within 500ms"}},
		{"ErrNotAURL", "127.0.0.1:8000", []string{`"127.0.0.1:8000" is not an http:// or https:// URL`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, err := runCmd(t, nil, "healthcheck", "--timeout", "500ms", c.url)
			var quiet quietError
			if err == nil || exitCode(err) != 1 || !errorsAs(err, &quiet) {
				t.Errorf("err = %v (exit %d), want exit 1", err, exitCode(err))
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "taskbolt healthcheck: ") {
				t.Errorf("stderr = %q, want one line", errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr = %q, want it to say %q", errOut, w)
				}
			}
			_, errOut, err = runCmd(t, nil, "healthcheck", "--quiet", "--timeout", "500ms", c.url)
			if exitCode(err) != 1 || errOut != "" {
				t.Errorf("--quiet: exit %d, stderr %q", exitCode(err), errOut)
			}
		})
	}
}
