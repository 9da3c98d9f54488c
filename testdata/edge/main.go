// Command edge measures what an edge deploy cares about, on the real binary:
// its size, the cold start from exec to the first 200 on /healthz, and the
// resident memory once idle. Used by `make edge`; prints one line per figure.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/taskbolt", "the binary to measure")
	runs := flag.Int("runs", 20, "cold starts to time")
	flag.Parse()
	fi, err := os.Stat(*bin)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("binary size:        %.1f MB (%d bytes)\n", float64(fi.Size())/1e6, fi.Size())

	var starts []time.Duration
	var rss string
	for i := range *runs {
		d, r := coldStart(*bin, i == *runs-1)
		starts = append(starts, d)
		if r != "" {
			rss = r
		}
	}
	slices.Sort(starts)
	fmt.Printf("cold start to 200:  median %v, p90 %v, max %v (%d runs, exec to first 200 on /healthz)\n",
		starts[len(starts)/2].Round(100*time.Microsecond), starts[len(starts)*9/10].Round(100*time.Microsecond),
		starts[len(starts)-1].Round(100*time.Microsecond), len(starts))
	fmt.Printf("idle RSS:           %s (1 s after start, empty database)\n", rss)
}

// coldStart starts the binary on a fresh database and a free port, polls
// /healthz until it answers 200, and stops it.
func coldStart(bin string, measureRSS bool) (time.Duration, string) {
	dir, _ := os.MkdirTemp("", "taskbolt-edge")
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "BETTER_AUTH_SECRET=edge-measurement-secret-of-32-bytes-or-more",
		"TASKBOLT_ENV_FILE=", "HOST=127.0.0.1", "PORT=0", "LOG_LEVEL=warn", "DATABASE_URL="+filepath.Join(dir, "t.db"))
	out, _ := cmd.StdoutPipe()
	began := time.Now()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	lines := bufio.NewScanner(out)
	var url string
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			url = u
			break
		}
	}
	client := &http.Client{Timeout: time.Second}
	for time.Since(began) < 5*time.Second {
		resp, err := client.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	took := time.Since(began)
	rss := ""
	if measureRSS {
		time.Sleep(time.Second)
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				rss = strings.Join(strings.Fields(strings.TrimPrefix(l, "VmRSS:")), " ")
			}
		}
	}
	return took, rss
}
