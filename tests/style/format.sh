#!/usr/bin/env bash
# The C sources are formatted with the repository's .clang-format.
set -euo pipefail
: "${COOPBILL_SRCDIR:?}"
command -v clang-format >/dev/null || { echo "SKIP: clang-format is not installed"; exit 77; }
cd "$COOPBILL_SRCDIR"
bad=0
while IFS= read -r -d '' file; do
	if ! clang-format --dry-run --Werror "$file" 2>/dev/null; then
		echo "not formatted: $file (run clang-format -i $file)"
		bad=1
	fi
done < <(find src include tests bench -name '*.[ch]' -print0 2>/dev/null)
exit $bad
