#!/usr/bin/env bash
# bench/run.sh: builds build/release (gcc, Release) and runs mtbench with
# this script's arguments: `bash bench/run.sh [mtbench options]`.
# Installs the Debian packages the build needs when any is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(build-essential cmake pkg-config clang libclang-rt-14-dev
	  libck-dev libcriterion-dev libhiredis-dev redis-server redis-tools)

# shellcheck source=../.ci/packages.sh
source .ci/packages.sh
mt_install_packages bench "${packages[@]}"
# Build output goes to stderr so that stdout carries mtbench's results only.
cmake -S . -B build/release -DCMAKE_C_COMPILER=gcc \
	-DCMAKE_BUILD_TYPE=Release -DMTPOOL_BUILD_TESTS=OFF >&2
cmake --build build/release -j2 --target mtbench >&2
exec build/release/mtbench "$@"
