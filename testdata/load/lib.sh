# Shared by the load scripts: start servers, run wrk, count tasks, read a
# server's CPU time. Callers set $work (a scratch directory) and export the
# server's settings.

pids=()

# cpu_ticks PID: the process's CPU time so far, in clock ticks (utime + stime).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }

# start_server NAME: runs $work/taskbolt serve with the exported settings and
# sets $url and $pid; its log is $work/NAME.log.
start_server() {
  "$work/taskbolt" serve >"$work/$1.stdout" 2>"$work/$1.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 200); do grep -q '^listening on ' "$work/$1.stdout" 2>/dev/null && break; sleep 0.05; done
  url=$(sed -n 's/^listening on //p' "$work/$1.stdout")
  [ -n "$url" ] || { echo "$1 did not start"; cat "$work/$1.log"; exit 1; }
}

# scenario NAME TOKENS URL…: wrk on every URL at once, the connections split
# between them; one line with the summed req/s, the worst p50 and p99, and
# the summed non-2xx and socket errors.
scenario() {
  local name=$1 tokens=$2; shift 2
  local n=$# i=0 outs=()
  for u in "$@"; do
    i=$((i + 1))
    SCENARIO=$name TOKENS_FILE=$tokens wrk -t"$THREADS" -c$((CONNECTIONS / n)) -d"$DURATION" -s testdata/load/scenario.lua "$u" >"$work/wrk.$i" &
  done
  wait_wrk
  for j in $(seq "$n"); do outs+=("$(tail -1 "$work/wrk.$j")"); done
  if [ "$n" = 1 ]; then echo "${outs[0]}"; return; fi
  printf '%s\n' "${outs[@]}" | awk -v name="$name" -v n="$n" '{rps += $2; if ($5 > p50) p50 = $5; if ($8 > p99) p99 = $8; req += $11; bad += $13; sock += $16}
    END {printf "%-7s %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   requests %8d   non-2xx %d   socket errors %d   (%d replicas)\n", name, rps, p50, p99, req, bad, sock, n}'
}

# wait_wrk waits for the wrk runs started in the background, not the servers.
wait_wrk() { for p in $(jobs -p); do [[ " ${pids[*]} " == *" $p "* ]] || wait "$p"; done; }

# total_tasks URL TOKENS sums X-Total-Count over every user of TOKENS.
total_tasks() {
  local sum=0 n
  while read -r user tok; do
    n=$(curl -s -o /dev/null -D - -H "Authorization: Bearer $tok" "$1/api/$user/tasks?limit=1" | tr -d '\r' | sed -n 's/^X-Total-Count: //Ip')
    sum=$((sum + n))
  done <"$2"
  echo "$sum"
}

# big_user URL: the lists of the user of $BIG tasks ($work/bigtoken): one
# request alone for each query (the median of five), then wrk on each.
big_user() {
  local bigu bigtok q t
  read -r bigu bigtok <"$work/bigtoken"
  for q in "" "?status=pending&sort=title&limit=20" "?sort=due_date&overdue=true" "?tag=home&sort=title" "?q=milk"; do
    t=$(for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $bigtok" "$1/api/$bigu/tasks$q"; done | sort -n | sed -n 3p)
    echo "user of $BIG tasks, one request alone: $(awk -v t="$t" 'BEGIN{printf "%.2f", t*1000}') ms  /tasks$q"
  done
  for s in biglist bigfilter bigmix bigq bigcreate; do scenario "$s" "$work/bigtoken" "$1"; done
}

# fresh_server BINARY PORT NAME (compare.sh, streams.sh): stops the server
# it started last, then serves an empty store from BINARY on 127.0.0.1:PORT
# (a schema NAME made anew in $base when that is a postgres:// URL, else the
# bbolt file $work/NAME.db) and seeds it with 100 users × 20 tasks through
# $work/seed, their tokens in $work/tokens. Sets $pid.
fresh_server() {
  local bin=$1 port=$2 name=$3 store
  if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "${base:-}" ]; then
    psql "$base" -qc "DROP SCHEMA IF EXISTS $name CASCADE; CREATE SCHEMA $name" 2>/dev/null
    case "$base" in *\?*) store="$base&search_path=$name" ;; *) store="$base?search_path=$name" ;; esac
  else
    store=$work/$name.db
    rm -f "$store"
  fi
  DATABASE_URL=$store PORT=$port "$bin" serve >"$work/$name.out" 2>"$work/$name.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
  "$work/seed" -url "http://127.0.0.1:$port" -users 100 -tasks 20 -out "$work/tokens" >/dev/null
}
