#!/usr/bin/env bash
# bench/compare.sh: mtpool side by side with OpenMP, oneTBB, GLib's
# GThreadPool, libuv's work queue, the sequential baselines and the Python
# original, in one command:
#
#   bash bench/compare.sh              # ~8 minutes on 2 cores
#   COMPARE_ROUNDS=2 bash bench/compare.sh   # fewer rounds, ~4 minutes
#   COMPARE_QUICK=1 COMPARE_ROUNDS=1 bash bench/compare.sh  # smoke test
#
# 1. Installs what is missing (Debian packages: the core build packages and
#    libtbb-dev libglib2.0-dev libuv1-dev gnuplot-nox python3; apt-get
#    update only when something must be installed).
# 2. Builds build/compare (gcc, Release) with every runtime option ON.
# 3. Runs the runtimes interleaved, A B C ... A B C ..., for COMPARE_ROUNDS
#    rounds (default 4), each one `mtbench --runtime X --reps
#    COMPARE_REPS` (default 3) in its own process, plus
#    bench/python_original.py, and bench/futex_floor.c (the machine's
#    raw futex wake-up, no pool: the "floor" column), so the machine's
#    drift hits all alike.
# 4. bench/compare.py takes each figure's median over the rounds and its
#    ratio to mtpool, and writes bench/results/: results.csv, table.md,
#    plot.png and plot.svg (the folder holds the latest run only); the raw
#    per-round CSVs stay in build/compare/rounds/.
# Progress goes to stderr; the table is printed on stdout at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=${COMPARE_ROUNDS:-4}
reps=${COMPARE_REPS:-3}
[[ $rounds =~ ^[1-9][0-9]*$ && $reps =~ ^[1-9][0-9]*$ ]] || {
	echo "compare: COMPARE_ROUNDS and COMPARE_REPS must be >= 1" >&2
	exit 2
}
build=build/compare
quick=()
[[ ${COMPARE_QUICK:-0} == 1 ]] && quick=(--quick)
results=bench/results
packages=(build-essential cmake pkg-config libck-dev
	  libtbb-dev libglib2.0-dev libuv1-dev 'gnuplot-nox|gnuplot-qt|gnuplot-x11' python3)

# shellcheck source=../.ci/packages.sh
source .ci/packages.sh
mt_install_packages compare "${packages[@]}"
start=$(date +%s)
cmake -S . -B "$build" -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
	-DCMAKE_BUILD_TYPE=Release -DMTPOOL_BUILD_TESTS=OFF \
	-DMTPOOL_BENCH_OPENMP=ON -DMTPOOL_BENCH_TBB=ON \
	-DMTPOOL_BENCH_GLIB=ON -DMTPOOL_BENCH_UV=ON >&2
cmake --build "$build" -j2 --target mtbench futex_floor >&2

# Every runtime compiled in, as mtbench lists them, then the baselines.
mapfile -t runtimes < <("$build/mtbench" --help |
	sed -n 's/.*`all` = every compiled-in one: *//p' | tr ' ' '\n' |
	grep .)
runtimes+=(seq)
rm -rf "$build/rounds" && mkdir -p "$build/rounds"
echo "compare: $rounds rounds of: ${runtimes[*]} python" >&2

for ((r = 1; r <= rounds; r++)); do
	for rt in "${runtimes[@]}"; do
		echo "compare: round $r/$rounds: $rt ($(($(date +%s) - start)) s)" >&2
		"$build/mtbench" "${quick[@]}" --runtime "$rt" --reps "$reps" \
			--csv "$build/rounds/r${r}_$rt.csv" \
			>"$build/rounds/r${r}_$rt.txt"
	done
	echo "compare: round $r/$rounds: python" >&2
	python3 bench/python_original.py --reps "$reps" \
		>"$build/rounds/r${r}_python.csv"
	# The machine's wake-up floor, in the same round as the runtimes'
	# wake latency (futex_floor.c; the "floor" column of the table).
	echo "compare: round $r/$rounds: futex floor" >&2
	"$build/futex_floor" --csv "$build/rounds/r${r}_floor.csv" \
		>"$build/rounds/r${r}_floor.txt"
done

mkdir -p "$results"
rm -f "$results"/results.csv "$results"/table.md "$results"/plot.png \
	"$results"/plot.svg
gp=$(python3 bench/compare.py --rounds-dir "$build/rounds" --out "$results" \
	--work "$build/plot" --rounds "$rounds")
gnuplot "$gp"
echo "compare: done in $(($(date +%s) - start)) s; outputs in $results/" >&2
cat "$results/table.md"
