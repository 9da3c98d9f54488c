#!/usr/bin/env bash
# Load test of the real binary: seeds 100 users x 20 tasks, then runs wrk with
# 64 connections for list, get, toggle, mixed (80/20) and create, printing
# req/s, p50, p99 and the count of non-2xx answers for each.
# Knobs: DURATION (10s), CONNECTIONS (64), THREADS (2), LOG_LEVEL (info; the
# access log goes to a file, as in production).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s} CONNECTIONS=${CONNECTIONS:-64} THREADS=${THREADS:-2}

if ! command -v wrk >/dev/null; then
  echo "installing wrk…"; (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/taskbolt" .
export BETTER_AUTH_SECRET=$(head -c 32 /dev/urandom | base64) TASKBOLT_ENV_FILE= HOST=127.0.0.1 PORT=0 \
  DATABASE_URL="$work/load.db" LOG_LEVEL="${LOG_LEVEL:-info}"
"$work/taskbolt" serve >"$work/stdout" 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/stdout" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$work/stdout")
[ -n "$url" ] || { echo "server did not start"; cat "$work/server.log"; exit 1; }
sleep 0.5
echo "binary $(stat -c %s "$work/taskbolt") bytes; idle RSS $(ps -o rss= -p "$pid" | tr -d ' ') KiB; $(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION"

go run ./testdata/load/seed -url "$url" -users 100 -tasks 20 -out "$work/tokens"
echo "seeded 100 users x 20 tasks"

for s in list get toggle mixed create; do
  SCENARIO=$s TOKENS_FILE="$work/tokens" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s testdata/load/scenario.lua "$url" | tail -1
done
echo "RSS after load $(ps -o rss= -p "$pid" | tr -d ' ') KiB; 5xx in the log: $(grep -c 'status=5' "$work/server.log" || true)"
