# taskbolt — run `make` for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GO       ?= go
BIN      ?= bin/taskbolt
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 10s
HARNESS  := testdata/betterauth

.PHONY: help build run test race vet fmt bench load edge fuzz cover clean harness docs-assets

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build a static binary into bin/taskbolt
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build ## build and run on :8000 (creates a development secret in .env on first run)
	./$(BIN) serve --dev

test: harness ## run every test (installs the Better Auth harness's npm packages on first use)
	$(GO) test -count=1 ./...

race: harness ## run every test under the race detector
	$(GO) test -count=1 -race ./...

harness: $(HARNESS)/node_modules/.package-lock.json

# npm ci compiles better-sqlite3 (about two minutes), so it reruns only when the lockfile changes.
$(HARNESS)/node_modules/.package-lock.json: $(HARNESS)/package-lock.json
	@if command -v node >/dev/null; then cd $(HARNESS) && npm ci --no-audit --no-fund; \
	else echo "WARNING: node is not installed: the live Better Auth interop tests will be SKIPPED"; fi

vet: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

load: ## seed 100 users x 20 tasks and load the real binary with wrk (installs wrk if missing)
	testdata/load/load.sh

edge: build ## measure the binary's size, cold start to the first 200, and idle RSS
	$(GO) run ./testdata/edge -bin $(BIN)

docs-assets: ## refresh the embedded Swagger UI (api/docs) from the npm registry
	@set -e; tmp=$$(mktemp -d); cd $$tmp && npm pack swagger-ui-dist@5.35.0 --silent >/dev/null && tar xzf swagger-ui-dist-*.tgz; \
	cd $(CURDIR)/api/docs && gzip -9 -n -c $$tmp/package/swagger-ui-bundle.js > swagger-ui-bundle.js.gz && \
	gzip -9 -n -c $$tmp/package/swagger-ui.css > swagger-ui.css.gz && cp $$tmp/package/LICENSE SWAGGER-UI-LICENSE && \
	cp $$tmp/package/NOTICE SWAGGER-UI-NOTICE; rm -rf $$tmp

fuzz: ## run each fuzz target for FUZZTIME (default 10s); interesting inputs are minimized for 1s at most, so time goes to fuzzing
	FUZZTIME=$(FUZZTIME) GO=$(GO) testdata/fuzz.sh

cover: ## test with coverage and print the total
	$(GO) test -count=1 -coverprofile=coverage.out ./...
	$(GO) tool cover -func=coverage.out | tail -1

clean: ## remove build output and test caches
	rm -rf bin coverage.out $(HARNESS)/node_modules
	$(GO) clean -testcache
