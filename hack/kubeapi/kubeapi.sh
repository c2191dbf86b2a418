#!/usr/bin/env bash
# kubeapi.sh — a real, throw-away kube-apiserver (+ etcd) for validating
# rendered Kubernetes YAML in tests and CI. No kubelet, no controller-manager:
# only the API server's admission chain, OpenAPI/strict field validation,
# Pod Security admission and CRD structural schemas are exercised.
#
# Usage:
#   kubeapi.sh build            build kube-apiserver + kubectl into the cache
#                               (minutes; needs the Go module proxy or a warm
#                               module cache)
#   kubeapi.sh crds             fetch the CNPG / prometheus-operator CRDs
#   kubeapi.sh check            exit 0 if `start` has everything it needs, else
#                               exit 3 naming each missing prerequisite and the
#                               command that provides it (never builds or
#                               downloads anything)
#   kubeapi.sh start <workdir>  start etcd + kube-apiserver, apply the CRDs
#   kubeapi.sh stop <workdir>   stop exactly the processes `start` started
#   kubeapi.sh cache-dir        print the versioned cache directory
#
# Environment:
#   KUBEAPI_CACHE        cache root (default ~/.cache/synapse-kubeapi)
#   KUBEAPI_PARENT_PID   if set, `start` also launches a watchdog that stops
#                        the server once that process exits (so a crashed or
#                        timed-out `go test` does not leak etcd/apiserver)
#   KUBEAPI_READY_TIMEOUT seconds to wait for /readyz (default 120)
#
# Exit codes: 0 ok, 1 failure, 3 a prerequisite is missing (callers such as
# internal/kubeapitest turn 3 into a test skip unless REQUIRE_REAL_TOOLS=1).
# Tests only run `check`, `start` and `stop`: they never build or download,
# so `go test ./...` stays fast and works offline.
set -euo pipefail

K8S_VERSION=v1.36.3
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS_DIR="$HERE/tools"
CACHE_ROOT="${KUBEAPI_CACHE:-${HOME:-/tmp}/.cache/synapse-kubeapi}"
CACHE="$CACHE_ROOT/$K8S_VERSION"

# CRDs the project's manifests use, taken from the upstream module zips via
# the Go module proxy (the only source of upstream files reachable in CI).
# Format: module@version|path inside the module.
CRD_SOURCES=(
	"github.com/cloudnative-pg/cloudnative-pg@v1.27.1|config/crd/bases/postgresql.cnpg.io_clusters.yaml"
	"github.com/cloudnative-pg/cloudnative-pg@v1.27.1|config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml"
	"github.com/cloudnative-pg/cloudnative-pg@v1.27.1|config/crd/bases/postgresql.cnpg.io_databases.yaml"
	"github.com/cloudnative-pg/plugin-barman-cloud@v0.15.0|config/crd/bases/barmancloud.cnpg.io_objectstores.yaml"
	"github.com/prometheus-operator/prometheus-operator@v0.85.0|example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
	"github.com/prometheus-operator/prometheus-operator@v0.85.0|example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
)
# Names to wait for (Established) after applying the CRDs.
CRD_NAMES=(
	clusters.postgresql.cnpg.io
	scheduledbackups.postgresql.cnpg.io
	databases.postgresql.cnpg.io
	objectstores.barmancloud.cnpg.io
	servicemonitors.monitoring.coreos.com
	prometheusrules.monitoring.coreos.com
)

