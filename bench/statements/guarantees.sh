#!/usr/bin/env bash
# What Fable's guarantees cost the server with no client library in the way: pgbench runs R2's emit and the same emit
# on Fable's schema (and variants), interleaved on a throwaway durable PostgreSQL; prints each variant's rate ÷ R2's.
# Usage: bench/statements/guarantees.sh [--quick] [--hot]; docs/benchmarks.md has the method and the last runs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# A full run: three rounds of 10 s cells (about 15 minutes). --quick: one round of 1 s cells, the smoke run of
# ./build.sh test (every variant's statements run and commit; its ratios mean little). --hot: every emit on one
# account (the table's row 2: the row lock queues the clients, so what runs under it sets the rate), one event per
# emit, 1 and 8 clients (about 7 minutes).
secs=10; rounds=3; hot=false
for arg in "$@"; do
  case "$arg" in
    --quick) secs=1; rounds=1 ;;
    --hot) hot=true ;;
    *) echo "usage: bench/statements/guarantees.sh [--quick] [--hot]" >&2; exit 2 ;;
  esac
done
counts="1 10"; aid='random(1, 10000)'
if $hot; then counts="1"; aid=1; fi
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] && [ -x "$bindir/pgbench" ] || { echo "guarantees.sh: pgbench not found (it comes with the postgresql package)" >&2; exit 1; }

