#!/usr/bin/env bash
# tests/run.sh: the project's one test command (`bash tests/run.sh`).
#
# 1. Installs the Debian packages the build needs when any is missing
#    (as root, or through sudo); a machine that has them all skips apt.
# 2. Checks that every C source matches .clang-format (clang-format 14).
# 3. Configures, builds (-j2, -Werror) and runs ctest in up to three trees:
#      build/plain  gcc    RelWithDebInfo
#      build/tsan   clang  RelWithDebInfo  -DMTPOOL_TSAN=ON
#      build/asan   clang  Debug           -DMTPOOL_ASAN=ON (ASan+UBSan;
#                                          Debug also turns on MTPOOL_DEBUG
#                                          poisoning and asserts)
# 4. When plain was built: installs it to a temporary prefix and builds a
#    consumer against it twice, with find_package(mtpool CONFIG) and with
#    pkg-config, and runs both; the same for libmtpool-redis (component
#    redis / mtpool-redis.pc), against a redis-server it starts.
# 5. fuzz: builds the libFuzzer targets (build/fuzz, clang, -DMTPOOL_FUZZ=ON)
#    and runs each tests/fuzz/fuzz_<name>.c for a bounded time from its
#    committed corpus; a crash, leak, sanitizer report or slow input fails
#    the run and leaves the input in build/fuzz/artifacts/.
#
# Environment:
#   MTPOOL_TEST_CONFIGS  subset of "plain tsan asan fuzz" (default: all)
#   MTPOOL_FUZZ_SECONDS  seconds per fuzz target (default 12)
#   MTPOOL_CTEST_ARGS    extra ctest arguments, e.g. "-L unit" or "-R deque"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
# shellcheck source=../.ci/packages.sh
source .ci/packages.sh

packages=(build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
	  libck-dev libcriterion-dev libhiredis-dev liburiparser-dev
	  redis-server redis-tools tmux)
configs=${MTPOOL_TEST_CONFIGS:-plain tsan asan fuzz}
read -r -a ctest_extra <<<"${MTPOOL_CTEST_ARGS:-}"

step="start"
tmp=""
total_tests=0
declare -a summary=()

on_exit() {
	local rc=$?
	[[ -n ${redis_pid:-} ]] && kill "$redis_pid" 2>/dev/null
	[[ -n $tmp ]] && rm -rf "$tmp"
	if ((rc != 0)); then
		echo "mtpool tests: FAILED at step '$step' (exit $rc)" >&2
	fi
}
trap on_exit EXIT

log() { printf '\n==> %s\n' "$*"; }

install_packages() {
	step="install packages"
	mt_install_packages tests "${packages[@]}"
}

# The committed .clang-format is the layout: a file that drifts from it
# fails the run, or layout becomes a review topic again (STYLE 47).
check_format() {
	step="format"
	local -a files
	mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null ||
		find pool api redis tests bench tools -name '*.[ch]' 2>/dev/null)
	clang-format --dry-run -Werror "${files[@]}"
	summary+=("format: ${#files[@]} files match .clang-format")
}

# Sanitizer runtimes of clang 14 cannot map their shadow memory when the
# kernel randomises mmap with more than 28 bits; run them without ASLR then.
sanitizer_launcher() {
	local bits
	bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)
	if ((bits > 28)) && setarch "$(uname -m)" -R true 2>/dev/null; then
		echo "setarch $(uname -m) -R"
	fi
}

