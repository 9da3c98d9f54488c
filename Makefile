# taskbolt — run `make` for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GO       ?= go
BIN      ?= bin/taskbolt
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 10s
HARNESS  := testdata/betterauth
EXAMPLE  := examples/nextjs
# The e2e ports; `next build` bakes E2E_TASKBOLT_PORT into the example's rewrites.
E2E_TASKBOLT_PORT ?= 18080
E2E_APP_PORT      ?= 13080

.PHONY: help build run test unit race postgres vet fmt bench load edge fuzz cover clean harness example-deps e2e api-client docs-assets perf-guard release release-test npm-packages

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build a static binary into bin/taskbolt
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build ## build and run on :8000 (creates a development secret in .env on first run)
	./$(BIN) serve --dev

test: unit e2e ## run every test: the Go tests, then the browser test of the Next.js example

# The PostgreSQL tests use TASKBOLT_TEST_POSTGRES_URL, or the server `make
# postgres` started when it answers; without either they skip, saying so.
PG_URL = $(or $(TASKBOLT_TEST_POSTGRES_URL),$(shell testdata/postgres.sh reachable))

unit: harness ## run the Go tests (installs the Better Auth harness's npm packages on first use; PostgreSQL's too when one is reachable)
	TASKBOLT_TEST_POSTGRES_URL='$(PG_URL)' $(GO) test -count=1 ./...
	@if [ -n '$(PG_URL)' ]; then echo "== the HTTP tests again, on PostgreSQL"; \
	  TASKBOLT_TEST_POSTGRES_URL='$(PG_URL)' TASKBOLT_TEST_STORE=postgres $(GO) test -count=1 ./api/; \
	else echo "PostgreSQL tests SKIPPED: no server (make postgres starts one)"; fi

postgres: ## start a throwaway PostgreSQL on 127.0.0.1:25432 for the tests (stops by itself after 2 h; testdata/postgres.sh stop)
	@testdata/postgres.sh start

race: harness ## run the Go tests under the race detector
	TASKBOLT_TEST_POSTGRES_URL='$(PG_URL)' $(GO) test -count=1 -race ./...

harness: $(HARNESS)/node_modules/.package-lock.json

# npm ci compiles better-sqlite3 (about two minutes), so it reruns only when the
# lockfile changes, and testdata/npm-ci.sh keeps node_modules between clones.
$(HARNESS)/node_modules/.package-lock.json: $(HARNESS)/package-lock.json
	@if command -v node >/dev/null; then testdata/npm-ci.sh $(HARNESS); \
	else echo "WARNING: node is not installed: the live Better Auth interop tests will be SKIPPED"; fi

example-deps: $(EXAMPLE)/node_modules/.package-lock.json

$(EXAMPLE)/node_modules/.package-lock.json: $(EXAMPLE)/package-lock.json
	testdata/npm-ci.sh $(EXAMPLE)

api-client: example-deps ## regenerate the example's typed client (examples/nextjs/lib/api-types.ts) from api/openapi.json
	cd $(EXAMPLE) && npm run --silent gen:api

# This platform's npm packages in dist/npm, which examples/nextjs links (its
# `npm run dev` runs taskbolt from them): made anew each time, so that the
# example never runs an older binary. It replaces what dist/ held.
npm-packages: ## make this platform's npm packages (taskbolt, @taskbolt/<os>-<cpu>) in dist/npm for examples/nextjs
	$(GO) run ./testdata/release -out dist -targets $$($(GO) env GOOS)/$$($(GO) env GOARCH)

# The browser test: `npm run dev` starts taskbolt from the npm package next to
# `next dev` (e2e/dev.mjs); the example's typed client must match
# api/openapi.json and typecheck; then `next build` (a placeholder secret and
# an in-memory auth database, since Next.js loads the auth module while
# collecting pages) and e2e/run.mjs drives Debian's Chromium through token and
# cookie mode.
e2e: build example-deps npm-packages ## browser test of examples/nextjs in token and cookie mode (installs Debian's chromium if missing)
	@command -v chromium >/dev/null || { echo "== installing chromium"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	cd $(EXAMPLE) && node e2e/dev.mjs
	cd $(EXAMPLE) && npm run --silent check:api && npx tsc --noEmit
	cd $(EXAMPLE) && NEXT_TELEMETRY_DISABLED=1 TASKBOLT_URL=http://127.0.0.1:$(E2E_TASKBOLT_PORT) \
		BETTER_AUTH_URL=http://localhost:$(E2E_APP_PORT) BETTER_AUTH_SECRET=placeholder-for-next-build-never-used-at-run-time \
		AUTH_DB_FILE=:memory: npx next build
	CGO_ENABLED=0 $(GO) build -o bin/scriptedmodel ./testdata/scriptedmodel
	cd $(EXAMPLE) && TASKBOLT_BIN=../../$(BIN) MODEL_BIN=../../bin/scriptedmodel TASKBOLT_PORT=$(E2E_TASKBOLT_PORT) APP_PORT=$(E2E_APP_PORT) \
		CHROMIUM=$$(command -v chromium) node e2e/run.mjs

# The release: static binaries for every platform, archives, SBOMs, SHA256SUMS
# and the npm packages, in dist/ (testdata/release). RELEASE_VERSION defaults
# to git describe; TARGETS to every platform.
RELEASE_VERSION ?=
TARGETS ?= linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64
release: ## build the release into dist/: binaries for 5 platforms, archives, SBOMs, SHA256SUMS, npm packages
	$(GO) run ./testdata/release -out dist -targets $(TARGETS) $(if $(RELEASE_VERSION),-version $(RELEASE_VERSION))

# The release's tests: reproducible bytes, contents, the Dockerfile; the linux
# binaries answer over HTTP (arm64 under Debian's qemu-user-static, installed
# if missing); the npm packages install offline and run from a Vitest test.
release-test: ## test the release (linux/amd64 and linux/arm64): reproducibility, SBOM, Dockerfile, qemu arm64 smoke, offline npm install, go install by the module path
	@command -v qemu-aarch64-static >/dev/null || { echo "== installing qemu-user-static"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null; }
	$(GO) test -count=1 ./testdata/release/
	$(MAKE) --no-print-directory release TARGETS=linux/amd64,linux/arm64
	testdata/release/smoke.sh dist/linux_amd64/taskbolt
	testdata/release/smoke.sh dist/linux_arm64/taskbolt qemu-aarch64-static
	testdata/release/npm-test.sh dist

vet: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

load: ## seed 100 users x 20 tasks and load the real binary with wrk (installs wrk if missing)
	testdata/load/load.sh

perf-guard: ## fail when list, create (many users or one) or toggle costs the server more than 15% more CPU per request than the pinned baseline (testdata/load/perf-baseline)
	testdata/load/perf-guard.sh

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
	rm -rf bin dist coverage.out $(HARNESS)/node_modules $(EXAMPLE)/node_modules $(EXAMPLE)/.next $(EXAMPLE)/e2e/artifacts
	$(GO) clean -testcache
