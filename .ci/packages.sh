# .ci/packages.sh: sourced by the project's scripts (tests/run.sh,
# bench/run.sh, bench/compare.sh, ...) so that installing what a fresh
# Debian 12 machine lacks is written once.
#
#   source .ci/packages.sh
#   mt_install_packages TAG PACKAGE...
#
# Installs every PACKAGE that dpkg does not list as installed, through
# apt-get (as root, or through sudo), running `apt-get update` first and
# only when something is missing; a machine that has them all touches
# nothing. TAG prefixes the messages (which go to stderr, so a script's
# stdout keeps its own output). A PACKAGE written `a|b` is satisfied by
# either name (the first is installed when neither is): for example
# `gnuplot-nox|gnuplot-qt`. Returns non-zero when apt-get fails or when
# neither root nor sudo is available.

mt_package_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
		grep -q 'install ok installed'
}

mt_install_packages() {
	local tag=$1 spec alt found
	shift
	local -a missing=()
	for spec in "$@"; do
		found=0
		IFS='|' read -r -a alts <<<"$spec"
		for alt in "${alts[@]}"; do
			mt_package_installed "$alt" && { found=1; break; }
		done
		((found)) || missing+=("${alts[0]}")
	done
	if ((${#missing[@]} == 0)); then
		echo "$tag: packages: all $# already installed" >&2
		return 0
	fi
	echo "$tag: packages: installing ${missing[*]}" >&2
	local -a sudo=()
	if (($(id -u) != 0)); then
		command -v sudo >/dev/null || {
			echo "$tag: not root and no sudo: install ${missing[*]}" >&2
			return 1
		}
		sudo=(sudo)
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}" >&2
}
