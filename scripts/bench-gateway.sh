#!/usr/bin/env bash
# bench-gateway.sh: load run of the egress gateway as real processes, on loopback only.
#
# Starts a local HTTPS stand-in for www.google.com and `egret gateway` (config rendered from
# examples/bookinfo-egress, SVIDs from `egret ca issue`), then runs `egret loadgen` (keep-alive, HTTP/2)
# at each concurrency, ROUNDS times, on two paths:
#   direct:   client → stand-in                (TLS, verified against the stand-in's CA)
#   gateway:  client → gateway → stand-in      (mTLS with the productpage SVID; the gateway decides,
#                                               originates TLS and forwards)
# The gateway's CPU and RSS are sampled around each gateway run (--watch-pid). Prints a Markdown table
# of the medians over the rounds, and the gateway's access-log status counts.
#
# Usage: scripts/bench-gateway.sh            (from the repository root)
# Environment: CONCURRENCY (default "1 16 64"), REQUESTS per run (default 20000), DURATION per run
# (default 15s), ROUNDS (default 3), KEEP=1 keeps the temp dir.
set -euo pipefail

CONCURRENCY=${CONCURRENCY:-"1 16 64"}
REQUESTS=${REQUESTS:-20000}
DURATION=${DURATION:-15s}
ROUNDS=${ROUNDS:-3}

repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/egret-bench-gateway.XXXXXX")
pids=()

cleanup() {
	local rc=$?
	# Stop only what this script started, by PID: SIGTERM first (the gateway drains), then SIGKILL.
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ ${KEEP:-0} == 1 || $rc != 0 ]]; then
		echo "temp dir kept: $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "bench-gateway: $*" >&2
	exit 1
}

# free_port prints a loopback TCP port nothing listens on (the kernel's choice, via python3 when there).
free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	for _ in $(seq 20); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# wait_for FILE PATTERN: wait up to 20 s for a line matching PATTERN in FILE and print it.
wait_for() {
	for _ in $(seq 200); do
		if grep -m1 -E "$2" "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

echo "building egret…" >&2
cd "$repo"
go build -o "$tmp/egret" ./cmd/egret
go build -o "$tmp/standin" ./test/load/standin
egret=$tmp/egret

# Identities: the gateway's own SVID and a mesh client the example's AccessPolicy allows.
gw_id=spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway
client_id=spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage
"$egret" ca init --data-dir "$tmp/ca" >/dev/null
"$egret" ca issue --data-dir "$tmp/ca" --identity "$gw_id" --out "$tmp/gw" >/dev/null
"$egret" ca issue --data-dir "$tmp/ca" --identity "$client_id" --out "$tmp/client" >/dev/null
"$egret" render gateway-config -f examples/bookinfo-egress \
	--gateway cluster1/gloo-mesh-gateways/istio-egressgateway --out "$tmp/gw.json"

# The stand-in for www.google.com.
"$tmp/standin" --listen 127.0.0.1:0 --host www.google.com --ca-out "$tmp/standin-ca.pem" \
	>"$tmp/standin.out" 2>"$tmp/standin.err" &
pids+=($!)
standin_addr=$(wait_for "$tmp/standin.out" '^127\.0\.0\.1:[0-9]+$') || die "stand-in did not start: $(cat "$tmp/standin.err")"

# The gateway: listener on a free port, readiness on another, admin off; www.google.com:443 goes to
# the stand-in, verified against its CA.
ready_port=$(free_port)
"$egret" gateway --config "$tmp/gw.json" \
	--cert "$tmp/gw/svid.pem" --key "$tmp/gw/key.pem" --bundle "$tmp/gw/bundle.pem" \
	--address 127.0.0.1 --port 8443=0 --admin "" --ready "127.0.0.1:$ready_port" \
	--resolve "www.google.com:443=$standin_addr" --upstream-ca "$tmp/standin-ca.pem" \
	--access-log "$tmp/access.log" >"$tmp/gateway.out" 2>"$tmp/gateway.err" &
gw_pid=$!
pids+=("$gw_pid")
line=$(wait_for "$tmp/gateway.err" '"msg":"listener"') || die "gateway did not start: $(cat "$tmp/gateway.err")"
gw_addr=$(sed -E 's/.*"address":"([^"]+)".*/\1/' <<<"$line")
[[ $gw_addr =~ ^127\.0\.0\.1:[0-9]+$ ]] || die "unexpected gateway address in: $line"
for _ in $(seq 100); do
	curl -fsS -o /dev/null "http://127.0.0.1:$ready_port/healthz/ready" 2>/dev/null && break
	sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$ready_port/healthz/ready" || die "gateway not ready: $(cat "$tmp/gateway.err")"
echo "stand-in $standin_addr, gateway $gw_addr (pid $gw_pid)" >&2
rss_idle=$(awk '/^VmRSS/ {print $2}' "/proc/$gw_pid/status")

common=(--h2 --requests "$REQUESTS" --duration "$DURATION" -o tsv)
# shellcheck disable=SC2206
conc=($CONCURRENCY)
conc_flag=$(
	IFS=,
	echo "${conc[*]}"
)
results=$tmp/results.tsv
: >"$results"
status=0
for round in $(seq "$ROUNDS"); do
	echo "round $round of $ROUNDS…" >&2
	# Direct: the client verifies the stand-in as www.google.com by its CA; the URL is still loopback.
	"$egret" loadgen --url "https://$standin_addr/" --host www.google.com --cacert "$tmp/standin-ca.pem" \
		--concurrency "$conc_flag" --label direct "${common[@]}" >"$tmp/direct.$round.tsv" 2>>"$tmp/loadgen.err" || status=1
	# Through the gateway: mTLS with the client SVID, the gateway verified by its SPIFFE ID, authority
	# www.google.com (port 80 implied, the route's portMatch).
	"$egret" loadgen --url "https://$gw_addr/" --host www.google.com \
		--cacert "$tmp/client/bundle.pem" --cert "$tmp/client/svid.pem" --key "$tmp/client/key.pem" \
		--server-spiffe-id "$gw_id" --watch-pid "$gw_pid" \
		--concurrency "$conc_flag" --label gateway "${common[@]}" >"$tmp/gateway.$round.tsv" 2>>"$tmp/loadgen.err" || status=1
	tail -n +2 "$tmp/direct.$round.tsv" >>"$results"
	tail -n +2 "$tmp/gateway.$round.tsv" >>"$results"
done
kill -0 "$gw_pid" 2>/dev/null || die "the gateway exited during the run: $(tail -5 "$tmp/gateway.err")"
rss_hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$gw_pid/status")
rss_end=$(awk '/^VmRSS/ {print $2}' "/proc/$gw_pid/status")

# median LABEL CONC COLUMN: the median (lower middle for an even count) of one column over the rounds.
median() {
	awk -F'\t' -v l="$1" -v c="$2" -v col="$3" '$1 == l && $2 == c && $col != "" {print $col}' "$results" |
		sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print "–"}'
}
sum() {
	awk -F'\t' -v l="$1" -v c="$2" -v col="$3" '$1 == l && $2 == c {s += $col} END {print s + 0}' "$results"
}
ms() { awk -v v="$1" 'BEGIN {if (v == "–") print v; else if (v >= 1000) printf "%.2f ms", v / 1000; else printf "%.0f µs", v}'; }

