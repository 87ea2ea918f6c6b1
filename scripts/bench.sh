#!/usr/bin/env bash
# Runs every Go benchmark in the module and prints the results, then a
# summary of the ratios (each measured against a baseline in the same run).
# Usage: scripts/bench.sh [benchtime]   (default 2s)
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-2s}
pkgs=$(grep -rlE '^func Benchmark' --include='*_test.go' . | xargs -n1 dirname | sort -u | sed 's#^\./#./#')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "benchmarks (benchtime $time, GOMAXPROCS $(nproc)) in: $(echo $pkgs)"
go test -run='^$' -bench=. -benchmem -benchtime="$time" $pkgs | tee "$out"
echo
echo "== ratios against same-run baselines =="
awk '/ratio/ {
	for (i = 1; i < NF; i++) if ($(i+1) == "ratio") r = $i;
	for (i = 1; i < NF; i++) if ($(i+1) ~ /handshakes\/s|roundtrips\/s|records\/s/) printf "  %-28s %14s %s\n", "", $i, $(i+1);
	printf "%-40s ratio %s\n", $1, r
}' "$out"
