#!/usr/bin/env bash
# A throwaway primary with a synchronous streaming-replication hot standby, loopback only, for the failover test
# (as the `postgres` user when run as root). `start DIR` prints "PRIMARY_PORT STANDBY_PORT" once the standby is the
# primary's synchronous standby; `failover DIR` stops the primary (immediate) and promotes the standby; `stop DIR`.
set -euo pipefail

cmd=${1:?usage: pg-replicated.sh start|failover|stop DIR}
dir=${2:?usage: pg-replicated.sh start|failover|stop DIR}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] || bindir=$(dirname "$(command -v pg_ctl)")

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
psql_on() { # PORT SQL...
  local port=$1; shift
  as_owner "$bindir/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

case "$cmd" in
start)
  if [ ! -x "$bindir/initdb" ]; then
    echo "pg-replicated.sh: PostgreSQL server binaries not found (install postgresql)" >&2; exit 1
  fi
  mkdir -p "$dir/sock"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir" "$dir/sock"; fi
  p1=$(free_port); p2=$(free_port)
  as_owner "$bindir/initdb" -D "$dir/primary" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
  # Commits wait for the standby's flush (synchronous_commit = on with a named synchronous standby): what a
  # writer was told is committed survives the primary. fsync stays off: the machine itself does not crash here.
  cat >>"$dir/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
max_connections = 200
wal_level = replica
max_wal_senders = 5
hot_standby = on
synchronous_commit = on
fsync = off
EOF
  as_owner "$bindir/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w -t 60 -o "-p $p1" start >/dev/null
  # An ordinary role owning its database (not named like Fable's schema).
  psql_on "$p1" -c "CREATE ROLE fable_app LOGIN NOSUPERUSER" -c "CREATE DATABASE fable_app OWNER fable_app" >/dev/null
  # A fast checkpoint: the default spreads the backup's checkpoint over minutes, for nothing on a new cluster.
  as_owner "$bindir/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres -D "$dir/standby" -X stream -R --checkpoint=fast >"$dir/basebackup.log" 2>&1
  cat >>"$dir/standby/postgresql.auto.conf" <<EOF
primary_conninfo = 'host=127.0.0.1 port=$p1 user=postgres application_name=standby'
EOF
  as_owner "$bindir/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w -t 60 -o "-p $p2" start >/dev/null
  # Synchronous only now that the standby exists (before, every commit would wait for it).
  psql_on "$p1" -c "ALTER SYSTEM SET synchronous_standby_names = 'standby'" -c "SELECT pg_reload_conf()" >/dev/null
  for _ in $(seq 1 300); do
    state=$(psql_on "$p1" -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'" || true)
    [ "$state" = sync ] && break
    sleep 0.1
  done
  if [ "${state:-}" != sync ]; then echo "pg-replicated.sh: the standby did not become synchronous" >&2; exit 1; fi
  echo "$p1" >"$dir/primary.port"; echo "$p2" >"$dir/standby.port"
  echo "$p1 $p2"
  ;;
failover)
  as_owner "$bindir/pg_ctl" -D "$dir/primary" -m immediate -w stop >/dev/null
  as_owner "$bindir/pg_ctl" -D "$dir/standby" -w -t 60 promote >/dev/null
  ;;
stop)
  for node in primary standby; do
    if [ -f "$dir/$node/postmaster.pid" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/$node" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$dir"
  ;;
*)
  echo "usage: pg-replicated.sh start|failover|stop DIR" >&2; exit 2 ;;
esac
