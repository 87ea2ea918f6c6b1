#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time each.
# Usage: scripts/fuzz.sh [duration]   (default 5s)
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-5s}
fail=0
count=0
while IFS=: read -r file name; do
	dir=$(dirname "$file")
	echo "fuzz ./$dir $name ($time)"
	if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time" "./$dir" >/tmp/zapgate-fuzz.$$ 2>&1; then
		cat /tmp/zapgate-fuzz.$$
		fail=1
	fi
	count=$((count + 1))
done < <(grep -rHoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed -E 's#^\./##; s#:func #:#' | sort)
rm -f /tmp/zapgate-fuzz.$$
echo "fuzz targets run: $count"
[ "$count" -gt 0 ] || { echo "no fuzz targets found"; exit 1; }
exit $fail