echo
echo "Medians of $ROUNDS rounds; $REQUESTS requests or $DURATION per run, HTTP/2, keep-alive; $(nproc) cores."
echo
echo "| concurrency | path | req/s | p50 | p90 | p99 | errors (all rounds) | gateway CPU / 1,000 req | gateway/direct req/s |"
echo "|--:|---|--:|--:|--:|--:|--:|--:|--:|"
for c in "${conc[@]}"; do
	d_rps=$(median direct "$c" 7)
	g_rps=$(median gateway "$c" 7)
	for path in direct gateway; do
		rps=$(median "$path" "$c" 7)
		cpu="–"
		ratio="–"
		if [[ $path == gateway ]]; then
			cpu=$(awk -v v="$(median gateway "$c" 13)" 'BEGIN {printf "%.0f ms", v}')
			ratio=$(awk -v g="$g_rps" -v d="$d_rps" 'BEGIN {if (d > 0) printf "%.2f", g / d; else print "–"}')
		fi
		label="client → stand-in"
		[[ $path == gateway ]] && label="client → gateway → stand-in"
		printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n' "$c" "$label" "$rps" \
			"$(ms "$(median "$path" "$c" 8)")" "$(ms "$(median "$path" "$c" 9)")" "$(ms "$(median "$path" "$c" 10)")" \
			"$(sum "$path" "$c" 4)" "$cpu" "$ratio"
	done
done
echo
echo "Gateway RSS: $((rss_idle / 1024)) MiB idle before the runs, $((rss_end / 1024)) MiB after, peak $((rss_hwm / 1024)) MiB."
echo
echo "Gateway access log, requests by status and response flags:"
if command -v jq >/dev/null; then
	jq -r '"\(.response_code) \(.response_flags)"' "$tmp/access.log" | sort | uniq -c | sed 's/^/    /'
else
	wc -l <"$tmp/access.log" | sed 's/^/    lines: /'
fi
if [[ $status != 0 ]]; then
	echo
	echo "loadgen reported errors:" >&2
	sort "$tmp/loadgen.err" | uniq -c | sort -rn | head -10 >&2
	exit 1
fi
