package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// healthcheck exits 0 when the server answers 200 on /healthz; for
// HEALTHCHECK in images that have no curl.
func healthcheck(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("healthcheck", stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	quiet := fs.Bool("quiet", false, "print nothing; the exit status says it all")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{fmt.Errorf("healthcheck: name at most one URL")}
	}
	fail := func(format string, a ...any) error {
		err := fmt.Errorf(format, a...)
		if !*quiet {
			fmt.Fprintln(stderr, "taskbolt healthcheck:", err)
		}
		return quietError{err}
	}
	var target string
	if len(pos) == 1 {
		if target, err = healthURL(pos[0]); err != nil {
			return fail("%v", err)
		}
	} else {
		cfg, _, err := loadConfig(environ)
		if err != nil {
			return fail("%v", err)
		}
		target = localURL(cfg) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fail("GET %s: %v", target, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fail("GET %s: no answer within %v: %v", target, *timeout, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail("GET %s answered %s", target, resp.Status)
	}
	return nil
}

// healthURL is the URL to check: a server's base URL (no path, or /) means
// its /healthz.
func healthURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http:// or https:// URL", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/healthz"
	}
	return u.String(), nil
}
