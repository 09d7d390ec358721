# Installs the Debian 12 packages coopbill needs to build, test and run, when
# any is missing. Sourced by scripts/test and scripts/demo.

COOPBILL_PACKAGES=(
	# build
	gcc libc6-dev meson ninja-build pkg-config python3
	libmicrohttpd-dev libuv1-dev libsqlite3-dev libpq-dev libsodium-dev libjansson-dev
	libmnl-dev libnftnl-dev libsystemd-dev libinih-dev libcurl4-openssl-dev
	# tests
	libcmocka-dev curl jq sqlite3 valgrind systemd clang-format tzdata openssl faketime
	man-db groff-base # man --warnings checks the manual pages
	build-essential debhelper dpkg-dev lintian debootstrap # the package suite builds and installs the .deb
	systemd-container # systemd-nspawn boots the installed package under a real systemd
	prometheus # for promtool, which checks the /metrics text
	clang-14 libclang-rt-14-dev # the fuzz targets: clang and libFuzzer's runtime
	python3-yaml # the isolation walk reads docs/openapi.yaml
	chromium chromium-driver python3-selenium # the browser suite
	postgresql # the postgres suite runs a throwaway cluster of its own, never the package's
	# network namespaces and traffic for the metering tests and the demo
	iproute2 nftables socat procps
)

ensure_packages() {
	local missing=() pkg
	for pkg in "${COOPBILL_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages: ${missing[*]}; run as root or install them with apt-get" >&2
		return 1
	fi
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
