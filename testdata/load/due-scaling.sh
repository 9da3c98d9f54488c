#!/usr/bin/env bash
# How due-date lists scale with a user's size, for each binary given:
#   testdata/load/due-scaling.sh /tmp/tb-before /tmp/tb-after
# Imports a user of BIG (100000) tasks (testdata/load/seed -big: 70 % with a
# due date, half of them past), adds a user of 20 tasks that are all overdue,
# so that both users' pages hold 20 tasks, then runs wrk (64 connections,
# DURATION, 3s) on `overdue=true` and `due_before=` (30 days on) for each
# user: req/s and the server's CPU per request. #18 asks the big user to be
# within 2× of the small one.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-3s} BIG=${BIG:-100000}
export BETTER_AUTH_SECRET=$(head -c 32 /dev/urandom | base64) TASKBOLT_ENV_FILE= HOST=127.0.0.1 LOG_LEVEL=warn
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
source testdata/load/lib.sh
go run ./testdata/load/seed -big "$BIG" -export "$work/big.json" -out "$work/big" >/dev/null
go build -o "$work/seed" ./testdata/load/seed
url=http://127.0.0.1:18792
for bin in "$@"; do
  rm -f "$work/due.db"
  DATABASE_URL="$work/due.db" "$bin" import "$work/big.json" 2>/dev/null
  DATABASE_URL="$work/due.db" PORT=18792 "$bin" serve >/dev/null 2>"$work/log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.05; done
  "$work/seed" -url "$url" -users 1 -tasks 0 -out "$work/small" >/dev/null
  read -r user token <"$work/small"
  for i in $(seq 20); do
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d "{\"title\":\"overdue task $i buy milk\",\"priority\":\"medium\",\"tags\":[\"home\"],\"due_date\":\"2020-01-$(printf %02d "$i")\"}" "$url/api/$user/tasks"
  done
  for s in overdue duebefore; do
    for who in small big; do
      before=$(cpu_ticks "$pid")
      SCENARIO=$s TOKENS_FILE="$work/$who" wrk -t2 -c64 -d"$DURATION" -s testdata/load/scenario.lua "$url" | tail -1 >"$work/wrk"
      awk -v bin="$(basename "$bin")" -v who="$who" -v ticks=$(($(cpu_ticks "$pid") - before)) -v hz="$(getconf CLK_TCK)" \
        '{printf "%-16s %-9s %-5s %8.0f req/s   non-2xx %s   server CPU %.0f µs/req\n", bin, $1, who, $2, $13, ticks / hz * 1e6 / $11}' "$work/wrk"
    done
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
