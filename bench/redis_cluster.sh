#!/usr/bin/env bash
# bench/redis_cluster.sh: the Redis Cluster figures (issue 9) in one command.
#
#   bash bench/redis_cluster.sh [-n N] [--reps R]
#
# 1. Installs the Debian packages the build and the servers need when any
#    is missing (.ci/packages.sh), builds build/release (gcc, Release) and
#    its mtredis; MTREDIS_BIN=path runs that binary instead (no build).
# 2. Starts, each in a folder of one temporary directory, three masters of
#    a Redis Cluster on free loopback ports (cluster-node-timeout 1000,
#    no persistence; `redis-cli --cluster create`), and one plain
#    redis-server beside them, all stopped by PID on every exit.
# 3. On the same cluster, one after the other:
#      mtredis bench --uri redis-cluster://...   the library's rows
#      redis-benchmark --cluster -t set,get -P 256    SET/GET, pipelined
#    and on the single server the same two, for the figures beside them.
#    For each run the servers' CPU seconds (utime + stime from /proc,
#    summed over the masters) are printed with the wall time, so the
#    share of the server cores in use is visible.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(build-essential cmake pkg-config libck-dev libhiredis-dev
	  liburiparser-dev redis-server redis-tools)
n=1000000
reps=1
while (($#)); do
	case $1 in
	-n) n=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "redis_cluster.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

tmp=""
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	[[ -n $tmp ]] && rm -rf "$tmp"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bin=${MTREDIS_BIN:-}
if [[ -z $bin ]]; then
	# shellcheck source=../.ci/packages.sh
	source .ci/packages.sh
	mt_install_packages redis-cluster-bench "${packages[@]}"
	cmake -S . -B build/release -DCMAKE_C_COMPILER=gcc \
		-DCMAKE_BUILD_TYPE=Release -DMTPOOL_BUILD_TESTS=OFF >&2
	cmake --build build/release -j2 --target mtredis >&2
	bin=build/release/mtredis
fi
tmp=$(mktemp -d /tmp/redis-cluster-bench.XXXXXX)

# Waits (at most 10 s) until 127.0.0.1:$1 answers PING.
wait_ping() {
	local i
	for ((i = 0; i < 1000; i++)); do
		redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.01
	done
	return 1
}

# Starts a redis-server on port $1 in folder $2 with more arguments; its
# PID goes to pids[] and last_pid. 1 when it did not come up (the port
# was taken: it exited).
start() {
	local port=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	(cd "$dir" && exec redis-server --port "$port" --bind 127.0.0.1 \
		--save "" --appendonly no --daemonize no --logfile log "$@") &
	last_pid=$!
	pids+=("$last_pid")
	wait_ping "$port"
}

# A random port in 20000..49999 with its bus port +100 (a taken one makes
# the server exit, and start fails).
port_for() {
	echo $((20000 + RANDOM % 30000))
}

cluster_ports=()
master_pids=()
for i in 0 1 2; do
	for ((try = 0; try < 20; try++)); do
		p=$(port_for)
		if start "$p" "$tmp/node$i" --cluster-enabled yes \
			--cluster-config-file nodes.conf \
			--cluster-node-timeout 1000 \
			--cluster-port $((p + 100)); then
			cluster_ports+=("$p")
			master_pids+=("$last_pid")
			break
		fi
	done
done
((${#cluster_ports[@]} == 3)) || { echo "no free ports" >&2; exit 1; }
redis-cli --cluster create "${cluster_ports[@]/#/127.0.0.1:}" \
	--cluster-replicas 0 --cluster-yes >"$tmp/create.log" 2>&1
for ((i = 0; i < 500; i++)); do
	ok=0
	for p in "${cluster_ports[@]}"; do
		redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' &&
			ok=$((ok + 1))
	done
	((ok == 3)) && break
	sleep 0.02
done
((ok == 3)) || { echo "the cluster did not become ok" >&2; exit 1; }
for ((try = 0; try < 20; try++)); do
	single=$(port_for)
	start "$single" "$tmp/single" && break
done
single_pid=$last_pid
uri="redis-cluster://$(IFS=,; echo "${cluster_ports[*]/#/127.0.0.1:}")"

# utime + stime of the given PIDs, in seconds.
cpu() {
	local p t=0 ticks
	ticks=$(getconf CLK_TCK)
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	awk -v t="$t" -v k="$ticks" 'BEGIN {printf "%.2f", t / k}'
}

# Runs "$@" and prints its wall time and the servers' CPU seconds.
measured() {
	local label=$1 c0 c1 t0 t1
	shift
	local -a watch=("${master_pids[@]}")
	[[ $label == single* ]] && watch=("$single_pid")
	c0=$(cpu "${watch[@]}")
	t0=$(date +%s.%N)
	# A failed row is reported in the table (and the status here); the
	# other runs still go.
	"$@" || echo "# $label: exit status $?"
	t1=$(date +%s.%N)
	c1=$(cpu "${watch[@]}")
	awk -v l="$label" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
		'BEGIN {w = t1 - t0; printf "# %s: %.1f s wall, servers " \
		"%.1f s CPU (%.2f cores)\n", l, w, c1 - c0, (c1 - c0) / w}'
}

echo "# $(redis-server --version | cut -d' ' -f1-3); $(nproc) CPUs;" \
	"load $(cut -d' ' -f1-3 /proc/loadavg); cluster $uri;" \
	"single 127.0.0.1:$single"
echo "## cluster: mtredis bench"
measured "cluster mtredis" "$bin" bench --uri "$uri" -n "$n" --reps "$reps"
echo "## cluster: redis-benchmark --cluster -P 256"
measured "cluster redis-benchmark" redis-benchmark --cluster \
	-h 127.0.0.1 -p "${cluster_ports[0]}" -t set,get -n "$n" -r "$n" \
	-P 256 -q
echo "## single server: mtredis bench"
measured "single mtredis" "$bin" bench --uri "redis://127.0.0.1:$single" \
	-n "$n" --reps "$reps"
echo "## single server: redis-benchmark -P 256"
measured "single redis-benchmark" redis-benchmark -h 127.0.0.1 \
	-p "$single" -t set,get -n "$n" -r "$n" -P 256 -q
