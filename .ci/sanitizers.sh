# .ci/sanitizers.sh: sourced by the scripts that run sanitizer builds
# (tests/run.sh, tests/soak.sh).
#
#   source .ci/sanitizers.sh
#   read -r -a launcher <<<"$(mt_sanitizer_launcher)"
#   "${launcher[@]}" ./program
#
# Sanitizer runtimes of clang 14 cannot map their shadow memory when the
# kernel randomises mmap with more than 28 bits; programs then run without
# ASLR (setarch -R). Prints the launcher words, or nothing when none is
# needed or setarch cannot do it.

mt_sanitizer_launcher() {
	local bits
	bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)
	if ((bits > 28)) && setarch "$(uname -m)" -R true 2>/dev/null; then
		echo "setarch $(uname -m) -R"
	fi
}
