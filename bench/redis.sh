#!/usr/bin/env bash
# bench/redis.sh: the Redis bench (issue 7) in one command.
#
#   bash bench/redis.sh [--unix] [redis_bench options]
#   bash bench/redis.sh --quick               # a smoke run of a few seconds
#   bash bench/redis.sh --reps 5 --csv /tmp/redis.csv
#
# 1. Installs the Debian packages the build and the server need when any
#    is missing (.ci/packages.sh).
# 2. Builds build/release (gcc, Release) and its redis_bench target;
#    REDIS_BENCH_BIN=path runs that binary instead (no build).
# 3. Starts a redis-server of its own in a temporary folder: loopback on a
#    free port (or, with --unix, a unix socket only), no persistence
#    (--save "" --appendonly no). It is stopped by its PID on every exit,
#    Ctrl-C included, and the folder removed.
# 4. Runs redis_bench against it with the remaining arguments
#    (`build/release/redis_bench --help`), its table on stdout; build and
#    server messages go to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(build-essential cmake pkg-config libck-dev libhiredis-dev
	  liburiparser-dev redis-server redis-tools)

unix=0
args=()
for a in "$@"; do
	if [[ $a == --unix ]]; then unix=1; else args+=("$a"); fi
done

tmp=""
pid=""
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	[[ -n $tmp ]] && rm -rf "$tmp"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bin=${REDIS_BENCH_BIN:-}
if [[ -z $bin ]]; then
	# shellcheck source=../.ci/packages.sh
	source .ci/packages.sh
	mt_install_packages redis-bench "${packages[@]}"
	cmake -S . -B build/release -DCMAKE_C_COMPILER=gcc \
		-DCMAKE_BUILD_TYPE=Release -DMTPOOL_BUILD_TESTS=OFF >&2
	cmake --build build/release -j2 --target redis_bench >&2
	bin=build/release/redis_bench
fi

tmp=$(mktemp -d /tmp/redis-bench.XXXXXX)

# Waits (at most 5 s) until the server answers PING; fails if it died.
wait_ready() {
	local i
	for ((i = 0; i < 500; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		if redis-cli "$@" ping 2>/dev/null | grep -q PONG; then
			return 0
		fi
		sleep 0.01
	done
	return 1
}

# Starts the server on `port` (0 = unix socket only); 1 if it did not
# come up (the port was taken).
start_server() {
	local port=$1
	local -a conf=(--port "$port" --bind 127.0.0.1 --dir "$tmp"
		--save "" --appendonly no --daemonize no --logfile "$tmp/log")
	((port == 0)) && conf+=(--unixsocket "$tmp/redis.sock")
	redis-server "${conf[@]}" &
	pid=$!
	if ((port == 0)); then
		wait_ready -s "$tmp/redis.sock" && return 0
	else
		wait_ready -h 127.0.0.1 -p "$port" && return 0
	fi
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
	return 1
}

if ((unix)); then
	start_server 0 || { cat "$tmp/log" >&2; exit 1; }
	target=(--socket "$tmp/redis.sock")
else
	# A free port: try a few random ones above the ephemeral range's
	# usual start; a taken one makes the server exit at once.
	for ((try = 0; try < 20; try++)); do
		port=$((20000 + RANDOM % 30000))
		start_server "$port" && break
	done
	[[ -n $pid ]] || { echo "redis-bench: no free port" >&2; exit 1; }
	target=(--host 127.0.0.1 --port "$port")
fi
echo "redis-bench: redis-server pid $pid, $(redis-server --version |
	cut -d' ' -f1-3); load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

rc=0
"$bin" "${target[@]}" --server-pid "$pid" "${args[@]}" || rc=$?
exit "$rc"
