#!/usr/bin/env bash
# redis/cli/demo.sh: the project's main job (README): `bash redis/cli/demo.sh`.
#
# 1. Installs the Debian packages the build and the demo need when any is
#    missing (.ci/packages.sh: apt-get, as root or through sudo).
# 2. Builds build/release (gcc, Release) and its mtredis target; build
#    output goes to stderr, so stdout carries the demo's own output.
# 3. Runs `mtredis demo` with this script's arguments (for example
#    `bash redis/cli/demo.sh -n 1000000`, or `--uri redis://host:6379` to
#    use a server of your own): it starts a private redis-server on a unix
#    socket in a temporary folder, shows every helper at work with
#    timings, and stops the server and removes the folder on exit,
#    Ctrl-C included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

packages=(build-essential cmake pkg-config libck-dev libhiredis-dev
	  liburiparser-dev redis-server)

# shellcheck source=../../.ci/packages.sh
source .ci/packages.sh
mt_install_packages demo "${packages[@]}"
cmake -S . -B build/release -DCMAKE_C_COMPILER=gcc \
	-DCMAKE_BUILD_TYPE=Release -DMTPOOL_BUILD_TESTS=OFF >&2
cmake --build build/release -j2 --target mtredis >&2
exec build/release/mtredis demo "$@"
