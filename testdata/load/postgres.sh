#!/usr/bin/env bash
# Load of taskbolt on PostgreSQL: the scenarios of load.sh with one replica,
# then with two replicas on the one database (wrk drives both, the
# connections split), the user of BIG tasks, and a kill -9 of one replica
# under write load, after which every acknowledged write must be found
# through the other. Uses TASKBOLT_TEST_POSTGRES_URL, else starts a
# throwaway server (testdata/postgres.sh); works in a schema of its own.
# Knobs as load.sh: DURATION, CONNECTIONS, THREADS, BIG, LOG_LEVEL.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s} CONNECTIONS=${CONNECTIONS:-64} THREADS=${THREADS:-2} BIG=${BIG:-100000}
. testdata/load/lib.sh
command -v wrk >/dev/null || { echo "installing wrk…"; (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null; }
if [ -z "${TASKBOLT_TEST_POSTGRES_URL:-}" ]; then eval "export $(testdata/postgres.sh start)"; fi
base=$TASKBOLT_TEST_POSTGRES_URL
schema=load_$$
psql "$base" -qc "CREATE SCHEMA $schema"
work=$(mktemp -d)
trap 'stop_servers; psql "$base" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1; rm -rf "$work"' EXIT
case "$base" in *\?*) sep='&' ;; *) sep='?' ;; esac

CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/taskbolt" .
export BETTER_AUTH_SECRET=$(head -c 32 /dev/urandom | base64) TASKBOLT_ENV_FILE= HOST=127.0.0.1 PORT=0 \
  DATABASE_URL="$base${sep}search_path=$schema" LOG_LEVEL="${LOG_LEVEL:-info}"
echo "PostgreSQL $(psql "$base" -qAtc 'SHOW server_version'), synchronous_commit $(psql "$base" -qAtc 'SHOW synchronous_commit'), fsync $(psql "$base" -qAtc 'SHOW fsync'); wrk -t$THREADS -c$CONNECTIONS -d$DURATION"

start_server r1; url1=$url; pid1=$pid
go run ./testdata/load/seed -url "$url1" -users 100 -tasks 20 -out "$work/tokens"
echo "seeded 100 users x 20 tasks"
echo "-- one replica"
for s in list get toggle mixed create; do scenario "$s" "$work/tokens" "$url1"; done
start_server r2; url2=$url; pid2=$pid
go run ./testdata/load/seed -url "$url2" -users 100 -tasks 20 -prefix loadtwin -out "$work/tokens2"
echo "-- two replicas, one database (100 other users x 20 tasks, seeded through replica 2)"
for s in list get toggle mixed create; do scenario "$s" "$work/tokens2" "$url1" "$url2"; done

if [ "$BIG" != "0" ]; then
  go run ./testdata/load/seed -big "$BIG" -export "$work/big.json" -out "$work/bigtoken"
  start=$(date +%s.%N)
  "$work/taskbolt" import "$work/big.json" 2>/dev/null
  echo "imported a user of $BIG tasks in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
  big_user "$url1"
fi

echo "-- kill -9 of one replica under write load"
before=$(total_tasks "$url2" "$work/tokens")
SCENARIO=create COUNT=1 TOKENS_FILE="$work/tokens" wrk -t1 -c16 -d4s -s testdata/load/scenario.lua "$url1" >"$work/kill.1" 2>&1 &
SCENARIO=create COUNT=1 TOKENS_FILE="$work/tokens" wrk -t1 -c16 -d4s -s testdata/load/scenario.lua "$url2" >"$work/kill.2" 2>&1 &
sleep 2
kill -9 "$pid1"
wait_wrk
acked1=$(sed -n 's/^COUNTS created=\([0-9]*\).*/\1/p' "$work/kill.1")
acked2=$(sed -n 's/^COUNTS created=\([0-9]*\).*/\1/p' "$work/kill.2")
fivexx2=$(sed -n 's/.*fivexx=\([0-9]*\).*/\1/p' "$work/kill.2")
after=$(total_tasks "$url2" "$work/tokens")
lost=$((before + acked1 + acked2 - after)); [ "$lost" -lt 0 ] && lost=0
echo "killed replica 1 after 2 s of creates on both: $acked1 acknowledged by it, $acked2 by replica 2 ($fivexx2 5xx); through replica 2 afterwards: $lost lost (tasks before $before, after $after)"
if [ "$lost" != 0 ] || [ "$fivexx2" != 0 ]; then echo "KILL TEST FAILED"; exit 1; fi
echo "5xx in the surviving replica's log: $(grep -c 'status=5' "$work/r2.log" || true)"
