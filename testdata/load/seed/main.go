// Command seed mints one HS256 token per load-test user and creates each
// user's tasks through the real HTTP API, then writes "user token" lines for
// the wrk script. With -big N -export FILE it instead writes an export
// document with one user of N tasks of every kind (priorities, tags, due
// dates, completed or not) for `taskbolt import`, and that user's token line
// to -out. Used by testdata/load/load.sh.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/taskbolt/taskbolt/auth/hs256"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8000", "server base URL")
	users := flag.Int("users", 100, "number of users")
	tasks := flag.Int("tasks", 20, "tasks per user")
	out := flag.String("out", "tokens.txt", "where to write the user/token lines")
	prefix := flag.String("prefix", "loaduser", "user ids begin with this (another prefix: other users)")
	big := flag.Int("big", 0, "with -export: the number of tasks of the one big user")
	export := flag.String("export", "", "write an export document with one big user here, instead of seeding over HTTP")
	flag.Parse()
	secret := os.Getenv("BETTER_AUTH_SECRET")
	if *export != "" {
		writeBig(*export, *out, *big, secret)
		return
	}

	var lines strings.Builder
	var wg sync.WaitGroup
	errs := make(chan error, *users)
	sem := make(chan struct{}, 16)
	for u := range *users {
		user := fmt.Sprintf("%s%03dXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", *prefix, u)[:32] // Better Auth ids are 32 chars
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

// BigUser is the user of -big: 32 characters, like a Better Auth id.
const BigUser = "loadbigXXXXXXXXXXXXXXXXXXXXXXXXX"

func writeBig(export, out string, n int, secret string) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"buy", "milk", "call", "mum", "report", "taxes", "fix", "bike", "book", "dentist", "plan", "trip"}
	tags := []string{"home", "work", "errands", "health", "money", "garden", "kids", "car"}
	prios := []string{"none", "low", "medium", "high"}
	base := time.Now().UTC().Add(-time.Duration(n) * time.Second)
	var b strings.Builder
	fmt.Fprintf(&b, `{"format":"taskbolt-export","version":2,"users":[{"user_id":%q,"last_id":%d,"tasks":[`, BigUser, n)
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		ts := base.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000000Z")
		due := "null"
		if rng.IntN(10) < 7 {
			due = fmt.Sprintf("%q", time.Now().UTC().Add(time.Duration(rng.IntN(24*365)-24*180)*time.Hour).Format("2006-01-02T15:04:05.000000Z"))
		}
		fmt.Fprintf(&b, `{"id":%d,"title":"%s %s %d","description":"%s %s","completed":%t,"priority":%q,"tags":[%q],"due_date":%s,"created_at":%q,"updated_at":%q}`,
			i, words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(1000), words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			rng.IntN(2) == 0, prios[rng.IntN(4)], tags[rng.IntN(len(tags))], due, ts, ts)
	}
	b.WriteString("]}]}\n")
	if err := os.WriteFile(export, []byte(b.String()), 0o600); err != nil {
		log.Fatal(err)
	}
	tok, err := hs256.Sign([]byte(secret), hs256.Claims(BigUser, 2*time.Hour, "", "", time.Now()))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(out, []byte(BigUser+" "+tok+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
}
