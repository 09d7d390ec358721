#!/usr/bin/env bash
# The Debian packages as an operator gets them: `dpkg-buildpackage -us -uc -b`
# builds coopbill and coopbill-verify from a copy of the tree, lintian finds
# no error and no warning, and apt installs both into a bare Debian 12
# (debootstrap --variant=minbase), pulling their dependencies from the mirror
# this machine's apt uses. There the coopbill user and the modes of its
# folders exist, `coopbilld --check-config` accepts the installed
# configuration as that user, `coopbilld token create` makes the first admin
# token, `coopbill-verify --help` runs, the unit and the manual pages are in
# place, the service is not enabled, an operator's edit of the configuration
# survives a reinstall, and a purge removes it.
#
# As root only (debootstrap, chroot, mounts); exits 77 otherwise, or when no
# Debian mirror answers. The bare system is cached as a tarball in
# ${XDG_CACHE_HOME:-~/.cache}/coopbill (rebuilt after 30 days); everything
# else, mounts included, is removed on exit, whatever happens.
set -euo pipefail
: "${COOPBILL_SRCDIR:?COOPBILL_SRCDIR must name the source tree}"

. "$(dirname "$0")/lib.sh"
package_require dpkg-buildpackage dh lintian debootstrap curl
package_work package

# As `sudo -u coopbill` would run it.
as_coopbill() {
	in_root setpriv --reuid=coopbill --regid=coopbill --init-groups "$@"
}

package_build
lintian_start=$SECONDS
lintian --fail-on error,warning "$WORK"/src/coopbill_*.changes >"$WORK/lintian.log" 2>&1 ||
	{ cat "$WORK/lintian.log" >&2; fail "lintian reports errors or warnings (above)"; }
ok "lintian: no error, no warning ($((SECONDS - lintian_start)) s)"

package_bare_root
package_install

# The postinst made the user and, after it, the folders' owners and modes.
in_root getent passwd coopbill >/dev/null || fail "the coopbill user was not created (sysusers.d)"
for expect in "/etc/coopbill 750 root coopbill" "/etc/coopbill/coopbill.conf 640 root coopbill" \
	"/var/lib/coopbill 700 coopbill coopbill"; do
	path=${expect%% *}
	got="$path $(in_root stat -c '%a %U %G' "$path")"
	[ "$got" = "$expect" ] || fail "$path is $got, not $expect (tmpfiles.d)"
done
ok "the coopbill user exists; /etc/coopbill, its file and /var/lib/coopbill have their owners and modes"

out=$(in_root coopbilld --check-config 2>"$WORK/check.err") ||
	fail "coopbilld --check-config failed: $(cat "$WORK/check.err")"
[ "$out" = "configuration OK" ] || fail "coopbilld --check-config printed '$out'"
out=$(as_coopbill coopbilld --check-config 2>"$WORK/check.err") ||
	fail "coopbilld --check-config as the coopbill user failed: $(cat "$WORK/check.err")"
[ "$out" = "configuration OK" ] || fail "coopbilld --check-config as coopbill printed '$out'"
ok "coopbilld --check-config: configuration OK, as root and as the coopbill user"

token=$(as_coopbill coopbilld token create --role admin --name treasurer 2>"$WORK/token.err") ||
	fail "coopbilld token create failed: $(cat "$WORK/token.err")"
[ -n "$token" ] || fail "coopbilld token create printed no token"
as_coopbill coopbilld token list | grep -q ' admin .* treasurer ' ||
	fail "token list does not show the treasurer's token"
for f in coopbill.db log.key; do
	got=$(in_root stat -c '%a %U' "/var/lib/coopbill/$f") || fail "/var/lib/coopbill/$f is missing"
	[ "$got" = "600 coopbill" ] || fail "/var/lib/coopbill/$f is $got, not 600 coopbill"
done
ok "the first admin token, made as the coopbill user; the database and log key are its own, 0600"

in_root coopbill-verify --help >"$WORK/verify.out" || fail "coopbill-verify --help failed"
grep -q '^usage: coopbill-verify' "$WORK/verify.out" || fail "coopbill-verify --help printed no usage"
ok "coopbill-verify --help"

unit=$ROOT/lib/systemd/system/coopbilld.service
grep -qx 'ExecStart=/usr/sbin/coopbilld --config /etc/coopbill/coopbill.conf' "$unit" ||
	fail "the installed unit does not run /usr/sbin/coopbilld with /etc/coopbill/coopbill.conf"
[ ! -e "$ROOT/etc/systemd/system/multi-user.target.wants/coopbilld.service" ] ||
	fail "the package enabled coopbilld.service before the operator set [log] origin"
for page in man1/coopbill-verify.1 man5/coopbill.conf.5 man8/coopbilld.8; do
	[ -f "$ROOT/usr/share/man/$page.gz" ] || fail "/usr/share/man/$page.gz is not installed"
done
[ -f "$ROOT/usr/share/coopbill/www/index.html" ] || fail "the member page is not installed"
ok "the unit (not enabled), the member page and the three manual pages are installed"

# The operator's edit survives a reinstall; remove keeps it, purge removes it.
in_root dpkg-query -W -f='${Conffiles}\n' coopbill | grep -q ' /etc/coopbill/coopbill.conf ' ||
	fail "/etc/coopbill/coopbill.conf is not a conffile"
sed -i 's/^listen = .*/listen = 127.0.0.1:8181/' "$ROOT/etc/coopbill/coopbill.conf"
in_root apt-get install -y -q --reinstall "$coopbill_deb" >"$WORK/apt.log" 2>&1 ||
	{ tail -20 "$WORK/apt.log" >&2; fail "apt-get install --reinstall failed"; }
grep -qx 'listen = 127.0.0.1:8181' "$ROOT/etc/coopbill/coopbill.conf" ||
	fail "a reinstall overwrote the operator's edit of /etc/coopbill/coopbill.conf"
in_root coopbilld --check-config >/dev/null 2>"$WORK/check.err" ||
	fail "the edited configuration does not load: $(cat "$WORK/check.err")"
in_root apt-get remove -y -q coopbill coopbill-verify >"$WORK/apt.log" 2>&1 ||
	{ tail -20 "$WORK/apt.log" >&2; fail "apt-get remove failed"; }
[ ! -e "$ROOT/usr/sbin/coopbilld" ] || fail "apt-get remove left /usr/sbin/coopbilld"
grep -qx 'listen = 127.0.0.1:8181' "$ROOT/etc/coopbill/coopbill.conf" ||
	fail "apt-get remove did not keep the edited configuration"
in_root dpkg --purge coopbill >"$WORK/apt.log" 2>&1 ||
	{ tail -20 "$WORK/apt.log" >&2; fail "dpkg --purge coopbill failed"; }
[ ! -e "$ROOT/etc/coopbill/coopbill.conf" ] || fail "dpkg --purge left /etc/coopbill/coopbill.conf"
ok "the configuration is a conffile: kept with the operator's edit on reinstall and remove, gone on purge"

echo "$PASSED passed, 0 failed in $((SECONDS - STARTED)) s (build $build_s s)"
