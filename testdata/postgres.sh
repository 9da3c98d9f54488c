#!/usr/bin/env bash
# A throwaway PostgreSQL for taskbolt's tests and load runs, on 127.0.0.1 only.
#
#   testdata/postgres.sh start   initdb (once) and start; prints the URL line to export
#   testdata/postgres.sh stop    stop it
#   testdata/postgres.sh url     print TASKBOLT_TEST_POSTGRES_URL=…
#   testdata/postgres.sh reachable   print the URL alone when a server answers on PGPORT
#
# PGPORT (25432: below the kernel's ephemeral ports, so no client connection can hold it), PGDIR (/tmp/taskbolt-pg) and PG_LIFETIME (seconds; 7200: it
# stops by itself then) change the defaults. PostgreSQL refuses to run as
# root, so as root the cluster belongs to the `postgres` user. Installs
# Debian's postgresql when no server binaries are found (needs root).
set -euo pipefail
port=${PGPORT:-25432}
dir=${PGDIR:-/tmp/taskbolt-pg}
lifetime=${PG_LIFETIME:-7200}
url="postgres://postgres@127.0.0.1:$port/taskbolt?sslmode=disable"

bindir() {
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then dirname "$(command -v pg_ctl)"; return; fi
  local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$d" ]; then
    echo "== installing postgresql (Debian)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$d"
}

as_owner() { # run a command as the cluster's owner
  if [ "$(id -u)" = 0 ]; then
    if command -v runuser >/dev/null; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

case "${1:-start}" in
start)
  bin=$(bindir)
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then useradd --system --home-dir "$dir" postgres; fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    # A server that is still shutting down may hold the port a moment.
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break; sleep 0.2; done
    # Durable as in production (fsync, synchronous_commit on); sized for load runs.
    # A socket of a closed connection (TIME_WAIT, up to 60 s) can hold the
    # port: try again for 90 s when that is what stopped it.
    for try in $(seq 10); do
      if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB -c fsync=on -c synchronous_commit=on" >/dev/null; then
        break
      fi
      if [ "$try" = 10 ] || ! tail -5 "$dir/server.log" | grep -q "Address already in use"; then
        echo "PostgreSQL did not start; the end of $dir/server.log:" >&2; tail -5 "$dir/server.log" >&2; exit 1
      fi
      sleep 9
    done
    # It stops by itself after PG_LIFETIME seconds: this cluster, whatever the caller's directory.
    nohup setsid env PGDIR="$dir" PGPORT="$port" bash -c "sleep $lifetime; $(printf '%q' "$(realpath "$0")") stop" >/dev/null 2>&1 &
  fi
  psql=$bin/psql; [ -x "$psql" ] || psql=$(command -v psql)
  as_owner "$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname = 'taskbolt'" | grep -q 1 ||
    as_owner "$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE taskbolt"
  echo "TASKBOLT_TEST_POSTGRES_URL=$url"
  ;;
stop)
  bin=$(bindir)
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
url)
  echo "TASKBOLT_TEST_POSTGRES_URL=$url"
  ;;
reachable)
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$url"; fi
  ;;
*)
  echo "usage: $0 start|stop|url|reachable" >&2; exit 2
  ;;
esac
