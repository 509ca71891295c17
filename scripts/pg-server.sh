#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for tests and benchmarks (as the `postgres` user when run
# as root), on a free port with a private socket folder. `start DIR [--durable]` prints a connection string.
set -euo pipefail

cmd=${1:?usage: pg-server.sh start|stop DIR [--durable]}
dir=${2:?usage: pg-server.sh start|stop DIR [--durable]}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] || bindir=$(dirname "$(command -v pg_ctl)")

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  if [ ! -x "$bindir/initdb" ]; then
    echo "pg-server.sh: PostgreSQL server binaries not found (install postgresql)" >&2; exit 1
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  mkdir -p "$dir/sock"; if [ "$(id -u)" = 0 ]; then chown postgres "$dir/sock"; fi
  durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if [ "${3:-}" = "--durable" ]; then durability=""; fi
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB $durability" start >/dev/null
  # The library runs as an ordinary role: no superuser, owner of its own database. The role is not named like
  # Fable's schema (`fable`): with the default search_path ("$user", public) a role named `fable` would create its
  # unqualified tables inside Fable's own schema.
  as_owner "$bindir/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE fable_test LOGIN CREATEDB NOSUPERUSER" -c "CREATE DATABASE fable_test OWNER fable_test" >/dev/null
  echo "$port" >"$dir/port"
  echo "Host=127.0.0.1;Port=$port;Username=fable_test;Database=fable_test;Pooling=true;Maximum Pool Size=200"
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: pg-server.sh start|stop DIR [--durable]" >&2; exit 2 ;;
esac
