#!/usr/bin/env bash
# Event streams under load (bbolt, or PostgreSQL with DATABASE_URL=postgres://…
# in the environment, in a fresh schema), each part on a fresh server whose
# 100 users have 20 tasks:
#   testdata/load/streams.sh [BINARY]
# 1. 1,000 streams (100 users × 10): the server's RSS per idle stream, then
#    1,000 creates/s for 10 s and the time from each create's request to its
#    delivery on every stream of its user (p50, p99);
# 2. wrk create for DURATION (5s) with no stream open;
# 3. 1,000 streams opened and held, and the same wrk create while they
#    receive every event (their reader shares the machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5s}
work=$(mktemp -d)
bin=${1:-}
if [ -z "$bin" ]; then go build -o "$work/taskbolt" . && bin=$work/taskbolt; fi
go build -o "$work/streams" ./testdata/load/streams
go build -o "$work/seed" ./testdata/load/seed
export BETTER_AUTH_SECRET=$(head -c 32 /dev/urandom | base64) TASKBOLT_ENV_FILE= HOST=127.0.0.1 LOG_LEVEL=warn
url=http://127.0.0.1:18798
base=${DATABASE_URL:-}
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
source testdata/load/lib.sh
# create: wrk create for DURATION, with the server's CPU time per create (the
# steadier figure on a VM whose speed drifts, and it leaves out the readers).
create() {
  local before; before=$(cpu_ticks "$pid")
  SCENARIO=create TOKENS_FILE="$work/tokens" wrk -t2 -c64 -d"$DURATION" -s testdata/load/scenario.lua $url | tail -1 >"$work/wrk"
  awk -v ticks=$(($(cpu_ticks "$pid") - before)) -v hz="$(getconf CLK_TCK)" \
    '{printf "%s   server CPU %.0f µs/create\n", $0, ticks / hz * 1e6 / $11}' "$work/wrk"
}

fresh_server "$bin" 18798 streams
"$work/streams" -url $url -pid "$pid" -rate 1000 -duration 10s
fresh_server "$bin" 18798 streams
printf 'create, no stream open:      '; create
fresh_server "$bin" 18798 streams
"$work/streams" -url $url -pid "$pid" -rate 0 -duration 30s >"$work/held" &
held=$!
sleep 3 # the streams open
printf 'create, 1,000 streams open:  '; create
kill "$held" 2>/dev/null; wait "$held" 2>/dev/null || true
