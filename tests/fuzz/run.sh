#!/usr/bin/env bash
# Runs one fuzz target for COOPBILL_FUZZ_SECONDS (30 by default) from its seed
# corpus, under the sanitizers it was built with, and prints one line: runs,
# coverage, corpus. The inputs it finds go to a temporary folder, so the
# corpus in the tree changes only by hand; a crashing input is kept in
# COOPBILL_FUZZ_ARTIFACTS and the run fails.
# usage: run.sh TARGET SEED_DIR
set -euo pipefail
target=$1
seeds=$2
name=$(basename "$target")
name=${name#fuzz_}
seconds=${COOPBILL_FUZZ_SECONDS:-30}
artifacts=${COOPBILL_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
mkdir -p "$artifacts"
work=$(mktemp -d "/tmp/coopbill-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# A dictionary beside the corpus (tests/fuzz/<name>.dict) gives the
# target the words of its input.
dict=()
[ -f "$(dirname "$seeds")/../$name.dict" ] && dict=(-dict="$(dirname "$seeds")/../$name.dict")
status=0
"$target" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -detect_leaks=1 \
	-print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$work" "$seeds" \
	>"$work/log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
	tail -n 60 "$work/log" >&2
	echo "fuzz $name: FAILED (exit $status); the input is in $artifacts"
	exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
last=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
seeded=$(find "$seeds" -type f | wc -l)
echo "fuzz $name: ${runs:-0} runs in ${seconds} s, cov ${cov:-0} ft ${ft:-0}, corpus ${corp:-0} (${seeded} seeds)"
