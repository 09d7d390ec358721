# shellcheck shell=bash
# What the package suite's tests share, sourced after `set -euo pipefail`
# with COOPBILL_SRCDIR set: the skips without root or a tool, a work folder
# removed on exit with every mount under it, the .deb files built with
# dpkg-buildpackage from a copy of the tree, and a bare Debian 12
# (debootstrap --variant=minbase, cached as a tarball in
# ${XDG_CACHE_HOME:-~/.cache}/coopbill, rebuilt after 30 days) into which apt
# installs them, pulling their dependencies from the mirror this machine's
# apt uses.
#
# A test sourcing this may define before_cleanup, which the EXIT trap runs
# first (to stop what the test started inside the bare Debian).

SUITE=bookworm
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/coopbill

# Exits 77 unless run as root with every tool named installed.
package_require() {
	local tool
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: this test needs root (debootstrap, chroot and mounts)"
		exit 77
	fi
	for tool in "$@"; do
		command -v "$tool" >/dev/null || {
			echo "SKIP: $tool is not installed (scripts/test installs it: scripts/deps.sh)"
			exit 77
		}
	done
}

# Unmounts everything under a folder, the deepest first (debootstrap mounts
# in its target too).
unmount_under() {
	local m
	for m in $(awk -v dir="$1/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}

# Removes WORK without crossing into a mount left behind.
cleanup() {
	if declare -F before_cleanup >/dev/null; then before_cleanup || true; fi
	unmount_under "$WORK"
	rm -rf --one-file-system "$WORK"
}

# Makes WORK (named after the test) with ROOT, the bare Debian's folder, in
# it, and the traps that remove it.
package_work() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/coopbill-$1.XXXXXX")
	ROOT=$WORK/root
	PASSED=0
	STARTED=$SECONDS
	trap cleanup EXIT
	# A signal (meson's timeout, ^C) ends the script through its EXIT trap too.
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	PASSED=$((PASSED + 1))
	echo "ok $PASSED - $* ($((SECONDS - STARTED)) s so far)"
}

# Runs a command in the bare Debian, with a clean environment.
in_root() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
apt_mirror() {
	{
		awk '/^URIs:/ { print $2 }' /etc/apt/sources.list.d/*.sources 2>/dev/null
		awk '$1 == "deb" { print $2 }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	} | grep -v security | head -1 || true
}

# Builds the packages from a copy of the tree: the files git knows and the
# new ones it does not ignore (so uncommitted work is built too), or, outside
# a git checkout, every file but meson build trees. Arguments are added to
# DEB_BUILD_OPTIONS (nocheck). Sets debs (coopbill, coopbill-verify) and
# build_s.
package_build() {
	local build_start=$SECONDS deb
	mkdir -p "$WORK/src/coopbill"
	if git -C "$COOPBILL_SRCDIR" rev-parse --show-toplevel >/dev/null 2>&1; then
		(cd "$COOPBILL_SRCDIR" && git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar --null -T - -cf -) | tar -C "$WORK/src/coopbill" -xf -
	else
		tar -C "$COOPBILL_SRCDIR" --exclude=.git --exclude-tag-all=build.ninja -cf - . |
			tar -C "$WORK/src/coopbill" -xf -
	fi
	(cd "$WORK/src/coopbill" &&
		DEB_BUILD_OPTIONS="${*:+$* }parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 ||
		{ tail -40 "$WORK/build.log" >&2; fail "dpkg-buildpackage -us -uc -b failed (the end of its log is above)"; }
	build_s=$((SECONDS - build_start))
	debs=("$WORK"/src/coopbill_*.deb "$WORK"/src/coopbill-verify_*.deb)
	for deb in "${debs[@]}"; do [ -f "$deb" ] || fail "dpkg-buildpackage made no $(basename "$deb")"; done
	ok "dpkg-buildpackage -us -uc -b built $(cd "$WORK/src" && echo coopbill_*.deb coopbill-verify_*.deb) in $build_s s"
}

# The bare Debian 12 in ROOT, with /proc, /dev and the host's resolv.conf for
# apt. Exits 77 when no Debian mirror answers.
package_bare_root() {
	local mirror root_start=$SECONDS tarball=$CACHE_DIR/debian-$SUITE-minbase.tar
	mirror=$(apt_mirror)
	[ -n "$mirror" ] || { echo "SKIP: this machine's apt names no Debian mirror"; exit 77; }
	curl -fsS --max-time 30 -o /dev/null "$mirror/dists/$SUITE/Release" ||
		{ echo "SKIP: the Debian mirror $mirror does not answer"; exit 77; }
	mkdir -p "$ROOT" "$CACHE_DIR"
	if [ -n "$(find "$tarball" -mtime -30 2>/dev/null)" ]; then
		tar -C "$ROOT" -xf "$tarball"
	else
		debootstrap --variant=minbase "$SUITE" "$ROOT" "$mirror" >"$WORK/debootstrap.log" 2>&1 || {
			tail -20 "$WORK/debootstrap.log" >&2
			grep -qiE 'Failed getting release file|Couldn.t download|Temporary failure|resolve' \
				"$WORK/debootstrap.log" && { echo "SKIP: debootstrap cannot reach $mirror"; exit 77; }
			fail "debootstrap failed (the end of its log is above)"
		}
		unmount_under "$ROOT"
		tar -C "$ROOT" -cf "$tarball.$$" . && mv "$tarball.$$" "$tarball"
	fi
	mount -t proc proc "$ROOT/proc"
	mount --rbind /dev "$ROOT/dev"
	mount --make-rslave "$ROOT/dev"
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
	ok "a bare Debian 12 from $mirror ($((SECONDS - root_start)) s)"
}

# apt installs both packages into the bare Debian, with the other packages
# named. Sets coopbill_deb and verify_deb, the packages as the bare Debian
# sees them.
package_install() {
	local install_start=$SECONDS
	mkdir -p "$ROOT/tmp/debs"
	cp "${debs[@]}" "$ROOT/tmp/debs/"
	coopbill_deb=/tmp/debs/$(basename "${debs[0]}")
	verify_deb=/tmp/debs/$(basename "${debs[1]}")
	{
		in_root apt-get update -q &&
			in_root apt-get install -y -q --no-install-recommends "$coopbill_deb" "$verify_deb" "$@"
	} >"$WORK/apt.log" 2>&1 || { tail -30 "$WORK/apt.log" >&2; fail "apt-get install of the packages failed"; }
	ok "apt-get install ./coopbill_*.deb ./coopbill-verify_*.deb${*:+ $*} in the bare Debian ($((SECONDS - install_start)) s)"
}
