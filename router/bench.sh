#!/usr/bin/env bash
# Router benchmarks through the real haproxy on loopback (issue #6), as
# markdown tables.
#
#   router/bench.sh                   # -benchtime 2s -count 3
#   BENCHTIME=5s COUNT=5 router/bench.sh
#
# Needs haproxy ($HAPROXY, PATH or /usr/sbin/haproxy); without it the
# benchmarks skip, and this script says so. Figures are medians over the
# -count runs, with min–max for rates. The raw `go test` output is kept in
# $OUT (for benchstat).
#
# BenchmarkSyncRemap/N=n: one op sends one /sync for each of 10,000 users
# with n synchrotrons up, then with n+1; "remapped" is the share of users
# whose synchrotron changed (ideal 1/(n+1)); max/mean is the busiest
# synchrotron's users over the average, after growth.
# BenchmarkThroughput: requests/s of the request table from 8 keep-alive
# clients, through the generated prod config, through the same config routed
# by a request header (same backends and servers, no route lookup: what
# spreading over the plan's processes costs by itself) and through a
# one-backend baseline (same global/defaults, no routing); /ratio interleaves
# the three in chunks so that the machine's noise falls on all alike.
# "haproxy CPU" is the haproxy process's CPU time per request (/proc
# schedstat): the cost of the config itself, steadier than wall time on a
# shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-3}
BENCHTIME=${BENCHTIME:-2s}
OUT=${OUT:-$(mktemp -t synapse-router-bench.XXXXXX)}
args=(-run '^$' -bench . -benchtime "$BENCHTIME" -count "$COUNT")

bin=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
hv=$("$bin" -v 2>/dev/null | sed -n 1p) || true
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
echo "running: go test ${args[*]} ./router/  (raw output: $OUT)" >&2
# HAProxy's request log is printed only when a benchmark fails; keep the
# benchmark lines on the terminal.
if ! go test "${args[@]}" ./router/ >"$OUT" 2>&1; then
	grep -v '^        127\.0\.0\.1:' "$OUT" | tail -40 >&2
	echo "go test failed (raw output: $OUT)" >&2
	exit 1
fi
grep -E '^(Benchmark|cpu:|--- SKIP|ok|PASS)' "$OUT" >&2 || true
if ! grep -q '^Benchmark.*req/s' "$OUT"; then
	echo "no benchmark figures: is haproxy installed?" >&2
	exit 1
fi

echo
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}; ${hv:-haproxy version unknown}; $(go version | cut -d' ' -f3-); -benchtime $BENCHTIME -count $COUNT"
echo
awk '
function sortv(key,   n, i, j, t) {
	n = cnt[key]
	for (i = 1; i <= n; i++) v[i] = val[key, i]
	for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	return n
}
function median(key,   n) {
	n = sortv(key)
	if (n == 0) return ""
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function fmt(x, d) { return x == "" ? "–" : sprintf("%." d "f", x) }
function spread(key,   n, m) {
	m = median(key)
	if (m == "") return "–"
	n = sortv(key)
	return sprintf("%.3f (%.3f–%.3f)", m, v[1], v[n])
}
function rate(key,   n, m) {
	m = median(key)
	if (m == "") return "–"
	n = sortv(key)
	return sprintf("%.0f (%.0f–%.0f)", m, v[1], v[n])
}
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	for (i = 3; i + 1 <= NF; i += 2) {
		key = name SUBSEP $(i + 1)
		val[key, ++cnt[key]] = $i
	}
	if (!(name in seen)) { seen[name] = 1; order[++nb] = name }
}
END {
	print "| sync remap | remapped fraction | ideal 1/(N+1) | bound 1.5/(N+1) | max/mean load | req/s (min–max) |"
	print "|---|---|---|---|---|---|"
	for (b = 1; b <= nb; b++) {
		name = order[b]
		if (name !~ /^BenchmarkSyncRemap\//) continue
		n = name; sub(/.*N=/, "", n)
		printf "| N=%s→%d | %s | %s | %s | %s | %s |\n", n, n + 1,
			fmt(median(name SUBSEP "remapped-fraction"), 4), fmt(median(name SUBSEP "ideal-fraction"), 4),
			fmt(1.5 / (n + 1), 4), fmt(median(name SUBSEP "max/mean-load"), 3), rate(name SUBSEP "req/s")
	}
	print ""
	print "| throughput, separate runs | req/s (min–max) | haproxy CPU µs/req |"
	print "|---|---|---|"
	g = "BenchmarkThroughput/generated"; h = "BenchmarkThroughput/header-routed"; o = "BenchmarkThroughput/one-backend"; r = "BenchmarkThroughput/ratio"
	printf "| generated (prod route table) | %s | %s |\n", rate(g SUBSEP "req/s"), fmt(median(g SUBSEP "haproxy-cpu-us/req"), 1)
	printf "| header-routed (same backends, no route lookup) | %s | %s |\n", rate(h SUBSEP "req/s"), fmt(median(h SUBSEP "haproxy-cpu-us/req"), 1)
	printf "| one-backend baseline | %s | %s |\n", rate(o SUBSEP "req/s"), fmt(median(o SUBSEP "haproxy-cpu-us/req"), 1)
	print ""
	print "| interleaved (/ratio), median (min–max) | throughput | haproxy CPU per request |"
	print "|---|---|---|"
	split("generated/one-backend header-routed/one-backend generated/header-routed", pairs, " ")
	for (k = 1; k <= 3; k++)
		printf "| %s | %s | %s |\n", pairs[k], spread(r SUBSEP pairs[k]), spread(r SUBSEP "cpu-" pairs[k])
	printf "| req/s: generated, header-routed, one-backend | %s; %s; %s | |\n",
		rate(r SUBSEP "generated-req/s"), rate(r SUBSEP "header-routed-req/s"), rate(r SUBSEP "one-backend-req/s")
}' "$OUT"
