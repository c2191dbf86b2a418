#!/usr/bin/env bash
# Whole-stack evaluation benchmarks under mocks, as a markdown table.
#
#   bench/report.sh                 # -count 5 (COUNT=n to change)
#   BENCHTIME=2s bench/report.sh    # longer runs on a noisy machine
#   NO_BENCHSTAT=1 bench/report.sh  # skip the benchstat summary
#
# Columns are medians over the -count runs. "ratio" is stack ns/op divided by
# the engine floor's (the same number of trivial ConfigMaps through the same
# mocks harness): what the program costs beyond the SDK's own per-resource
# cost. The raw `go test` output is kept in $OUT for benchstat comparisons.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-5}
OUT=${OUT:-$(mktemp -t synapse-bench.XXXXXX)}
args=(-run '^$' -bench . -benchmem -count "$COUNT")
[[ -n "${BENCHTIME:-}" ]] && args+=(-benchtime "$BENCHTIME")

echo "machine: $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(go version | cut -d' ' -f3-)" >&2
echo "running: go test ${args[*]} ./bench/  (raw output: $OUT)" >&2
go test "${args[@]}" ./bench/ | tee "$OUT" >&2

echo
awk '
function median(key,   n, i, j, v, t) {
	n = cnt[key]
	if (n == 0) return ""
	for (i = 1; i <= n; i++) v[i] = val[key, i]
	for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
/^Benchmark(Stack|EngineFloor)\// {
	split($1, parts, "/")
	kind = parts[1]; sub(/^Benchmark/, "", kind)
	name = parts[2]; sub(/-[0-9]+$/, "", name)
	if (!(name in seen)) { seen[name] = 1; order[++nstacks] = name }
	for (i = 3; i < NF; i += 2) { key = kind SUBSEP name SUBSEP $(i + 1); val[key, ++cnt[key]] = $i + 0 }
}
END {
	print "| stack | resources | input KB | ns/op | allocs/op | floor ns/op | floor allocs/op | ratio |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|"
	for (s = 1; s <= nstacks; s++) {
		n = order[s]
		ns = median("Stack" SUBSEP n SUBSEP "ns/op"); fns = median("EngineFloor" SUBSEP n SUBSEP "ns/op")
		printf "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %s |\n", n,
			median("Stack" SUBSEP n SUBSEP "resources"),
			median("Stack" SUBSEP n SUBSEP "input-B") / 1024,
			ns, median("Stack" SUBSEP n SUBSEP "allocs/op"),
			fns, median("EngineFloor" SUBSEP n SUBSEP "allocs/op"),
			(fns > 0 ? sprintf("%.1f×", ns / fns) : "n/a")
	}
}' "$OUT"

if [[ -z "${NO_BENCHSTAT:-}" ]]; then
	# Only if it resolves through the module proxy; the table above needs
	# nothing but awk.
	if bs=$(cd "${TMPDIR:-/tmp}" && go run golang.org/x/perf/cmd/benchstat@latest "$OUT" 2>/dev/null); then
		# shellcheck disable=SC2016 # literal markdown fence
		printf '\n### benchstat\n\n```\n%s\n```\n' "$bs"
	else
		echo "benchstat unavailable; medians from awk only" >&2
	fi
fi
