#!/usr/bin/env bash
# The README's curl cookbook, run as written, top to bottom, against a daemon
# with an empty database: every command must succeed (HTTP 2xx), and the
# month it bills must end up with invoices that add up.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
ADMIN=$(admin_token)

# The shell blocks of the cookbook's two sections, in order.
awk '
	/^## The treasurer.s curl cookbook/ { on = 1 }
	/^## Documentation/ { on = 0 }
	on && /^```sh$/ { code = 1; next }
	on && /^```$/ { code = 0; next }
	code { print }
' "$COOPBILL_SRCDIR/README.md" >"$WORK/cookbook.sh"
[ "$(grep -c 'curl ' "$WORK/cookbook.sh")" -ge 30 ] || fail "the cookbook was not found in the README"
grep -q '^B=http://127.0.0.1:8080 ' "$WORK/cookbook.sh" || fail "the cookbook does not set B first"

# Its placeholders are the only thing replaced: the tokens, and the address.
sed -i -e "s|^B=http://127.0.0.1:8080 |B=$BASE |" -e "s|<admin token>|$ADMIN|" \
	-e "s|<member token>|'\"\$COOKBOOK_MEMBER_TOKEN\"'|" "$WORK/cookbook.sh"

# curl as the cookbook uses it, but failing on an HTTP error; it keeps the
# member token that the cookbook issues.
cat >"$WORK/run.sh" <<'SH'
set -euo pipefail
curl() {
	local out
	out=$(command curl -sS --fail-with-body "$@") || {
		echo "FAILED: curl $*" >&2
		echo "$out" >&2
		return 1
	}
	printf '%s\n' "$out"
	# Tokens are listed and revoked on that path too: only an issue
	# answers with one.
	case "$*" in
	*/tokens)
		if jq -e .token <<<"$out" >/dev/null; then
			COOKBOOK_MEMBER_TOKEN=$(jq -r .token <<<"$out")
		fi
		;;
	esac
}
SH
cat "$WORK/cookbook.sh" >>"$WORK/run.sh"
mkdir "$WORK/cwd"
ln -s "$COOPBILL_SRCDIR/docs" "$WORK/cwd/docs"
(cd "$WORK/cwd" && bash "$WORK/run.sh") >"$WORK/cookbook.out" 2>"$WORK/cookbook.err" ||
	fail "the cookbook failed: $(tail -5 "$WORK/cookbook.err")"
ok "every command of the README's cookbook succeeds, in order, on an empty database"

P=$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m)
expect 200 "$(req GET "/api/v1/periods/$P/summary" "$ADMIN")" "the billed month's summary"
[ "$(body .status)" = closed ] && [ "$(body .households_billed)" = 2 ] ||
	fail "summary: $(cat "$WORK/body")"
[ "$(wc -l <"$WORK/cwd/invoices.csv")" = 3 ] || fail "invoices.csv: $(cat "$WORK/cwd/invoices.csv")"
ok "the cookbook's month is closed with an invoice for each household"
expect 200 "$(req GET /api/v1/households/1/ledger "$ADMIN")" "the first household's ledger"
[ "$(body -c '[.entries[] | .kind]')" = '["invoice","payment","adjustment","reversal"]' ] ||
	fail "ledger: $(body -c '[.entries[] | .kind]')"
ok "the cookbook's reversal cancels its own credit"

stop_daemon
finish
