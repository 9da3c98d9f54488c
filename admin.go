package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// adminClient talks to a running server's /admin routes: how backup,
// export and import work while a server holds the database.
type adminClient struct {
	url   string // the server's base URL
	token string // ADMIN_TOKEN
	// why names the command, for the message that asks for a token.
	why string
}

// serverFlag defines a command's --url flag and returns what makes the
// client of the server it names (or this host's, from HOST and PORT).
func serverFlag(fs *flag.FlagSet, why string) func(cfg config) adminClient {
	url := fs.String("url", "", "the running server, when it holds the database (default http://127.0.0.1:$PORT); needs ADMIN_TOKEN")
	return func(cfg config) adminClient {
		return adminClient{url: cmp.Or(*url, localURL(cfg)), token: cfg.AdminToken, why: why}
	}
}

// do sends one request and returns the response when it is a 2xx; any other
// status is an error that says what the server answered.
func (a adminClient) do(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	if a.token == "" {
		return nil, fmt.Errorf("the database is held by a running server; set ADMIN_TOKEN (the server's) to %s through %s/admin", a.why, a.url)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.url, "/")+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the database is held by a server, which did not answer at %s: %w", a.url, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var problem struct {
		Detail any `json:"detail"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := resp.Status
	if json.Unmarshal(b, &problem) == nil && problem.Detail != nil {
		msg += ": " + fmt.Sprint(problem.Detail)
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		msg += " (a server started without ADMIN_TOKEN has no /admin routes)"
	case http.StatusUnauthorized:
		msg += " (ADMIN_TOKEN is not the server's)"
	}
	return nil, fmt.Errorf("%s %s%s answered %s", method, a.url, path, msg)
}
