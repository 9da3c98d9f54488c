#!/usr/bin/env bash
# PocketBase (PB_VERSION, v0.36.0) on the harness of testdata/load/compare.sh,
# for a side-by-side figure (#18): builds it from the Go module proxy, makes a
# `tasks` collection with a `user` relation and owner-only rules, one user with
# 20 tasks, then wrk (64 connections, DURATION 5s) on SCENARIOS (healthz list1
# create1). Run it right after compare.sh, on the same machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
PB_VERSION=${PB_VERSION:-v0.36.0}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
cat >main.go <<'GO'
package main

import (
	"log"

	"github.com/pocketbase/pocketbase"
)

func main() {
	if err := pocketbase.New().Start(); err != nil {
		log.Fatal(err)
	}
}
GO
go mod init pbbench >/dev/null 2>&1
go get "github.com/pocketbase/pocketbase@$PB_VERSION" >/dev/null 2>&1
go mod tidy >/dev/null 2>&1
CGO_ENABLED=0 go build -o pb .
./pb superuser upsert admin@example.com Password123456 --dir pb_data >/dev/null
./pb serve --http 127.0.0.1:8090 --dir pb_data >pb.log 2>&1 & pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:8090/api/health >/dev/null && break; sleep 0.1; done
j() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
su=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"identity":"admin@example.com","password":"Password123456"}' http://127.0.0.1:8090/api/collections/_superusers/auth-with-password | j "['token']")
curl -sf -X POST -H "Authorization: $su" -H 'Content-Type: application/json' http://127.0.0.1:8090/api/collections -d '{
 "name":"tasks","type":"base",
 "listRule":"user = @request.auth.id","viewRule":"user = @request.auth.id",
 "createRule":"@request.auth.id != \"\" && user = @request.auth.id","updateRule":"user = @request.auth.id","deleteRule":"user = @request.auth.id",
 "fields":[{"name":"title","type":"text","required":true,"max":200},{"name":"description","type":"text","max":1000},{"name":"completed","type":"bool"},
  {"name":"user","type":"relation","collectionId":"_pb_users_auth_","maxSelect":1,"required":true},
  {"name":"created","type":"autodate","onCreate":true},{"name":"updated","type":"autodate","onCreate":true,"onUpdate":true}],
 "indexes":["CREATE INDEX idx_tasks_user ON tasks (user, created)"]}' >/dev/null
curl -sf -X POST -H "Authorization: $su" -H 'Content-Type: application/json' http://127.0.0.1:8090/api/collections/users/records -d '{"email":"u@example.com","password":"Password123456","passwordConfirm":"Password123456"}' >/dev/null
auth=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"identity":"u@example.com","password":"Password123456"}' http://127.0.0.1:8090/api/collections/users/auth-with-password)
export PB_TOKEN=$(echo "$auth" | j "['token']") PB_USER=$(echo "$auth" | j "['record']['id']")
for i in $(seq 20); do curl -sf -o /dev/null -X POST -H "Authorization: $PB_TOKEN" -H 'Content-Type: application/json' -d "{\"title\":\"task $i\",\"user\":\"$PB_USER\"}" http://127.0.0.1:8090/api/collections/tasks/records; done
for s in ${SCENARIOS:-healthz list1 create1}; do
  SCENARIO=$s wrk -t2 -c64 -d"${DURATION:-5s}" -s "$root/testdata/load/pocketbase.lua" http://127.0.0.1:8090 | tail -1
done