build_and_test() {
	local name=$1 dir=build/$1
	# The comparison adapters (OpenMP, oneTBB, GLib, libuv) stay out of the
	# test trees: they would make the suite depend on which optional
	# packages happen to be installed. bench/compare.sh builds them.
	local -a args=(-DMTPOOL_WERROR=ON -DMTPOOL_BENCH_OPENMP=OFF
		-DMTPOOL_BENCH_TBB=OFF -DMTPOOL_BENCH_GLIB=OFF -DMTPOOL_BENCH_UV=OFF)
	step="$name: select"
	local -a launcher=()
	case $name in
	plain) args+=(-DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
	tsan) args+=(-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo
		     -DMTPOOL_TSAN=ON) ;;
	asan) args+=(-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug
		     -DMTPOOL_ASAN=ON) ;;
	*)
		echo "unknown config '$name' in MTPOOL_TEST_CONFIGS" \
		     "(want: plain tsan asan fuzz)" >&2
		return 2 ;;
	esac
	[[ $name == plain ]] || read -r -a launcher <<<"$(sanitizer_launcher)"

	step="$name: configure"
	log "$name: configure"
	cmake -S "$root" -B "$dir" "${args[@]}"
	step="$name: build"
	log "$name: build"
	cmake --build "$dir" -j2
	step="$name: ctest"
	log "$name: ctest"
	"${launcher[@]}" ctest --test-dir "$dir" --output-on-failure \
		--timeout 600 --no-tests=error "${ctest_extra[@]}" |
		tee "$dir/ctest.log"
	local n cases
	n=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$dir/ctest.log")
	# Each ctest entry is one Criterion executable; count the Criterion
	# test cases inside from the full outputs ctest keeps.
	cases=$(sed -n 's/.*Synthesis: Tested: \([0-9]*\).*/\1/p' \
		"$dir/Testing/Temporary/LastTest.log" | awk '{s += $1} END {print s + 0}')
	total_tests=$((total_tests + cases))
	summary+=("$name: ${n:-0} test programs, ${cases} Criterion tests passed")
	if [[ $name == plain && -x $dir/mtbench ]]; then
		# Smoke test of the main job: mtbench checks every result it
		# times (fib value, map output, each task run once) and exits 1
		# on a wrong one; speed is not judged here.
		step="$name: mtbench --quick"
		log "$name: mtbench --quick"
		"$dir/mtbench" --quick | tee "$dir/mtbench.log"
		summary+=("$name: mtbench --quick results correct")
	fi
	if [[ $name == plain && -x $dir/redis_bench ]]; then
		# Smoke test of the Redis bench (about 2 s): against a server
		# of its own, every item it times is checked (values read back,
		# keys scanned, messages delivered); a wrong one exits 1.
		step="$name: redis_bench --quick"
		log "$name: redis_bench --quick"
		REDIS_BENCH_BIN=$dir/redis_bench bash bench/redis.sh --quick \
			--reps 1 | tee "$dir/redis_bench.log"
		summary+=("$name: redis_bench --quick results correct")
	fi
}

# The exported dynamic symbols must be the public mt_ API only: everything
# internal (mt__*, statics) stays hidden.
check_exports() {
	local lib=$1 bad
	bad=$(nm -D --defined-only "$lib" | awk '{print $3}' |
	      grep -Ev '^(mt_[a-z]|_init$|_fini$)' || true)
	if [[ -n $bad ]]; then
		echo "unexpected exported symbols in $lib:" >&2
		echo "$bad" >&2
		return 1
	fi
}

install_check() {
	step="install check"
	log "install check: build/plain -> temporary prefix"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/mtpool-install.XXXXXX")
	local prefix=$tmp/prefix
	cmake --install build/plain --prefix "$prefix"
	local lib libdir
	lib=$(find "$prefix" -name 'libmtpool.so.0' | head -n 1)
	[[ -n $lib ]] || { echo "libmtpool.so.0 not installed" >&2; return 1; }
	libdir=$(dirname "$lib")
	check_exports "$lib"

	step="install check: find_package consumer"
	cmake -S tests/package -B "$tmp/consumer-cmake" \
		-DCMAKE_C_COMPILER=gcc -DCMAKE_PREFIX_PATH="$prefix"
	cmake --build "$tmp/consumer-cmake"
	LD_LIBRARY_PATH=$libdir "$tmp/consumer-cmake/consumer"

	step="install check: pkg-config consumer"
	local -a pc
	read -r -a pc <<<"$(PKG_CONFIG_PATH=$libdir/pkgconfig \
		pkg-config --cflags --libs mtpool)"
	gcc -std=c11 -Wall -Wextra -Werror tests/package/consumer.c \
		"${pc[@]}" -o "$tmp/consumer-pc"
	LD_LIBRARY_PATH=$libdir "$tmp/consumer-pc"
	summary+=("install: find_package and pkg-config consumers ran")
}

