#!/usr/bin/env bash
# bench/run.sh: builds build/release (gcc, Release) and runs mtbench with
# this script's arguments: `bash bench/run.sh [mtbench options]`.
# Installs the Debian packages the build needs when any is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(build-essential cmake pkg-config clang libclang-rt-14-dev
	  libck-dev libcriterion-dev libhiredis-dev redis-server redis-tools)

is_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
		grep -q 'install ok installed'
}

install_packages() {
	local p missing=()
	for p in "${packages[@]}"; do
		is_installed "$p" || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return
	echo "bench: installing missing packages: ${missing[*]}" >&2
	local sudo=()
	if (($(id -u) != 0)); then
		command -v sudo >/dev/null || {
			echo "not root and no sudo: install ${missing[*]}" >&2
			return 1
		}
		sudo=(sudo)
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${packages[@]}"
}

install_packages
# Build output goes to stderr so that stdout carries mtbench's results only.
cmake -S . -B build/release -DCMAKE_C_COMPILER=gcc \
	-DCMAKE_BUILD_TYPE=Release -DMTPOOL_BUILD_TESTS=OFF >&2
cmake --build build/release -j2 --target mtbench >&2
exec build/release/mtbench "$@"
