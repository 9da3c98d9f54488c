// Command scriptedmodel serves agenttest's scripted OpenAI-compatible model
// on 127.0.0.1, for the browser test of the example app (a chat turn that
// adds and completes a task) and for trying the chat panel without a model:
//
//	go run ./testdata/scriptedmodel -addr 127.0.0.1:18081
//	OPENAI_BASE_URL=http://127.0.0.1:18081/v1 taskbolt serve --dev
//
// It stops by itself after -for (default 30 minutes).
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/taskbolt/taskbolt/api/agent/agenttest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "where to listen (loopback)")
	life := flag.Duration("for", 30*time.Minute, "stop after this long")
	flag.Parse()
	time.AfterFunc(*life, func() { log.Fatalf("scriptedmodel: stopping after %v", *life) })
	log.Printf("scriptedmodel: listening on http://%s/v1", *addr)
	log.Fatal(http.ListenAndServe(*addr, &agenttest.Model{}))
}
