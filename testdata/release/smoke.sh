#!/usr/bin/env bash
# smoke.sh BINARY [RUNNER...]: start a release binary (under RUNNER, e.g.
# qemu-aarch64-static, for another architecture) on a free loopback port with
# fresh data and check it over HTTP: health, a token from the binary itself,
# a create, the list, and the 403 for another user's URL. It stops the server
# however it ends.
set -euo pipefail
bin=$1; shift
runner=("$@")
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export BETTER_AUTH_SECRET=$(head -c 32 /dev/urandom | base64) HOST=127.0.0.1 PORT=0 \
  DATABASE_URL="$work/tasks.db" TASKBOLT_ENV_FILE= LOG_LEVEL=warn
"${runner[@]}" "$bin" serve --ready-file "$work/ready" > "$work/out" 2> "$work/log" &
pid=$!
for _ in $(seq 300); do [ -s "$work/ready" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
[ -s "$work/ready" ] || { echo "smoke: $bin did not start"; cat "$work/log"; exit 1; }
url=$(cat "$work/ready")
fail() { echo "smoke: FAILED: $*"; cat "$work/log"; exit 1; }
want() { # want STATUS METHOD PATH TOKEN [BODY]: the status and the body
  local out status
  out=$(curl -s -w '\n%{http_code}' -X "$2" "$url$3" -H "Authorization: Bearer $4" -H 'Content-Type: application/json' ${5:+-d "$5"})
  status=${out##*$'\n'}
  [ "$status" = "$1" ] || fail "$2 $3: $status, want $1: ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}"
}
health=$(curl -sf "$url/healthz") || fail "/healthz"
[[ $health == *'"status":"ok"'* ]] || fail "/healthz: $health"
alice=$("${runner[@]}" "$bin" token --sub alice)
bob=$("${runner[@]}" "$bin" token --sub bob)
created=$(want 201 POST /api/alice/tasks "$alice" '{"title":"Buy milk"}')
[[ $created == *'"title":"Buy milk"'* ]] || fail "create: $created"
list=$(want 200 GET /api/alice/tasks "$alice")
[[ $list == '[{"id":1,'*'"title":"Buy milk"'* ]] || fail "list: $list"
refused=$(want 403 GET /api/alice/tasks "$bob")
[ "$refused" = '{"detail":"Not authorized to access these tasks"}' ] || fail "403: $refused"
echo "smoke: ${runner[*]:+${runner[*]} }$bin ($("${runner[@]}" "$bin" version)): health, token, create, list and the 403 passed"
