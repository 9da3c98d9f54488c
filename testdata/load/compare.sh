#!/usr/bin/env bash
# Write and list throughput of taskbolt binaries side by side, alternating, so
# that a VM whose speed drifts over the day compares like with like:
#   testdata/load/compare.sh /tmp/tb-before /tmp/tb-after
# Each round gives each binary a fresh bbolt file (DATABASE_URL=postgres://…
# in the environment compares them on PostgreSQL, in a fresh schema each),
# seeds 100 users × 20 tasks and runs wrk (64 connections, DURATION, 4s) on
# SCENARIOS (list toggle create: the list first, on the seeded users alone, as
# each binary creates a different number of tasks), with the server's CPU time
# per request.
# ROUNDS (2) rounds; CONNECTIONS (64) wrk connections (1: one client writing
# one request at a time, which sees each commit's latency).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-4s} ROUNDS=${ROUNDS:-2} SCENARIOS=${SCENARIOS:-list toggle create} CONNECTIONS=${CONNECTIONS:-64}
export BETTER_AUTH_SECRET=$(head -c 32 /dev/urandom | base64) TASKBOLT_ENV_FILE= HOST=127.0.0.1 LOG_LEVEL=${LOG_LEVEL:-info}
base=${DATABASE_URL:-}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
source testdata/load/lib.sh
go build -o "$work/seed" ./testdata/load/seed
for round in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    fresh_server "$bin" 18799 compare
    for s in $SCENARIOS; do
      printf '%-24s round %s  ' "$(basename "$bin")" "$round"
      before=$(cpu_ticks "$pid")
      SCENARIO=$s TOKENS_FILE="$work/tokens" wrk -t"$(( CONNECTIONS < 2 ? 1 : 2 ))" -c"$CONNECTIONS" -d"$DURATION" -s testdata/load/scenario.lua http://127.0.0.1:18799 | tail -1 >"$work/wrk"
      # The server's CPU time per request: steadier than req/s on a VM
      # whose speed drifts (and it leaves out wrk and PostgreSQL).
      awk -v ticks=$(($(cpu_ticks "$pid") - before)) -v hz="$(getconf CLK_TCK)" \
        '{printf "%s   server CPU %.0f µs/req\n", $0, ticks / hz * 1e6 / $11}' "$work/wrk"
    done
  done
done