work=$(mktemp -d /tmp/fable-statements.XXXXXX)
chmod 755 "$work"
cleanup() { "$root/scripts/pg-server.sh" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
"$root/scripts/pg-server.sh" start "$work/pg" --durable >/dev/null
port=$(cat "$work/pg/port")
psql() { PGOPTIONS='-c client_min_messages=error' "$bindir/psql" -h 127.0.0.1 -p "$port" -U fable_test -d fable_test -v ON_ERROR_STOP=1 -Atq "$@"; }

# The variants: r2 (the floor), g (Fable's schema and statements as the Postgres interpreter writes them), g-narrow
# (the same guarantees with the aggregate as a smallint table id and a bigint key: the schema change an upper bound
# would need), g-r2-shape (Fable's schema and ordering key written with R2's statements: a plain INSERT without
# RETURNING, then an UPDATE checked by nobody before COMMIT, so a mismatch would commit), and three that each drop one
# piece of the guarantees to show its price. Only r2, g and g-narrow keep every guarantee they claim; the rest are
# measurements, not designs to adopt.
variants="r2 g g-narrow g-r2-shape g-no-follow g-no-txkey g-no-chain"
schema_of() { echo "${1//-/_}"; }

setup_sql() {
  cat <<'SQL'
CREATE SCHEMA r2;
CREATE TABLE r2.accounts (id bigint PRIMARY KEY, version int NOT NULL, balance bigint NOT NULL);
CREATE TABLE r2.events (id bigserial PRIMARY KEY, aggregate_id bigint NOT NULL, version int NOT NULL, type_name text NOT NULL,
  data jsonb NOT NULL, meta jsonb NOT NULL, inserted_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX ON r2.events (aggregate_id, version);
INSERT INTO r2.accounts SELECT g, 0, 0 FROM generate_series(1, 10000) g;
SQL
  for v in g g-r2-shape g-no-follow g-no-txkey g-no-chain; do
    s=$(schema_of "$v")
    cat <<SQL
CREATE SCHEMA $s;
CREATE TABLE $s.accounts (id bigint PRIMARY KEY, last_event_id bigint NULL, balance bigint NOT NULL);
CREATE TABLE $s.events (id bigserial PRIMARY KEY, prev_event_id bigint NULL, aggregate_table text NOT NULL,
  aggregate_key text NOT NULL, key_kind text NOT NULL CHECK (key_kind IN ('uuid', 'int', 'text')), type_name text NOT NULL,
  type_version int NOT NULL CHECK (type_version >= 1), meta jsonb NOT NULL, data jsonb NOT NULL,
  inserted_at timestamptz NOT NULL DEFAULT now(), tx bigint NOT NULL);
CREATE UNIQUE INDEX ON $s.events (aggregate_table, aggregate_key) WHERE prev_event_id IS NULL;
SQL
    [ "$v" = g-no-chain ] || echo "CREATE UNIQUE INDEX ON $s.events (aggregate_table, aggregate_key, prev_event_id);"
    [ "$v" = g-no-follow ] || echo "CREATE INDEX ON $s.events (tx, id);"
    cat <<SQL
INSERT INTO $s.events (prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta, data, tx)
  SELECT NULL, 'accounts', g::text, 'int', 'opened', 1, '{}', '{}', 1 FROM generate_series(1, 10000) g;
INSERT INTO $s.accounts SELECT g, g, 0 FROM generate_series(1, 10000) g;
SQL
  done
  cat <<'SQL'
CREATE SCHEMA g_narrow;
CREATE TABLE g_narrow.accounts (id bigint PRIMARY KEY, last_event_id bigint NULL, balance bigint NOT NULL);
CREATE TABLE g_narrow.events (id bigserial PRIMARY KEY, prev_event_id bigint NULL, table_id smallint NOT NULL,
  aggregate_key bigint NOT NULL, type_name text NOT NULL, type_version int NOT NULL CHECK (type_version >= 1),
  meta jsonb NOT NULL, data jsonb NOT NULL, inserted_at timestamptz NOT NULL DEFAULT now(), tx bigint NOT NULL);
CREATE UNIQUE INDEX ON g_narrow.events (table_id, aggregate_key) WHERE prev_event_id IS NULL;
CREATE UNIQUE INDEX ON g_narrow.events (table_id, aggregate_key, prev_event_id);
CREATE INDEX ON g_narrow.events (tx, id);
INSERT INTO g_narrow.events (prev_event_id, table_id, aggregate_key, type_name, type_version, meta, data, tx)
  SELECT NULL, 1, g, 'opened', 1, '{}', '{}', 1 FROM generate_series(1, 10000) g;
INSERT INTO g_narrow.accounts SELECT g, g, 0 FROM generate_series(1, 10000) g;
SQL
  for v in g g-narrow g-r2-shape g-no-follow g-no-txkey g-no-chain; do
    echo "CREATE FUNCTION $(schema_of "$v").guard_row(ok boolean, what text) RETURNS void LANGUAGE plpgsql AS \$\$
      BEGIN IF NOT ok THEN RAISE EXCEPTION USING ERRCODE = 'FB409', MESSAGE = what; END IF; END \$\$;"
  done
  echo "VACUUM ANALYZE;"
}

# One emit of n events as a pgbench script. Three round trips for every variant (pgbench cannot read a result
# inside a pipeline): BEGIN; the row lock (its value read back); then INSERT + row write and COMMIT pipelined.
script() {
  local v=$1 n=$2 s rows=""
  s=$(schema_of "$v")
  echo "\\set aid $aid"
  echo 'BEGIN;'
  if [ "$v" = r2 ]; then
    echo 'SELECT version AS v FROM r2.accounts WHERE id = :aid FOR UPDATE \gset'
    for k in $(seq 0 $((n - 1))); do rows+="${rows:+, }(:aid, :v + $((k + 1)), 'deposited', '{\"Amount\": 1}'::jsonb, '{}'::jsonb)"; done
    echo '\startpipeline'
    echo "INSERT INTO r2.events (aggregate_id, version, type_name, data, meta) VALUES $rows;"
    echo "UPDATE r2.accounts SET version = :v + $n, balance = balance + $n WHERE id = :aid AND version = :v;"
  else
    echo "SELECT last_event_id AS prev FROM $s.accounts WHERE id = :aid FOR UPDATE \\gset"
    local cols key txkey
    if [ "$v" = g-narrow ]; then
      cols="id, prev_event_id, table_id, aggregate_key, type_name, type_version, meta, data, tx"; key="1, :aid"
    else
      cols="id, prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta, data, tx"; key="'accounts', :aid::text, 'int'"
    fi
    if [ "$v" = g-no-txkey ]; then txkey="pg_current_xact_id()::text::bigint"
    else txkey="GREATEST(pg_current_xact_id()::text::bigint, COALESCE((SELECT p.tx FROM $s.events p WHERE p.id = :prev), 0))"; fi
    local insert
    if [ "$n" = 1 ]; then
      insert="INSERT INTO $s.events ($cols) VALUES (nextval('$s.events_id_seq'), :prev, $key, 'deposited', 1, '{}'::jsonb, '{\"Amount\": 1}'::jsonb, $txkey) RETURNING id, tx, inserted_at"
    else
      insert="INSERT INTO $s.events ($cols) SELECT c.id, CASE WHEN c.ord = 1 THEN :prev ELSE lag(c.id) OVER (ORDER BY c.ord) END, $key, 'deposited', 1, '{}'::jsonb, '{\"Amount\": 1}'::jsonb, $txkey FROM (SELECT g AS ord, nextval('$s.events_id_seq') AS id FROM generate_series(1, $n) g) c ORDER BY c.ord RETURNING id, tx, inserted_at"
    fi
    echo '\startpipeline'
    if [ "$v" = g-r2-shape ]; then
      echo "${insert% RETURNING id, tx, inserted_at};"
      echo "UPDATE $s.accounts SET balance = balance + $n, last_event_id = currval('$s.events_id_seq') WHERE id = :aid AND last_event_id = :prev;"
    else
      echo "WITH e AS ($insert), w AS (UPDATE $s.accounts SET balance = balance + $n, last_event_id = (SELECT max(e.id) FROM e) WHERE id = :aid AND last_event_id IS NOT DISTINCT FROM :prev RETURNING 1), g AS MATERIALIZED (SELECT $s.guard_row(EXISTS (SELECT 1 FROM w), 'account ' || :aid || ' moved')) SELECT e.id, e.tx, e.inserted_at FROM e, g;"
    fi
  fi
  echo 'COMMIT;'
  echo '\endpipeline'
}

setup_sql | psql -f -
for v in $variants; do for n in 1 10; do script "$v" "$n" >"$work/$v-$n.sql"; done; done

# The machine's regime: the average latency of a single-row INSERT + COMMIT on this server (one client, 2 s).
psql -c "CREATE TABLE regime (id bigserial PRIMARY KEY, v int)"
commit_ms=$("$bindir/pgbench" -h 127.0.0.1 -p "$port" -U fable_test -n -c 1 -T 2 -f <(echo 'INSERT INTO regime (v) VALUES (1);') fable_test 2>/dev/null |
  awk '/latency average/{print $4}')
echo "Statement-level cost of the guarantees: pgbench (PostgreSQL $(basename "$(dirname "$bindir")")) on a throwaway durable server, $(nproc) CPUs,"
echo "single-row INSERT + COMMIT ${commit_ms} ms on average; ${secs} s per cell, ${rounds} round(s) interleaved (forward, reverse, forward)."
if $hot; then echo "Every emit on account 1 (--hot)."; fi

results="$work/results.tsv"
for round in $(seq 1 "$rounds"); do
  order=$variants
  if [ $((round % 2)) = 0 ]; then order=$(echo "$variants" | tr ' ' '\n' | tac | tr '\n' ' '); fi
  for n in $counts; do for c in 1 8; do for v in $order; do
    l0=$(psql -c "SELECT pg_current_wal_lsn()")
    out=$("$bindir/pgbench" -h 127.0.0.1 -p "$port" -U fable_test -n -M prepared -c "$c" -j "$(( c < 2 ? 1 : 2 ))" -T "$secs" -f "$work/$v-$n.sql" fable_test 2>&1) ||
      { echo "guarantees.sh: pgbench failed for $v ($n events, $c clients):" >&2; echo "$out" >&2; exit 1; }
    l1=$(psql -c "SELECT pg_current_wal_lsn()")
    tx=$(echo "$out" | awk '/actually processed/{print $NF}' | cut -d/ -f1)
    tps=$(echo "$out" | awk '/^tps/{print $3}')
    wal=$(psql -c "SELECT round(pg_wal_lsn_diff('$l1', '$l0') / greatest($tx, 1))")
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$c" "$v" "$tps" "$wal" >>"$results"
  done; done; done
done

# WAL per emit: the least of the rounds (a checkpoint during a cell adds full-page images to that cell's WAL).
python3 - "$results" "$variants" <<'PY'
import sys, statistics
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
variants = sys.argv[2].split()
print()
print("| events per emit | clients | variant | emits/s (median) | ÷ R2 | per round ÷ R2 | WAL bytes per emit (least) |")
print("|---:|---:|---|---:|---:|---|---:|")
for n in ("1", "10"):
    for c in ("1", "8"):
        cell = [r for r in rows if r[0] == n and r[1] == c]
        base = [float(r[3]) for r in cell if r[2] == "r2"]
        if not base:
            continue
        for v in variants:
            tps = [float(r[3]) for r in cell if r[2] == v]
            wal = [float(r[4]) for r in cell if r[2] == v]
            each = ", ".join("%.2f" % (t / b) for t, b in zip(tps, base))
            print("| %s | %s | %s | %s | %.2f | %s | %d |" % (n, c, v, format(round(statistics.median(tps)), ","),
                  statistics.median(tps) / statistics.median(base), each, min(wal)))
PY
