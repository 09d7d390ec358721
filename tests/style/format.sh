#!/usr/bin/env bash
# The C sources are formatted with the repository's .clang-format.
set -euo pipefail
: "${COOPBILL_SRCDIR:?}"
command -v clang-format >/dev/null || { echo "SKIP: clang-format is not installed"; exit 77; }
cd "$COOPBILL_SRCDIR"
# One clang-format for all files; its warnings name each file and line.
if ! find src include tests bench -name '*.[ch]' -print0 2>/dev/null |
	xargs -0 clang-format --dry-run --Werror 2>"${TMPDIR:-/tmp}/format.$$"; then
	grep -o '^[^:]*\.[ch]' "${TMPDIR:-/tmp}/format.$$" | sort -u |
		sed 's/.*/not formatted: & (run clang-format -i &)/'
	rm -f "${TMPDIR:-/tmp}/format.$$"
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/format.$$"
