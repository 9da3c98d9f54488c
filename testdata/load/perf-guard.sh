#!/usr/bin/env bash
# The speed guard (`make perf-guard`, run by .ci/run): builds the pinned
# baseline commit (testdata/load/perf-baseline) and the working tree, serves
# each on a fresh bbolt file of 100 users × 20 tasks in alternating rounds,
# and measures the server's CPU time per request under wrk for list, create
# (across the 100 users), create1 (one user, who passes IndexAfter within the
# first second, so the indexed write path is measured too) and toggle. A VM's speed drifts and jitters (single measurements here spread
# ±25 %), so each round compares the two binaries measured back to back, and
# the verdict is the median of those per-round ratios: it fails when the tree
# costs more than LIMIT (15) percent more than the baseline for any scenario.
# A scenario over the limit is measured for ROUNDS more rounds first, and
# judged on all of them, so one noisy round cannot fail a build while a real
# regression does. Knobs: ROUNDS (5), DURATION (2s), LIMIT (15).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-2s} LIMIT=${LIMIT:-15}
command -v wrk >/dev/null || { echo "installing wrk…"; (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null; }
pin=$(grep -v '^#' testdata/load/perf-baseline | tr -d '[:space:]')
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; git worktree remove --force "$work/baseline" 2>/dev/null; rm -rf "$work"' EXIT
git cat-file -e "$pin^{commit}" 2>/dev/null || git fetch -q origin "$pin" 2>/dev/null || { echo "perf-guard: baseline $pin is not in this clone"; exit 1; }
git worktree add -q --detach "$work/baseline" "$pin"
(cd "$work/baseline" && CGO_ENABLED=0 go build -trimpath -o "$work/taskbolt-baseline" .)
CGO_ENABLED=0 go build -trimpath -o "$work/taskbolt-tree" .
go build -o "$work/seed" ./testdata/load/seed
export BETTER_AUTH_SECRET=$(head -c 32 /dev/urandom | base64) TASKBOLT_ENV_FILE= HOST=127.0.0.1 LOG_LEVEL=warn
base=
source testdata/load/lib.sh
hz=$(getconf CLK_TCK)

# measure BINARY SCENARIO: appends "µs/req req/s" to $work/BINARY.SCENARIO.
measure() {
  local bin=$1 s=$2 before
  fresh_server "$work/taskbolt-$bin" 18796 guard
  before=$(cpu_ticks "$pid")
  SCENARIO=$s TOKENS_FILE="$work/tokens" wrk -t2 -c64 -d"$DURATION" -s testdata/load/scenario.lua http://127.0.0.1:18796 | tail -1 >"$work/wrk"
  awk -v ticks=$(($(cpu_ticks "$pid") - before)) -v hz="$hz" '$13 != 0 || $16 != 0 {print "non-2xx or socket errors: " $0 > "/dev/stderr"; exit 1}
    {printf "%.1f %.0f\n", ticks / hz * 1e6 / $11, $2}' "$work/wrk" >>"$work/$bin.$s"
}
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
rounds() { for _ in $(seq "$1"); do for bin in baseline tree; do measure "$bin" "$2"; done; done; }

echo "perf-guard: the tree against $pin, $ROUNDS alternating rounds of $DURATION, server CPU per request"
# ratio SCENARIO: the median over the rounds of tree / baseline.
ratio() { paste -d' ' <(cut -d' ' -f1 "$work/baseline.$1") <(cut -d' ' -f1 "$work/tree.$1") | awk '{print $2 / $1}' | median; }
over() { awk -v r="$(ratio "$1")" -v limit="$LIMIT" 'BEGIN {exit !(r > 1 + limit / 100)}'; }
failed=0
for s in list create create1 toggle; do
  rounds "$ROUNDS" "$s"
  if over "$s"; then
    echo "  $s: over the limit after $ROUNDS rounds; $ROUNDS more"
    rounds "$ROUNDS" "$s"
  fi
  b=$(cut -d' ' -f1 "$work/baseline.$s" | median) t=$(cut -d' ' -f1 "$work/tree.$s" | median)
  br=$(cut -d' ' -f2 "$work/baseline.$s" | median) tr=$(cut -d' ' -f2 "$work/tree.$s" | median)
  change=$(awk -v r="$(ratio "$s")" 'BEGIN {printf "%+.0f", (r - 1) * 100}')
  status=ok
  if over "$s"; then status="FAILED (more than $LIMIT % worse)"; failed=1; fi
  printf '  %-7s baseline %6.1f µs/req (%6.0f req/s)   tree %6.1f µs/req (%6.0f req/s)   median ratio %s %%   %s\n' "$s" "$b" "$br" "$t" "$tr" "$change" "$status"
done
exit $failed
