#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a while each.
# Usage: scripts/fuzz.sh [duration]   (default 5s)
# The duration is anything -fuzztime takes: "5s", "30m", or "10000000x"
# (that many executions). Environment:
#   FUZZ_TARGETS  an extended regexp; only targets whose "dir/Name"
#                 matches run (default: every target)
#   FUZZ_REPORT   when 1, print a table of executions per target at the
#                 end (target, executions, elapsed, executions/s)
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-5s}
filter=${FUZZ_TARGETS:-}
report=${FUZZ_REPORT:-0}
out=$(mktemp "${TMPDIR:-/tmp}/zapgate-fuzz.XXXXXX")
trap 'rm -f "$out"' EXIT
fail=0
count=0
table=""
while IFS=: read -r file name; do
	dir=$(dirname "$file")
	if [ -n "$filter" ] && ! grep -qE "$filter" <<<"$dir/$name"; then
		continue
	fi
	echo "fuzz ./$dir $name ($time)"
	ok=0
	for attempt in 1 2; do
		if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time" "./$dir" >"$out" 2>&1; then
			ok=1
			break
		fi
		# Go 1.26's fuzz coordinator can report a bare "context deadline
		# exceeded" when -fuzztime ends while a worker is busy
		# (golang/go#75804, fixed in Go 1.27): nothing was found and no
		# input was written. Run such a target once more; any other
		# failure, or a written failing input, fails at once.
		if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$out" &&
			! grep -qiE 'failing input|panic:' "$out" &&
			! grep -qE '^\s+\S+_test\.go:[0-9]+:' "$out"; then
			echo "  $name: Go fuzz coordinator deadline race (golang/go#75804), nothing found; running it again"
			continue
		fi
		break
	done
	if [ "$ok" = 0 ]; then
		cat "$out"
		fail=1
	fi
	if [ "$report" = 1 ]; then
		# The coordinator's last progress line holds the totals:
		# "fuzz: elapsed: 1m0s, execs: 123456 (2057/sec), new interesting: ..."
		last=$(grep -E '^fuzz: elapsed: [^,]+, execs: [0-9]+' "$out" | tail -n 1 || true)
		execs=$(sed -E 's/.*execs: ([0-9]+).*/\1/' <<<"$last")
		elapsed=$(sed -E 's/^fuzz: elapsed: ([^,]+),.*/\1/' <<<"$last")
		status=ok
		[ "$ok" = 1 ] || status=FAILED
		table+=$(printf '%-22s %-24s %14s %10s %s' "./$dir" "$name" "${execs:-?}" "${elapsed:-?}" "$status")$'\n'
		echo "  $name: ${execs:-?} executions in ${elapsed:-?}"
	fi
	count=$((count + 1))
done < <(grep -rHoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed -E 's#^\./##; s#:func #:#' | sort)
echo "fuzz targets run: $count"
if [ "$report" = 1 ] && [ -n "$table" ]; then
	printf '\n%-22s %-24s %14s %10s %s\n' package target executions elapsed status
	printf '%s' "$table"
fi
[ "$count" -gt 0 ] || { echo "no fuzz targets found"; exit 1; }
exit $fail
