#!/usr/bin/env bash
# What the install instructions promise a newcomer: the README's and the
# operations guide's apt-get lines name every package the build needs (the
# build group of scripts/deps.sh, which the tests install), the guide's table
# names every file `meson install` puts on the box, and its backup and
# restore are the daemon's commands, the log key backed up with the database.
. "$(dirname "$0")/lib.sh"
: "${COOPBILL_BUILDDIR:?COOPBILL_BUILDDIR must name the build tree}"

# The first apt-get install command of a file, its continuation lines joined.
install_line() {
	awk '/apt-get install/ { on = 1 } on { print; if ($0 !~ /\\$/) exit }' "$1" | tr -d '\\\n'
}

build_packages=$(awk '/# build/ { on = 1; next } /# tests/ { on = 0 } on' \
	"$COOPBILL_SRCDIR/scripts/deps.sh" | tr -s ' \t' '\n' | grep -v '^$')
[ "$(echo "$build_packages" | wc -l)" -ge 10 ] || fail "the build packages were not found in scripts/deps.sh"
for doc in README.md docs/operations.md; do
	line=" $(install_line "$COOPBILL_SRCDIR/$doc") "
	for package in $build_packages; do
		case $package in gcc | libc6-dev | python3) continue ;; esac # in every Debian build setup
		[[ $line == *" $package "* ]] || fail "$doc: the install line lacks $package"
	done
	ok "$doc: the install line names every package the build needs"
done

installed=$(meson introspect --installed "$COOPBILL_BUILDDIR" | jq -r '.[]')
[ -n "$installed" ] || fail "meson lists nothing it installs"
table=$(grep '^| `/' "$COOPBILL_SRCDIR/docs/operations.md")
while read -r path; do
	name=$(basename "$path")
	grep -q -- "$name" <<<"$table" || fail "docs/operations.md: the table of installed files lacks $name ($path)"
done <<<"$installed"
ok "docs/operations.md: the table names every file meson installs"

# The backup and the restore are the commands the backup suite runs, and
# the backup holds the log key.
section() {
	awk -v title="$1" '$0 == "## " title { on = 1; next } on && /^## / { exit } on' \
		"$COOPBILL_SRCDIR/docs/operations.md"
}
grep -q '^sudo -u coopbill coopbilld backup ' <<<"$(section Backup)" ||
	fail "docs/operations.md: Backup does not show coopbilld backup"
grep -q '`log.key`' <<<"$(section Backup)" || fail "docs/operations.md: the backup does not name the log key"
grep -q '^sudo -u coopbill coopbilld restore ' <<<"$(section Restore)" ||
	fail "docs/operations.md: Restore does not show coopbilld restore"
grep -q '^sudo -u coopbill coopbilld log record-loss$' <<<"$(section Restore)" ||
	fail "docs/operations.md: Restore does not show how to record a loss"
ok "docs/operations.md: backup and restore are the commands, with the log key"
finish