log() { printf 'kubeapi: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
cmd_cache_dir() { printf '%s\n' "$CACHE"; }

cmd_build() {
	mkdir -p "$CACHE"
	# Several test packages may call `build` at once; serialise them so only
	# one compiles and the others find the finished binaries.
	exec 9>"$CACHE/.build.lock"
	flock 9
	if [[ -x "$CACHE/kube-apiserver" && -x "$CACHE/kubectl" ]]; then
		log "binaries cached in $CACHE"
		return 0
	fi
	command -v go >/dev/null 2>&1 || die "'go' not found: the Go toolchain builds kube-apiserver and kubectl"
	log "building kube-apiserver + kubectl $K8S_VERSION (cold: ~6 min on 2 cores)"
	local tmp start
	# Leftovers of an interrupted build (we hold the lock, so none is live).
	rm -rf "$CACHE"/.tmp-build.*
	tmp="$(mktemp -d "$CACHE/.tmp-build.XXXXXX")"
	start=$SECONDS
	# Version stamps make `kubectl version` and /version report the real
	# release instead of v0.0.0-master. CGO off: static binaries, no C
	# toolchain needed, as upstream release builds of these two commands.
	local v=k8s.io/component-base/version cv=k8s.io/client-go/pkg/version
	local ldflags="-s -w"
	local pkg
	for pkg in "$v" "$cv"; do
		ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=36"
		ldflags+=" -X $pkg.gitTreeState=clean"
	done
	# The tools module is separate so the root module's `go test ./...` never
	# compiles Kubernetes; -mod=readonly so a stale go.sum fails loudly.
	if ! (cd "$TOOLS_DIR" && CGO_ENABLED=0 go build -mod=readonly -trimpath \
		-ldflags "$ldflags" -o "$tmp/" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl); then
		rm -rf "$tmp"
		# Only people and CI run `build` (tests never do), so a failure is
		# a failure, not a skip.
		die "go build of kube-apiserver/kubectl failed (offline with an empty module cache?)"
	fi
	# Move into place only when both exist, so an interrupted build never
	# looks cached.
	mv "$tmp/kube-apiserver" "$tmp/kubectl" "$CACHE/"
	rm -rf "$tmp"
	log "built in $((SECONDS - start))s: $(du -sh "$CACHE" | cut -f1) in $CACHE"
}

cmd_crds() {
	mkdir -p "$CACHE/crds"
	local entry mod file dest dir json scratch
	for entry in "${CRD_SOURCES[@]}"; do
		mod="${entry%%|*}"
		file="${entry#*|}"
		dest="$CACHE/crds/$(basename "$file")"
		[[ -s "$dest" ]] && continue
		command -v go >/dev/null 2>&1 || die "'go' not found: go mod download fetches the CRDs"
		# Run outside any module so `go mod download` neither needs nor edits
		# a go.mod; GOFLAGS cleared so e.g. -mod=vendor cannot interfere.
		scratch="$(mktemp -d)"
		if ! json="$(cd "$scratch" && GOFLAGS='' GO111MODULE=on go mod download -json "$mod")"; then
			rmdir "$scratch"
			die "go mod download $mod failed (offline?): $json"
		fi
		rmdir "$scratch"
		dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
		[[ -n "$dir" && -f "$dir/$file" ]] || die "$file not found in $mod (download output: $json)"
		cp "$dir/$file" "$dest.tmp"
		chmod 0644 "$dest.tmp"
		mv "$dest.tmp" "$dest"
		log "CRD $(basename "$file") from $mod"
	done
}

# how_to SUBCOMMAND prints the command that runs this script's SUBCOMMAND from
# the repository root, with KUBEAPI_CACHE if the caller set one, so that a
# skip message can be pasted as is.
how_to() {
	local prefix=""
	[[ -z "${KUBEAPI_CACHE:-}" ]] || prefix="KUBEAPI_CACHE=$(printf '%q' "$KUBEAPI_CACHE") "
	printf '%sbash hack/kubeapi/kubeapi.sh %s' "$prefix" "$1"
}

# check_prereqs prints one line per missing prerequisite of `start` (what is
# missing: the command that provides it) and returns 1 if any is missing.
check_prereqs() {
	local bad=0 tool crd
	local -A pkg=([etcd]=etcd-server [openssl]=openssl [flock]=util-linux)
	for tool in etcd openssl flock; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			printf "'%s' not found: run 'apt-get install %s' (Debian/Ubuntu)\n" "$tool" "${pkg[$tool]}"
			bad=1
		fi
	done
	if [[ ! -x "$CACHE/kube-apiserver" || ! -x "$CACHE/kubectl" ]]; then
		printf "kube-apiserver and kubectl %s are not built in %s: run '%s' from the repository root (cold: ~6 min on 2 cores; needs the Go module proxy)\n" \
			"$K8S_VERSION" "$CACHE" "$(how_to build)"
		bad=1
	fi
	for crd in "${CRD_SOURCES[@]}"; do
		if [[ ! -s "$CACHE/crds/$(basename "${crd#*|}")" ]]; then
			printf "CRDs are not fetched into %s/crds: run '%s' from the repository root (seconds; needs the Go module proxy)\n" \
				"$CACHE" "$(how_to crds)"
			bad=1
			break
		fi
	done
	return "$bad"
}

cmd_check() {
	local out
	if out="$(check_prereqs)"; then
		log "ready: etcd, openssl, flock; kube-apiserver, kubectl and CRDs in $CACHE"
		return 0
	fi
	local line
	while IFS= read -r line; do
		log "missing prerequisite: $line"
	done <<<"$out"
	exit 3
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
# There is a window between picking and binding; start retries on failure.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 40000))
		# A refused connection means no listener (bash's /dev/tcp, so no
		# dependency on ss/netstat/python).
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	die "no free port found"
}

# alive PID WORKDIR: true if PID runs and its command line mentions WORKDIR.
# Guards stop/watchdog against killing an unrelated process that reused the PID.
alive() {
	local pid="$1" wd="$2"
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
	[[ -r "/proc/$pid/stat" ]] || return 0
	# A zombie (exited, not yet reaped by whoever inherited it) answers
	# kill -0 but is gone for our purposes.
	local stat
	stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
	stat="${stat##*) }"
	[[ "${stat%% *}" != Z ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$wd"
}

gen_pki() {
	local pki="$1"
	mkdir -p "$pki"
	# Throw-away CA + serving cert for 127.0.0.1 so kubectl verifies TLS
	# instead of using --insecure-skip-tls-verify.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kubeapi-test-ca" \
		-keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
		-keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$pki/ext.cnf"
	openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
		-CAcreateserial -days 2 -extfile "$pki/ext.cnf" -out "$pki/apiserver.crt" 2>/dev/null
	# Service-account token signing key pair: kube-apiserver refuses to start
	# without --service-account-{key,signing-key}-file and an issuer.
	openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
	openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	# Static bearer token in system:masters: simplest admin auth, no client
	# certs to mint.
	local token
	token="$(openssl rand -hex 24)"
	printf '%s,kubeapi-admin,kubeapi-admin,system:masters\n' "$token" >"$pki/tokens.csv"
	chmod 0600 "$pki"/*.key "$pki/tokens.csv"
	printf '%s' "$token" >"$pki/token"
}

write_kubeconfig() {
	local wd="$1" port="$2" token
	token="$(cat "$wd/pki/token")"
	cat >"$wd/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kubeapi
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority: $wd/pki/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: kubeapi
  context:
    cluster: kubeapi
    user: admin
current-context: kubeapi
EOF
	chmod 0600 "$wd/kubeconfig"
}

# wait_etcd PORT PID WD: poll etcd's plain-HTTP /health with bash's /dev/tcp
# (no curl/etcdctl needed) until it is healthy, or the process dies.
wait_etcd() {
	local port="$1" pid="$2" wd="$3" deadline=$((SECONDS + 60)) resp
	while ((SECONDS < deadline)); do
		alive "$pid" "$wd" || return 1
		# stderr silenced inside the subshell: a refused connection is the
		# normal "not yet" answer.
		if resp="$(exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$port" &&
			printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
			timeout 5 cat <&3)" && [[ "$resp" == *'"health":"true"'* ]]; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

start_etcd() {
	local wd="$1" cport pport
	cport="$(free_port)"
	pport="$(free_port)"
	[[ "$cport" != "$pport" ]] || pport="$(free_port)"
	rm -rf "$wd/etcd-data"
	# Loopback only, single member, fresh data dir under the workdir.
	# stdin/stdout/stderr redirected so a caller capturing our output (e.g.
	# Go's exec with pipes) is not kept waiting by the background process.
	etcd --name kubeapi --data-dir "$wd/etcd-data" \
		--listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "kubeapi=http://127.0.0.1:$pport" \
		--listen-metrics-urls "" \
		</dev/null >"$wd/logs/etcd.log" 2>&1 &
	local pid=$!
	echo "$pid" >"$wd/etcd.pid"
	if wait_etcd "$cport" "$pid" "$wd"; then
		echo "$cport" >"$wd/etcd.port"
		return 0
	fi
	kill_pid "$pid" "$wd"
	rm -f "$wd/etcd.pid"
	return 1
}

start_apiserver() {
	local wd="$1" etcd_port="$2" port
	port="$(free_port)"
	"$CACHE/kube-apiserver" \
		--bind-address=127.0.0.1 \
		--advertise-address=127.0.0.1 \
		--secure-port="$port" \
		--etcd-servers="http://127.0.0.1:$etcd_port" \
		--tls-cert-file="$wd/pki/apiserver.crt" \
		--tls-private-key-file="$wd/pki/apiserver.key" \
		--client-ca-file="$wd/pki/ca.crt" \
		--token-auth-file="$wd/pki/tokens.csv" \
		--service-account-key-file="$wd/pki/sa.pub" \
		--service-account-signing-key-file="$wd/pki/sa.key" \
		--service-account-issuer=https://kubernetes.default.svc \
		--service-cluster-ip-range=10.96.0.0/16 \
		--authorization-mode=RBAC \
		--endpoint-reconciler-type=none \
		--allow-privileged=true \
		--profiling=false \
		--cert-dir="$wd/pki" \
		</dev/null >"$wd/logs/kube-apiserver.log" 2>&1 &
	# --endpoint-reconciler-type=none: the `kubernetes` Endpoints would point
	# at a loopback address, which validation rejects and which nothing here
	# needs anyway. --allow-privileged=true as on real clusters (kubeadm,
	# managed ones): otherwise privileged containers are refused by the API
	# server itself and never reach Pod Security, which is what we test.
	local pid=$!
	echo "$pid" >"$wd/kube-apiserver.pid"
	write_kubeconfig "$wd" "$port"
	local deadline=$((SECONDS + ${KUBEAPI_READY_TIMEOUT:-120}))
	while ((SECONDS < deadline)); do
		if ! alive "$pid" "$wd"; then
			log "kube-apiserver exited; last log lines:"
			tail -n 30 "$wd/logs/kube-apiserver.log" >&2 || true
			rm -f "$wd/kube-apiserver.pid"
			return 1
		fi
		if "$CACHE/kubectl" --kubeconfig "$wd/kubeconfig" --request-timeout=5s \
			get --raw /readyz >/dev/null 2>&1; then
			echo "$port" >"$wd/kube-apiserver.port"
			return 0
		fi
		sleep 1
	done
	log "kube-apiserver not ready after ${KUBEAPI_READY_TIMEOUT:-120}s; last log lines:"
	tail -n 30 "$wd/logs/kube-apiserver.log" >&2 || true
	kill_pid "$pid" "$wd"
	rm -f "$wd/kube-apiserver.pid"
	return 1
}

start_watchdog() {
	local wd="$1" parent="$2"
	# Detached loop: once the parent (the test binary) is gone, run `stop`.
	# It runs this script, so `stop` recognises and kills only our PIDs.
	(
		trap '' HUP
		while kill -0 "$parent" 2>/dev/null && [[ -f "$wd/kube-apiserver.pid" ]]; do
			sleep 2
		done
		[[ -f "$wd/kube-apiserver.pid" || -f "$wd/etcd.pid" ]] &&
			KUBEAPI_IN_WATCHDOG=1 "$0" stop "$wd"
	) </dev/null >>"$wd/logs/watchdog.log" 2>&1 &
	echo $! >"$wd/watchdog.pid"
}

cmd_start() {
	local wd="${1:?usage: kubeapi.sh start <workdir>}"
	mkdir -p "$wd"
	wd="$(cd "$wd" && pwd)"
	[[ ! -f "$wd/kube-apiserver.pid" ]] || die "$wd already has a running server (stop it first)"
	cmd_check
	mkdir -p "$wd/logs"
	local t0=$SECONDS
	gen_pki "$wd/pki"
	# Ports are picked before binding, so another process can grab one in
	# between; retry a few times rather than flake.
	local try ok=
	for try in 1 2 3; do
		if start_etcd "$wd"; then ok=1; break; fi
		log "etcd failed to start (try $try); log tail:"
		tail -n 10 "$wd/logs/etcd.log" >&2 || true
	done
	[[ -n "$ok" ]] || die "etcd did not start"
	ok=
	for try in 1 2 3; do
		if start_apiserver "$wd" "$(cat "$wd/etcd.port")"; then ok=1; break; fi
		log "kube-apiserver failed to start (try $try)"
	done
	if [[ -z "$ok" ]]; then
		cmd_stop "$wd"
		die "kube-apiserver did not start"
	fi
	if [[ -n "${KUBEAPI_PARENT_PID:-}" ]]; then
		start_watchdog "$wd" "$KUBEAPI_PARENT_PID"
	fi
	local kc=("$CACHE/kubectl" --kubeconfig "$wd/kubeconfig")
	# Server-side apply: the CNPG Cluster CRD is larger than the 256 KiB
	# last-applied-configuration annotation that client-side apply writes.
	if ! "${kc[@]}" apply --server-side --field-manager=kubeapi-sh -f "$CACHE/crds" >"$wd/logs/crds.log" 2>&1; then
		cat "$wd/logs/crds.log" >&2
		cmd_stop "$wd"
		die "applying CRDs failed"
	fi
	# Poll rather than `kubectl wait`: that errors out instead of waiting
	# when a just-created CRD has no .status.conditions yet.
	local name deadline=$((SECONDS + 60)) st
	for name in "${CRD_NAMES[@]}"; do
		while :; do
			st="$("${kc[@]}" get crd "$name" \
				-o 'jsonpath={.status.conditions[?(@.type=="Established")].status}' 2>>"$wd/logs/crds.log" || true)"
			[[ "$st" != True ]] || break
			if ((SECONDS >= deadline)); then
				cat "$wd/logs/crds.log" >&2
				cmd_stop "$wd"
				die "CRD $name not Established after 60s"
			fi
			sleep 0.5
		done
	done
	log "ready in $((SECONDS - t0))s: KUBECONFIG=$wd/kubeconfig"
}

kill_pid() {
	local pid="$1" wd="$2"
	alive "$pid" "$wd" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	# Give it 10 s to shut down cleanly, then force.
	for _ in $(seq 1 50); do
		alive "$pid" "$wd" || return 0
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
	local wd="${1:?usage: kubeapi.sh stop <workdir>}"
	[[ -d "$wd" ]] || return 0
	wd="$(cd "$wd" && pwd)"
	local name pid
	# API server first, then etcd (it is the apiserver's backend), then the
	# watchdog — unless we are the watchdog, which must not kill itself.
	for name in kube-apiserver etcd watchdog; do
		[[ -f "$wd/$name.pid" ]] || continue
		pid="$(cat "$wd/$name.pid")"
		if [[ "$name" == watchdog ]]; then
			if [[ -z "${KUBEAPI_IN_WATCHDOG:-}" ]] && kill -0 "$pid" 2>/dev/null; then
				# The watchdog's cmdline is this script's, not the workdir; it
				# is our own child subshell, identified by its PID file only.
				kill -TERM "$pid" 2>/dev/null || true
			fi
		else
			kill_pid "$pid" "$wd"
		fi
		rm -f "$wd/$name.pid"
	done
}

main() {
	local sub="${1:-}"
	shift || true
	case "$sub" in
	build) cmd_build "$@" ;;
	crds) cmd_crds "$@" ;;
	check) cmd_check ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	cache-dir) cmd_cache_dir ;;
	*)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

main "$@"
