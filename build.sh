#!/usr/bin/env bash
# The two README commands. `./build.sh sample` restores and runs the trips sample on the in-memory interpreter;
# `./build.sh test` builds everything, packs the packages into artifacts/packages, starts a throwaway PostgreSQL,
# runs every test suite and the consumer project that restores the packages (tests/consumer), and stops it.
# `./build.sh pack` only builds and packs.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Paket reads its feed from NUGET_SOURCE (paket.dependencies says `source %NUGET_SOURCE%`):
# default to the machine's first enabled NuGet source.
if [ -z "${NUGET_SOURCE:-}" ]; then
  NUGET_SOURCE=$(dotnet nuget list source --format short | awk '$1=="E"{print $2; exit}')
  export NUGET_SOURCE
fi

restore() {
  dotnet tool restore >/dev/null
  dotnet paket restore >/dev/null
}

need_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing PostgreSQL server binaries..."
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      echo "PostgreSQL server binaries (initdb, pg_ctl) are required" >&2; exit 1
    fi
  fi
}

# The one version of all packages (Directory.Build.props).
package_version() {
  sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1
}

# Packs every packable project (those under src/) of the built solution into artifacts/packages, with symbols.
pack_built() {
  rm -rf artifacts/packages
  dotnet pack Fable.sln -c Release --no-build -nologo -v quiet -clp:ErrorsOnly -o artifacts/packages
  ls artifacts/packages
}

pack() {
  restore
  dotnet build Fable.sln -c Release -nologo -v quiet -clp:ErrorsOnly
  pack_built
}

# A user's project outside the solution (tests/consumer, NuGet, no Paket) restores the packed packages from
# artifacts/packages plus the machine's source, and runs the README's quick start in memory and on PostgreSQL.
consumer() {
  rm -rf artifacts/consumer-packages/fable.eventsourcing.* tests/consumer/obj tests/consumer/bin
  dotnet run --project tests/consumer -c Release -p:FableVersion="$(package_version)"
}

sample() {
  restore
  dotnet run --project samples/Trips -c Release -- "$@"
}

# Reads "N passed, N failed" (the last such line) from a log; prints "P F".
counts_of() {
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1 || true)
  if [ -z "$line" ]; then echo "0 1"; else echo "$line" | awk '{print $1, $3}'; fi
}

# Reads the summary `dotnet test` prints ("Passed!  - Failed: 0, Passed: 12, ...").
dotnet_test_counts() {
  local f p
  f=$(grep -Eo 'Failed:[[:space:]]+[0-9]+' "$1" | awk '{s+=$2} END {print s+0}')
  p=$(grep -Eo ', Passed:[[:space:]]+[0-9]+' "$1" | awk '{s+=$3} END {print s+0}')
  if ! grep -qE '(Passed|Failed)!' "$1"; then f=$((f + 1)); fi
  echo "$p $f"
}

# The names of the failed tests in a test log: Expecto's "<name> failed|errored in <time>" lines and the .NET test
# SDK's "  Failed <name> [<time>]" lines.
failed_names_in() {
  { grep -E '\] .* (failed|errored) in [0-9:.]+ <Expecto>' "$1" | sed -E 's/^.*\] (.*) (failed|errored) in [0-9:.]+ <Expecto>.*$/\1/' || true
    grep -E '^[[:space:]]+Failed [^[:space:]]' "$1" | sed -E 's/^[[:space:]]+Failed (.*) \[[^]]*\]$/\1/' || true; }
}

test_all() {
  need_postgres
  restore
  dotnet build Fable.sln -c Release -nologo -v quiet -clp:ErrorsOnly
  echo "== pack (artifacts/packages)"
  pack_built
  local pgdir
  pgdir=$(mktemp -d /tmp/fable-pg.XXXXXX)
  trap 'scripts/pg-server.sh stop "'"$pgdir"'"' EXIT
  FABLE_PG_CONNECTION=$(scripts/pg-server.sh start "$pgdir")
  export FABLE_PG_CONNECTION
  local logs passed=0 failed=0 failures=""
  logs=$(mktemp -d /tmp/fable-logs.XXXXXX)
  # Adds LOG's counts (read by COUNTER: counts_of or dotnet_test_counts) to the totals, and the names of its failed
  # tests to $failures, each under LABEL.
  tally() {
    local counter=$1 label=$2 log=$3 p f names
    read -r p f < <("$counter" "$log"); passed=$((passed + p)); failed=$((failed + f))
    [ "$f" = 0 ] && return 0
    names=$(failed_names_in "$log")
    if [ -z "$names" ]; then names="$f failed (no test named in its output above)"; fi
    failures+=$(echo "$names" | sed "s/^/  $label: /")$'\n'
  }

  echo "== F# properties (in-memory and PostgreSQL)"
  dotnet run --project tests/Fable.Properties -c Release --no-build 2>&1 | tee "$logs/props.log" || true
  tally counts_of Fable.Properties "$logs/props.log"

  # Every test project that uses the .NET test SDK (xunit), in name order: tests/*/ and samples/*/ alike.
  local proj name
  for proj in $(ls tests/*/*.csproj tests/*/*.fsproj samples/*/*.csproj samples/*/*.fsproj 2>/dev/null | sort); do
    cat "$proj" "$(dirname "$proj")/paket.references" 2>/dev/null | grep -q 'Microsoft.NET.Test.Sdk' || continue
    name=$(basename "$proj" | sed 's/\.[cf]sproj$//')
    echo "== $name"
    dotnet test "$proj" -c Release --no-build 2>&1 | tee "$logs/$name.log" || true
    tally dotnet_test_counts "$name" "$logs/$name.log"
  done

  echo "== consumer of the packed packages (tests/consumer)"
  consumer 2>&1 | tee "$logs/consumer.log" || true
  tally counts_of consumer "$logs/consumer.log"

  # A smoke run counts as one test: passed when the command succeeds (its output goes to $logs/NAME.log).
  smoke() {
    local name=$1; shift
    if "$@" 2>&1 | tee "$logs/$name.log"; then passed=$((passed + 1)); else
      failed=$((failed + 1)); failures+="  smoke run $name: $* exited with an error"$'\n'; fi
  }
  if [ -d bench ]; then
    echo "== benchmark smoke run (quick mode)"
    smoke bench dotnet run --project bench/Fable.Bench -c Release --no-build -- --quick
    echo "== statement-level smoke run (bench/statements/guarantees.sh --quick)"
    smoke statements bench/statements/guarantees.sh --quick
  fi

  # The failed tests by name, next to the count (a CI log may show only its end).
  if [ -n "$failures" ]; then echo "== failed"; printf '%s' "$failures"; fi
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}

case "${1:-}" in
  sample) shift; sample "$@" ;;
  test) test_all ;;
  pack) pack ;;
  *) echo "usage: ./build.sh sample [--postgres CONNECTION] | ./build.sh test | ./build.sh pack" >&2; exit 2 ;;
esac
