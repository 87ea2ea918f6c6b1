#!/usr/bin/env bash
# Runs every Go benchmark in the module and prints the results, then a
# summary of the ratios (each measured against a baseline in the same run).
# The directory benchmark (integration/bench_directory_test.go, build tag
# integration) starts a Samba AD DC on 127.0.0.1:389/636 and runs once:
# each of its measurements is 200 concurrent handshakes. The flood benchmark
# (integration/flood_bench_test.go) runs bin/zapgate once, without and with
# an unknown-key flood.
# Usage: scripts/bench.sh [benchtime]   (default 2s)
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-2s}
pkgs=$(grep -rlE '^func Benchmark' --include='*_test.go' . | xargs -n1 dirname | sort -u | grep -v '^\./integration$')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "benchmarks (benchtime $time, GOMAXPROCS $(nproc)) in: $(echo $pkgs)"
go test -run='^$' -bench=. -benchmem -benchtime="$time" $pkgs | tee "$out"
echo
echo "directory benchmark against a Samba AD DC (one iteration of 200 handshakes per mode):"
go test -tags integration -run='^$' -bench=BenchmarkSambaDirectory -benchtime=1x ./integration/ | tee -a "$out"
echo
echo "unknown-key flood against \`zapgate serve\` (bin/zapgate): a bound node's handshakes and requests without and with the flood:"
go build -o bin/zapgate ./cmd/zapgate
ZAPGATE_BENCH_BIN="$PWD/bin/zapgate" go test -tags integration -run='^$' -bench=BenchmarkFloodHandshake -benchtime=1x ./integration/ | tee -a "$out"
echo
echo "== ratios against same-run baselines =="
# A "ratio" unit is one summary line per benchmark; a "NAME-ratio" unit is
# one line per name. Rates (…/s) and directory query counts are shown above
# their ratios.
awk '/ratio/ {
	for (i = 1; i < NF; i++) if ($(i+1) ~ /handshakes\/s|roundtrips\/s|records\/s|queries$/) printf "  %-28s %14s %s\n", "", $i, $(i+1);
	for (i = 1; i < NF; i++) {
		if ($(i+1) == "ratio") printf "%-40s ratio %s\n", $1, $i;
		else if ($(i+1) ~ /-ratio$/) printf "%-40s %s %s\n", $1, $(i+1), $i;
	}
}' "$out"
