#!/usr/bin/env bash
# tests/soak.sh: the soak tier, run by a maintainer before a release (not
# by CI): `bash tests/soak.sh [--minutes N]` (default 5).
#
# 1. Installs what the build needs (as tests/run.sh), then builds two trees:
#      build/soak-plain  gcc    RelWithDebInfo
#      build/soak-tsan   clang  RelWithDebInfo  -DMTPOOL_TSAN=ON
# 2. In each tree, runs for its share of N minutes (builds not counted):
#      soak_mixed   every kind of submission at once from 4 threads into a
#                   16-worker pool, plus pools created and destroyed with
#                   work in flight; every task counted exactly once
#                   (tests/soak/soak_mixed.c);
#      soak_park    park/wake cycles on a 16-worker pool, no round slower
#                   than a second, no hang (tests/soak/soak_park.c);
#      regressions  the tests written for issue 6's defects, in a loop.
#    Shares of N minutes: plain 10% mixed, 30% park, 10% regressions;
#    tsan 20% mixed, 20% park, 10% regressions.
# 3. Checks the floors: plain soak_mixed >= 10^7 submissions; plain
#    soak_park >= 10^6 wake-ups of parked workers at N = 10 (10^5 per
#    minute below that); ThreadSanitizer reports nothing.
# 4. Prints "N passed, M failed" and writes the figures, the machine and
#    the command into docs/reliability.md.
#
# Uses both cores for the whole run: on a shared machine other work slows
# it down (the figures then say so: load average before and after).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
# shellcheck source=../.ci/packages.sh
source .ci/packages.sh
# shellcheck source=../.ci/sanitizers.sh
source .ci/sanitizers.sh

minutes=5
while (($# > 0)); do
	case $1 in
	--minutes) minutes=${2:?--minutes needs a number}; shift 2 ;;
	--minutes=*) minutes=${1#*=}; shift ;;
	-h | --help) sed -n '2,25p' "$0"; exit 0 ;;
	*) echo "soak: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ $minutes =~ ^[1-9][0-9]*$ ]] || { echo "soak: --minutes N, N >= 1" >&2; exit 2; }

total_s=$((minutes * 60))
share() { echo $((total_s * $1 / 100)); }
min_submissions=10000000
min_wakes=$((minutes >= 10 ? 1000000 : minutes * 100000))

logs=build/soak-logs
passed=0 failed=0
declare -a rows=()

log() { printf '\n==> %s\n' "$*"; }

build_tree() {
	local name=$1
	local -a args=(-DMTPOOL_WERROR=ON -DMTPOOL_BENCH_OPENMP=OFF
		-DMTPOOL_BENCH_TBB=OFF -DMTPOOL_BENCH_GLIB=OFF -DMTPOOL_BENCH_UV=OFF
		-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	case $name in
	plain) args+=(-DCMAKE_C_COMPILER=gcc) ;;
	tsan) args+=(-DCMAKE_C_COMPILER=clang -DMTPOOL_TSAN=ON) ;;
	esac
	log "build build/soak-$name"
	cmake -S "$root" -B "build/soak-$name" "${args[@]}" >"$logs/build-$name.log"
	cmake --build "build/soak-$name" -j2 >>"$logs/build-$name.log"
}

