#!/usr/bin/env bash
# A tariff's label through the real daemon: publishing makes it, anyone reads
# it without a token, its hash is its document's, its signature verifies
# with the log key and its label-published entry is in the log; a draft, no
# tariff, and a tariff published before labels existed have none (404). With
# no closed period the profiles are the configured ones. Dates are computed
# from today (UTC, the zone of this daemon), never written down.
. "$(dirname "$0")/lib.sh"

write_config
# A light profile of 31 GB down, nothing up; typical and heavy by default
# (80 and 10, 300 and 40).
cat >>"$CONFIG" <<CONF

[label]
light_down_gb = 31
light_up_gb = 0
CONF
start_daemon
ADMIN=$(admin_token)
KEY=$(curl -sS "$BASE/api/v1/log/key")

# The 1st of the month on or after today + 30 days' notice.
earliest=$(date -u -d "$(date -u +%F) + 30 days" +%F)
if [ "${earliest#*-*-}" = 01 ]; then
	VALID_FROM=$earliest
else
	VALID_FROM=$(date -u -d "${earliest%-*}-01 + 1 month" +%F)
fi
# A fee of 10.00 and 0.10 a GB either way.
TARIFF=$(printf '{"name":"Flat","currency":"EUR","valid_from":"%s","fixed_fee":{"amount_minor":1000,"prorate":false},"usage_charges":[{"name":"Internet","direction":"both","tiers":[{"price_per_gb_minor":10}]}]}' "$VALID_FROM")

expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$TARIFF")" "a draft"
ID=$(body .id)
expect_problem 404 "$(req GET "/api/v1/tariffs/$ID/label")" "a draft has no label" \
	"tariff $ID is not published yet; its label is made when it is published"
expect_problem 404 "$(req GET "/api/v1/tariffs/$ID/label" "$ADMIN")" \
	"not even for the treasurer" "not published yet"
expect 200 "$(req POST "/api/v1/tariffs/$ID/publish" "$ADMIN")" "the tariff is published"
TARIFF_SHA=$(body -r .sha256)
TARIFF_LOG_INDEX=$(body .log_index)

expect 200 "$(req GET "/api/v1/tariffs/$ID/label")" "anyone reads the label, without a token"
[ "$(body .tariff_id)" = "$ID" ] && [ "$(body -r .document.tariff.sha256)" = "$TARIFF_SHA" ] &&
	[ "$(body -r .document.tariff.valid_from)" = "$VALID_FROM" ] &&
	[ "$(body -r .document.currency)" = EUR ] && [ "$(body .document.exponent)" = 2 ] &&
	[ "$(body .document.notice_days)" = 30 ] &&
	[ "$(body -c .document.terms)" = "$(jq -cS . <<<"$TARIFF")" ] ||
	fail "the label does not describe the tariff: $(head -c 600 "$WORK/body")"
ok "the label names the tariff, its hash, its terms and the notice"
[ "$(body -r .document.profiles.source)" = configuration ] &&
	[ "$(body -r .document.profiles.period)" = "${VALID_FROM%-01}" ] &&
	[ "$(body .document.profiles.light.percentile)" = null ] ||
	fail "profiles: $(body -c '.document.profiles | {source, period}')"
ok "with no closed period the profiles are the configured ones, in the tariff's first month"
# Light: 10.00 + 31 GB × 0.10 = 13.10; typical: 10.00 + 90 GB × 0.10 =
# 19.00; heavy: 10.00 + 340 GB × 0.10 = 44.00.
[ "$(body .document.profiles.light.bytes_down)" = 31000000000 ] &&
	[ "$(body .document.profiles.light.total_minor)" = 1310 ] &&
	[ "$(body .document.profiles.typical.total_minor)" = 1900 ] &&
	[ "$(body .document.profiles.heavy.total_minor)" = 4400 ] &&
	[ "$(body .document.profiles.heavy.invoice.total_minor)" = 4400 ] &&
	[ "$(body .document.profiles.heavy.invoice.quote)" = true ] ||
	fail "profile costs: $(body -c '.document.profiles | [.light, .typical, .heavy] | map(.total_minor)')"
ok "each profile costs what the tariff says, with its invoice line by line"

[ "$(printf '%s' "$(body -c .document)" | sha256sum | cut -d' ' -f1)" = "$(body -r .sha256)" ] ||
	fail "the label's sha256 is not its document's"
ok "the label's sha256 is that of its canonical document"
signature_verifies "$(body -c .document)" "$(body -r .signature)" "$KEY" ||
	fail "the label's signature does not verify"
ok "the label's signature verifies with the published log key"

LABEL_SHA=$(body -r .sha256)
LABEL_INDEX=$(body .log_index)
[ "$LABEL_INDEX" = $((TARIFF_LOG_INDEX + 1)) ] ||
	fail "label entry $LABEL_INDEX does not follow the tariff's $TARIFF_LOG_INDEX"
curl -sS "$BASE/api/v1/log/entries/$LABEL_INDEX" >"$WORK/entry"
printf 'label-published\ntariff %s\nsha256 %s\nprofiles configuration\nperiod %s\n' \
	"$ID" "$LABEL_SHA" "${VALID_FROM%-01}" >"$WORK/expected"
[ "$(head -n 5 "$WORK/entry")" = "$(cat "$WORK/expected")" ] ||
	fail "the log entry: $(cat "$WORK/entry")"
"$COOPBILL_VERIFY" --entry "$LABEL_INDEX" "$BASE" "$KEY" >"$WORK/verify" ||
	fail "coopbill-verify: $(cat "$WORK/verify")"
ok "the label-published entry names the label's hash, and coopbill-verify finds it in the log"

expect_problem 409 "$(req POST "/api/v1/tariffs/$ID/publish" "$ADMIN")" \
	"publishing again is refused" 'published already'
expect 200 "$(req GET "/api/v1/tariffs/$ID/label")" "the label read again"
[ "$(body -r .sha256)" = "$LABEL_SHA" ] && [ "$(body .log_index)" = "$LABEL_INDEX" ] ||
	fail "the label changed: $(body -r .sha256)"
ok "the label is as it was made"
for sql in "UPDATE tariff_labels SET document = '{}'" "DELETE FROM tariff_labels"; do
	! sqlite3 "$DB" "$sql" 2>/dev/null || fail "the database let through: $sql"
done
ok "the database itself refuses to change or delete a label"

expect_problem 404 "$(req GET /api/v1/tariffs/999/label)" "no tariff, no label" 'no tariff 999'
expect_problem 404 "$(req GET /api/v1/tariffs/abc/label)" "a path that names no tariff" \
	'no tariff abc'

# A tariff published by an older coopbill, before labels existed, has none.
stop_daemon
sqlite3 "$DB" "INSERT INTO tariffs (name, valid_from, document, sha256, status, published_at,
	signature, log_index) SELECT 'Old', '2020-01-01', document, sha256, 'published',
	'2019-11-01T00:00:00Z', signature, log_index FROM tariffs WHERE id = $ID"
OLD=$(sqlite3 "$DB" "SELECT max(id) FROM tariffs")
start_daemon
expect_problem 404 "$(req GET "/api/v1/tariffs/$OLD/label")" \
	"a tariff published before labels existed has none" 'published before coopbill made labels'

stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited with $STOP_STATUS"
ok "the daemon stops cleanly"

finish
