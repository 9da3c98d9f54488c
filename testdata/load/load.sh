#!/usr/bin/env bash
# Load test of the real binary: seeds 100 users x 20 tasks, then runs wrk with
# 64 connections for list, get, toggle, mixed (80/20) and create, printing
# req/s, p50, p99 and the count of non-2xx answers for each.
# Then a soak: the mixed scenario for SOAK (30s), counting acknowledged creates
# and 5xx, and checking that every acknowledged create is stored.
# Before that, a user of BIG (100000; 0 skips it) tasks is imported, and the
# lists of that user are loaded too: the default list, a filtered sort, every
# sort key with each single filter, and a search; with the time of one
# request alone for each.
# Knobs: DURATION (10s), SOAK (30s; 0 skips it), CONNECTIONS (64), THREADS (2),
# BIG (100000), LOG_LEVEL (info; the access log goes to a file, as in production).
# Last, the same on PostgreSQL with one replica and two (testdata/load/postgres.sh),
# when TASKBOLT_TEST_POSTGRES_URL is set or PG=1 (which starts a throwaway server).
set -euo pipefail
cd "$(dirname "$0")/../.."
export DURATION=${DURATION:-10s} SOAK=${SOAK:-30s} CONNECTIONS=${CONNECTIONS:-64} THREADS=${THREADS:-2} BIG=${BIG:-100000}
. testdata/load/lib.sh

if ! command -v wrk >/dev/null; then
  echo "installing wrk…"; (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi

work=$(mktemp -d)
trap 'stop_servers; rm -rf "$work"' EXIT

CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/taskbolt" .
export BETTER_AUTH_SECRET=$(head -c 32 /dev/urandom | base64) TASKBOLT_ENV_FILE= HOST=127.0.0.1 PORT=0 \
  DATABASE_URL="$work/load.db" LOG_LEVEL="${LOG_LEVEL:-info}"
if [ "$BIG" != "0" ]; then
  go run ./testdata/load/seed -big "$BIG" -export "$work/big.json" -out "$work/bigtoken"
  start=$(date +%s.%N)
  "$work/taskbolt" import "$work/big.json" 2>/dev/null
  echo "imported a user of $BIG tasks in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s; database $(stat -c %s "$work/load.db") bytes"
fi
start_server server
sleep 0.5
echo "binary $(stat -c %s "$work/taskbolt") bytes; idle RSS $(ps -o rss= -p "$pid" | tr -d ' ') KiB; $(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION"

go run ./testdata/load/seed -url "$url" -users 100 -tasks 20 -out "$work/tokens"
echo "seeded 100 users x 20 tasks"

for s in list get toggle mixed create; do scenario "$s" "$work/tokens" "$url"; done
if [ "$BIG" != "0" ]; then
  big_user "$url"
fi

if [ "$SOAK" != "0" ]; then
  before=$(total_tasks "$url" "$work/tokens")
  out=$(SCENARIO=mixed COUNT=1 TOKENS_FILE="$work/tokens" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$SOAK" -s testdata/load/scenario.lua "$url")
  echo "$out" | tail -1 | sed 's/^mixed  /soak   /'
  created=$(echo "$out" | sed -n 's/^COUNTS created=\([0-9]*\).*/\1/p')
  fivexx=$(echo "$out" | sed -n 's/.*fivexx=\([0-9]*\).*/\1/p')
  after=$(total_tasks "$url" "$work/tokens")
  # Requests still in flight when wrk stops may be stored without wrk seeing
  # the 201: more stored than acknowledged is fine, fewer is a lost write.
  lost=$((before + created - after)); [ "$lost" -lt 0 ] && lost=0
  echo "soak $SOAK: $created acknowledged creates, $fivexx 5xx, $lost lost writes (tasks before $before, after $after)"
  if [ "$fivexx" != 0 ] || [ "$lost" != 0 ]; then echo "SOAK FAILED"; exit 1; fi
fi
echo "RSS after load $(ps -o rss= -p "$pid" | tr -d ' ') KiB; 5xx in the log: $(grep -c 'status=5' "$work/server.log" || true)"
stop_servers

if [ -n "${TASKBOLT_TEST_POSTGRES_URL:-}" ] || [ "${PG:-}" = 1 ]; then
  echo "== PostgreSQL"
  testdata/load/postgres.sh
fi