# libmtpool-redis from the same install: its exports, and a consumer
# built with find_package(mtpool COMPONENTS redis) and with pkg-config
# (mtpool-redis), run lazily and against a redis-server started here on a
# unix socket in the temporary folder (stopped by PID).
redis_pid=""
install_check_redis() {
	step="install check: redis"
	local prefix=$tmp/prefix lib libdir sock=$tmp/redis.sock
	lib=$(find "$prefix" -name 'libmtpool-redis.so.0' | head -n 1)
	[[ -n $lib ]] || { echo "libmtpool-redis.so.0 not installed" >&2; return 1; }
	libdir=$(dirname "$lib")
	check_exports "$lib"
	[[ -f $prefix/include/mtpool/redis.h ]] ||
		{ echo "<mtpool/redis.h> not installed" >&2; return 1; }

	redis-server --port 0 --unixsocket "$sock" --save "" --appendonly no \
		--dir "$tmp" --daemonize no --logfile "$tmp/redis.log" &
	redis_pid=$!
	local i
	for ((i = 0; i < 200; i++)); do
		redis-cli -s "$sock" ping >/dev/null 2>&1 && break
		sleep 0.05
	done

	step="install check: redis find_package consumer"
	cmake -S tests/package -B "$tmp/consumer-redis-cmake" \
		-DCMAKE_C_COMPILER=gcc -DCMAKE_PREFIX_PATH="$prefix" \
		-DMTPOOL_CONSUMER_REDIS=ON
	cmake --build "$tmp/consumer-redis-cmake"
	LD_LIBRARY_PATH=$libdir "$tmp/consumer-redis-cmake/redis_consumer"
	LD_LIBRARY_PATH=$libdir "$tmp/consumer-redis-cmake/redis_consumer" \
		"unix://$sock"

	step="install check: redis pkg-config consumer"
	local -a pc
	read -r -a pc <<<"$(PKG_CONFIG_PATH=$libdir/pkgconfig \
		pkg-config --cflags --libs mtpool-redis)"
	gcc -std=c11 -Wall -Wextra -Werror tests/package/redis_consumer.c \
		"${pc[@]}" -o "$tmp/redis-consumer-pc"
	LD_LIBRARY_PATH=$libdir "$tmp/redis-consumer-pc" "unix://$sock"

	kill "$redis_pid"
	wait "$redis_pid" || true
	redis_pid=""
	summary+=("install: mtpool-redis find_package and pkg-config consumers ran")
}

# One loop over whatever tests/fuzz/fuzz_*.c exist. libFuzzer writes what
# it finds into the first corpus folder, a scratch one, so the committed
# seeds (the second) stay as they are.
fuzz_run() {
	local dir=build/fuzz secs=${MTPOOL_FUZZ_SECONDS:-12} exe name n=0
	local -a launcher args
	step="fuzz: configure"
	log "fuzz: configure"
	cmake -S "$root" -B "$dir" -DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTPOOL_FUZZ=ON \
		-DMTPOOL_WERROR=ON -DMTPOOL_BUILD_TESTS=OFF -DMTPOOL_BUILD_BENCH=OFF
	step="fuzz: build"
	log "fuzz: build"
	cmake --build "$dir" -j2
	read -r -a launcher <<<"$(sanitizer_launcher)"
	rm -rf "$dir/artifacts" "$dir/work"
	mkdir -p "$dir/artifacts"
	for exe in "$dir"/fuzz/fuzz_*; do
		name=${exe##*/fuzz_}
		step="fuzz: $name"
		log "fuzz: $name for ${secs}s"
		mkdir -p "$dir/work/$name" "tests/fuzz/corpus/$name"
		args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
			-print_final_stats=1 -artifact_prefix="$dir/artifacts/$name-")
		[[ -f tests/fuzz/$name.dict ]] && args+=(-dict="tests/fuzz/$name.dict")
		if ! "${launcher[@]}" "$exe" "${args[@]}" "$dir/work/$name" \
			"tests/fuzz/corpus/$name" >"$dir/$name.log" 2>&1; then
			tail -n 200 "$dir/$name.log" >&2
			echo "fuzz: $name failed: see $dir/$name.log and" \
			     "$dir/artifacts/" >&2
			return 1
		fi
		grep -E '^(Done|stat::number_of_executed_units|#[0-9]+.*DONE)' \
			"$dir/$name.log" || true
		n=$((n + 1))
	done
	rm -rf "$dir/work"
	summary+=("fuzz: $n targets ran ${secs}s each without a finding")
}

install_packages
check_format
log "tools: $(gcc --version | head -n 1); $(clang --version | head -n 1);" \
    "$(cmake --version | head -n 1)"
for c in $configs; do
	[[ $c == fuzz ]] || build_and_test "$c"
done
case " $configs " in
*" plain "*)
	install_check
	install_check_redis
	;;
*) summary+=("install: skipped (needs the plain config)") ;;
esac
case " $configs " in
*" fuzz "*) fuzz_run ;;
esac

step="summary"
printf '\n==> summary\n'
printf '  %s\n' "${summary[@]}"
echo "tests: ${total_tests} passed, 0 failed"
