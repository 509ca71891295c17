#!/usr/bin/env bash
# Updates paket.lock until it stops changing (the feed here needs several passes), then puts the
# feed back as %NUGET_SOURCE% so no committed file names the registry's host.
set -euo pipefail
cd "$(dirname "$0")/.."
export NUGET_SOURCE=${NUGET_SOURCE:-$(dotnet nuget list source --format short | awk '$1=="E"{print $2; exit}')}
dotnet tool restore >/dev/null
prev=""
for _ in $(seq 1 12); do
  dotnet paket update >/dev/null
  sum=$(md5sum paket.lock)
  [ "$sum" = "$prev" ] && break
  prev=$sum
done
sed -i "s#remote: ${NUGET_SOURCE}#remote: %NUGET_SOURCE%#" paket.lock
