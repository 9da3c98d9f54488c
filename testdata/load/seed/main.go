// Command seed mints one HS256 token per load-test user and creates each
// user's tasks through the real HTTP API, then writes "user token" lines for
// the wrk script. Used by testdata/load/load.sh.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"taskbolt/auth/hs256"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8000", "server base URL")
	users := flag.Int("users", 100, "number of users")
	tasks := flag.Int("tasks", 20, "tasks per user")
	out := flag.String("out", "tokens.txt", "where to write the user/token lines")
	flag.Parse()
	secret := os.Getenv("BETTER_AUTH_SECRET")

	var lines strings.Builder
	var wg sync.WaitGroup
	errs := make(chan error, *users)
	sem := make(chan struct{}, 16)
	for u := range *users {
		user := fmt.Sprintf("loaduser%03dXXXXXXXXXXXXXXXXXXXXXXX", u)[:32] // Better Auth ids are 32 chars
		tok, err := hs256.Sign([]byte(secret), hs256.Claims(user, 2*time.Hour, "", "", time.Now()))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(&lines, "%s %s\n", user, tok)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for i := range *tasks {
				body := fmt.Sprintf(`{"title":"Task %d of %s","description":"seeded for the load test"}`, i+1, user)
				req, _ := http.NewRequest("POST", *url+"/api/"+user+"/tasks", bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("seed %s: status %d", user, resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, []byte(lines.String()), 0o600); err != nil {
		log.Fatal(err)
	}
}
