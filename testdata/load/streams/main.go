// Command streams measures event streams against a running taskbolt: it
// opens USERS x PER streams, reports the server's RSS before and after
// (idle growth per stream), then creates tasks at RATE per second for
// DURATION and reports the time from each create's request to its event's
// arrival on every stream of its user (p50, p99), and the create rate.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskbolt/taskbolt/auth/hs256"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8000", "server")
	users := flag.Int("users", 100, "users")
	per := flag.Int("per", 10, "streams per user")
	rate := flag.Int("rate", 1000, "creates per second (0: only hold the streams open for -duration)")
	duration := flag.Duration("duration", 10*time.Second, "how long to create")
	pid := flag.Int("pid", 0, "the server's pid, for its RSS")
	prefix := flag.String("prefix", "loaduser", "user ids as testdata/load/seed makes them")
	flag.Parse()
	secret := []byte(os.Getenv("BETTER_AUTH_SECRET"))
	token := func(u string) string {
		t, err := hs256.Sign(secret, hs256.Claims(u, time.Hour, "", "", time.Now()))
		if err != nil {
			panic(err)
		}
		return t
	}
	rss := func() int {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", *pid))
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				n, _ := strconv.Atoi(strings.Fields(v)[0])
				return n
			}
		}
		return 0
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
	before := rss()
	// sent[user][title] = when its create was sent
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	var received atomic.Int64
	var open sync.WaitGroup
	for u := range *users {
		user := userID(*prefix, u)
		tok := token(user)
		for range *per {
			req, _ := http.NewRequest("GET", *url+"/api/"+user+"/events", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				fmt.Fprintln(os.Stderr, "subscribe:", err, resp)
				os.Exit(1)
			}
			open.Add(1)
			go func() {
				r := bufio.NewScanner(resp.Body)
				for r.Scan() {
					line := r.Text()
					if !strings.HasPrefix(line, "data: ") {
						continue
					}
					i := strings.Index(line, `"title":"`)
					if i < 0 {
						continue
					}
					title := line[i+9:]
					title = title[:strings.IndexByte(title, '"')]
					now := time.Now()
					mu.Lock()
					if t, ok := sent[title]; ok {
						lat = append(lat, now.Sub(t))
					}
					mu.Unlock()
					received.Add(1)
				}
			}()
		}
	}
	time.Sleep(2 * time.Second)
	after := rss()
	fmt.Printf("%d streams open (%d users x %d): server RSS %d KiB -> %d KiB, %.1f KiB per stream\n",
		*users**per, *users, *per, before, after, float64(after-before)/float64(*users**per))

	if *rate == 0 { // hold the streams open (while another tool loads the server)
		time.Sleep(*duration)
		fmt.Printf("held %d streams for %v; %d events received\n", *users**per, *duration, received.Load())
		return
	}
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	end := time.Now().Add(*duration)
	var created, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		user := userID(*prefix, i%*users)
		title := fmt.Sprintf("t%d", i)
		wg.Go(func() {
			req, _ := http.NewRequest("POST", *url+"/api/"+user+"/tasks", strings.NewReader(`{"title":"`+title+`"}`))
			req.Header.Set("Authorization", "Bearer "+token(user))
			mu.Lock()
			sent[title] = time.Now()
			mu.Unlock()
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 201 {
				failed.Add(1)
				return
			}
			resp.Body.Close()
			created.Add(1)
		})
	}
	wg.Wait()
	time.Sleep(time.Second)
	mu.Lock()
	slices.Sort(lat)
	p := func(q float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*q)]
	}
	fmt.Printf("%d creates in %v (%.0f/s, %d failed); %d deliveries (want %d, %.0f events delivered/s): request to delivery p50 %v, p99 %v\n",
		created.Load(), *duration, float64(created.Load())/duration.Seconds(), failed.Load(), len(lat), created.Load()*int64(*per),
		float64(len(lat))/duration.Seconds(), p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond))
	mu.Unlock()
}

// userID is seed's user id: 32 characters, as Better Auth's are.
func userID(prefix string, n int) string {
	return fmt.Sprintf("%s%03dXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", prefix, n)[:32]
}
