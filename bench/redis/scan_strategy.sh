#!/usr/bin/env bash
# bench/redis/scan_strategy.sh: measures the key-collection strategies of
# mt_redis_scan (docs/redis.md, "Key collection") against a redis-server
# of its own, on a unix socket in a temporary folder, stopped by PID.
#
#   bash bench/redis/scan_strategy.sh [NKEYS] [REPS]     (1000000 5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source .ci/packages.sh
packages=(build-essential pkg-config libck-dev libhiredis-dev liburiparser-dev
	  redis-server)
mt_install_packages scan_strategy "${packages[@]}"

dir=$(mktemp -d "${TMPDIR:-/tmp}/mtpool-scan.XXXXXX")
pid=""
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# The library is compiled in from its sources (pool and redis), so the
# script needs no CMake tree.
# shellcheck disable=SC2046
gcc -std=gnu11 -O2 -Wall -Wextra -Ipool -Iredis -Iapi/include \
	bench/redis/scan_strategy.c pool/*.c api/*.c redis/*.c \
	$(pkg-config --cflags --libs ck hiredis liburiparser) -lpthread \
	-o "$dir/scan_strategy"
redis-server --port 0 --unixsocket "$dir/redis.sock" --dir "$dir" \
	--save "" --appendonly no >"$dir/redis.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
	redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1 && break
	sleep 0.05
done
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/');" \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');" \
	"$(nproc) cpus"
"$dir/scan_strategy" "$dir/redis.sock" "${1:-1000000}" "${2:-5}"