# record NAME BUILD OK FIGURES: one row of the report, one pass or fail.
record() {
	rows+=("| $1 | $2 | $4 | $([[ $3 == 1 ]] && echo pass || echo '**FAIL**') |")
	if [[ $3 == 1 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	printf '  %-12s %-6s %s  %s\n' "$1" "$2" "$([[ $3 == 1 ]] && echo pass || echo FAIL)" "$4"
}

# The value of key in a "name: key=value ..." line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

clean_output() { ! grep -q "ThreadSanitizer" "$1"; }

run_mixed() {
	local name=$1 dir=build/soak-$1 secs=$2 min=$3 out line ok=1
	out=$logs/mixed-$name.log
	log "$name: soak_mixed for ${secs}s"
	"${launcher[@]}" "$dir/tests/soak/soak_mixed" --seconds "$secs" \
		--min-submissions "$min" >"$out" 2>&1 || ok=0
	clean_output "$out" || ok=0
	line=$(grep '^soak_mixed:' "$out" || echo "soak_mixed: result=none")
	echo "$line"
	record soak_mixed "$name" "$ok" \
		"$(field "$line" submissions) submissions ($(field "$line" maps) maps, $(field "$line" groups) groups, $(field "$line" quiesces) quiesces, $(field "$line" pools) pools created and destroyed) in $(field "$line" seconds) s"
}

run_park() {
	local name=$1 dir=build/soak-$1 secs=$2 min=$3 out line ok=1
	out=$logs/park-$name.log
	log "$name: soak_park for ${secs}s"
	"${launcher[@]}" "$dir/tests/soak/soak_park" --seconds "$secs" \
		--min-wakes "$min" >"$out" 2>&1 || ok=0
	clean_output "$out" || ok=0
	line=$(grep '^soak_park:' "$out" || echo "soak_park: result=none")
	echo "$line"
	record soak_park "$name" "$ok" \
		"$(field "$line" wakes) wake-ups of parked workers, $(field "$line" parks) parks, $(field "$line" rounds) rounds, $(field "$line" stalls) stalls over 1 s, slowest round $(field "$line" worst_round_ms) ms, in $(field "$line" seconds) s"
}

# The tests that failed before issue 6's fixes: "binary filter" pairs.
regressions=(
	"stress/stress_destroy *"
	"api/api_spawn spawn_copy/size_beyond*"
	"api/api_lifecycle quiesce/returns_when*"
	"api/api_lifecycle hooks/spawn_from*"
	"api/api_default fork/child_of_a_task*"
	"unit/unit_park park/a_park_cancelled*"
	"api/api_spawn spawn/an_outside*"
	"unit/unit_park park/a_worker_asleep*"
	"stress/stress_wakeups wakeups/a_task_blocking*"
	"api/api_errors env/*"
	"unit/unit_faults mutex_init/*"
)

run_regressions() {
	local name=$1 dir=build/soak-$1 secs=$2 end runs=0 bad=0 entry bin filter
	local out=$logs/regressions-$name.log
	log "$name: regression tests in a loop for ${secs}s"
	: >"$out"
	end=$((SECONDS + secs))
	while ((SECONDS < end)); do
		for entry in "${regressions[@]}"; do
			bin=${entry%% *} filter=${entry#* }
			if ! "${launcher[@]}" "$dir/tests/$bin" --filter="$filter" \
				>>"$out" 2>&1; then
				bad=$((bad + 1))
				echo "FAILED: $bin --filter=$filter" >>"$out"
			fi
			runs=$((runs + 1))
		done
	done
	clean_output "$out" || bad=$((bad + 1))
	record regressions "$name" "$((bad == 0 ? 1 : 0))" \
		"$runs runs of ${#regressions[@]} regression tests, $bad failed"
}

machine() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	echo "$(nproc) CPUs ($cpu), $(uname -sr)"
}

write_report() {
	local commit dirty
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	dirty=$(git status --porcelain 2>/dev/null | grep -qv '^??' && echo ' (with local changes)' || true)
	cat >docs/reliability.md <<EOF
# Reliability: the soak tier

The CI suite (\`bash tests/run.sh\`, about a minute) runs every test once in
three builds. Before a release a maintainer also runs the soak tier, which
runs the stress programs at scale for minutes, in a plain and a
ThreadSanitizer build, with 16 workers on however few cores the machine has:

\`\`\`sh
bash tests/soak.sh --minutes 10     # the release run; default 5 minutes
\`\`\`

It builds \`build/soak-plain\` (gcc, RelWithDebInfo) and \`build/soak-tsan\`
(clang, ThreadSanitizer), then in each:

- **soak_mixed** (\`tests/soak/soak_mixed.c\`): four threads submit at random
  into one 16-worker pool: \`mt_spawn\`, \`mt_spawn_copy\` (4 to 200 bytes,
  checked by the task), tasks that spawn 1 to 8 children from their worker,
  tasks that run a group and a map inside them, maps of 1 to 64 items,
  groups of 1 to 16 tasks, and \`mt_quiesce\` (which must not return before
  every task spawned earlier has run). Work is handed out in epochs of
  4,194,304 ids; after each epoch every id must have run exactly once.
  Meanwhile a fifth thread creates pools of 1 to 4 workers, spawns up to
  2,000 tasks into each and destroys it (\`MT_DRAIN\` and \`MT_DISCARD\` in
  turn), checking ran + discarded = accepted.
- **soak_park** (\`tests/soak/soak_park.c\`): rounds on a 16-worker pool:
  one task into a fully parked pool; 16 tasks at once into a fully parked
  pool; one task from a worker of another pool after a random delay (while
  workers wind down). Each round, from its first spawn to the return of
  \`mt_quiesce\`, must take less than a second; a watchdog fails the run if
  no round finishes for 10 s. "Wake-ups" are the pool's \`wakes\` counter:
  parked workers claimed and woken.
- **regressions**: the tests written for the defects of issue 6 (and its
  contract holes), run in a loop.

Floors checked: plain soak_mixed at least 10,000,000 submissions; plain
soak_park at least 1,000,000 wake-ups at 10 minutes (100,000 per minute
for shorter runs); no ThreadSanitizer report anywhere.

## Last run

- Command: \`bash tests/soak.sh --minutes $minutes\`
- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit \`$commit\`$dirty
- Machine: $(machine)
- Load average before / after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)
  (the machine is shared with other engineers' builds and benchmarks; the
  load average says how busy it was)
- Wall time: $((SECONDS / 60)) min $((SECONDS % 60)) s, builds included

| stage | build | figures | result |
|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

Result: $passed passed, $failed failed.
EOF
}

mkdir -p "$logs"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
mt_install_packages soak build-essential cmake pkg-config clang \
	libclang-rt-14-dev libck-dev libcriterion-dev
build_tree plain
build_tree tsan

launcher=()
run_mixed plain "$(share 10)" "$min_submissions"
run_park plain "$(share 30)" "$min_wakes"
run_regressions plain "$(share 10)"

export TSAN_OPTIONS="die_after_fork=0:halt_on_error=1:second_deadlock_stack=1"
read -r -a launcher <<<"$(mt_sanitizer_launcher)"
run_mixed tsan "$(share 20)" 1
run_park tsan "$(share 20)" 1
run_regressions tsan "$(share 10)"

write_report
printf '\nfigures and logs: docs/reliability.md, %s/\n' "$logs"
echo "$passed passed, $failed failed"
((failed == 0))
