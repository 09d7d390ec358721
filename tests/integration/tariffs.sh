#!/usr/bin/env bash
# The treasurer's tariff work: the notice refusal names the first valid_from
# that would be accepted; a draft can be read, replaced and deleted by the
# treasurer alone, and a published tariff by no one. Dates are computed from
# today (UTC, the zone of this daemon), never written down.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
ADMIN=$(admin_token)
NOTICE_DAYS=30

# tariff VALID_FROM: the smallest tariff, which charges nothing.
tariff() {
	printf '{"name":"Free for now","currency":"EUR","valid_from":"%s"}' "$1"
}

# first_valid_from: the 1st of the month on or after today + the notice.
first_valid_from() {
	local earliest
	earliest=$(date -u -d "$(date -u +%F) + $NOTICE_DAYS days" +%F)
	if [ "${earliest#*-*-}" = 01 ]; then
		echo "$earliest"
	else
		date -u -d "${earliest%-*}-01 + 1 month" +%F
	fi
}

# The notice refusal says the first valid_from that publishing would accept,
# and that one is accepted while the month before it is not.
expected=$(first_valid_from)
too_early=$(date -u -d "$expected - 1 month" +%F)
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$(tariff "$too_early")")" "a draft without notice"
early_id=$(body .id)
status=$(req POST "/api/v1/tariffs/$early_id/publish" "$ADMIN")
# Midnight may pass between the two readings of the date.
after=$(first_valid_from)
expect_problem 422 "$status" "publishing without notice is refused" \
	"earliest valid_from of a tariff published today is ($expected|$after),"
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$(tariff "$after")")" "a draft from that date"
PUBLISHED=$(body .id)
expect 200 "$(req POST "/api/v1/tariffs/$PUBLISHED/publish" "$ADMIN")" \
	"the date the refusal named is accepted"
published_sha=$(body -r .sha256)

# A draft is the treasurer's: readable by the admin token only.
expect 201 "$(req POST /api/v1/households "$ADMIN" '{"name":"Garcia","joined_at":"2026-01-01"}')" \
	"household created"
MEMBER=$(req POST "/api/v1/households/$(body .id)/tokens" "$ADMIN" '{"name":"garcia"}' >/dev/null
	body -r .token)
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$(tariff "$after")")" "a draft"
DRAFT=$(body .id)
expect 200 "$(req GET "/api/v1/tariffs/$DRAFT" "$ADMIN")" "the treasurer reads the draft"
[ "$(body -r .status)" = draft ] && [ "$(body -r .document.valid_from)" = "$after" ] ||
	fail "the draft as read: $(cat "$WORK/body")"
ok "the draft is shown with its status and document"
expect_problem 404 "$(req GET "/api/v1/tariffs/$DRAFT")" "the public does not see the draft" 'draft'
expect_problem 404 "$(req GET "/api/v1/tariffs/$DRAFT" "$MEMBER")" "a member does not see the draft" \
	'draft'
expect 200 "$(req GET '/api/v1/tariffs?status=draft' "$ADMIN")" "the treasurer lists drafts"
[ "$(body -c '[.tariffs[] | [.id, .status]]')" = "[[$early_id,\"draft\"],[$DRAFT,\"draft\"]]" ] ||
	fail "drafts listed: $(body -c '[.tariffs[] | [.id, .status]]')"
ok "the list of drafts holds the drafts alone"
for who in "" "$ADMIN" "$MEMBER"; do
	expect 200 "$(req GET /api/v1/tariffs "$who")" "the tariff list"
	[ "$(body -c '[.tariffs[] | [.id, .status]]')" = "[[$PUBLISHED,\"published\"]]" ] ||
		fail "tariffs listed: $(body -c '[.tariffs[] | [.id, .status]]')"
	ok "the tariff list holds the published tariff alone"
done
expect_problem 401 "$(req GET '/api/v1/tariffs?status=draft')" "drafts need a token" 'treasurer'
expect_problem 403 "$(req GET '/api/v1/tariffs?status=draft' "$MEMBER")" \
	"a member cannot list drafts" 'treasurer'
expect_problem 400 "$(req GET '/api/v1/tariffs?status=all' "$ADMIN")" "an unknown status is refused" \
	'published .*or draft'
expect_problem 401 "$(req GET /api/v1/tariffs AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)" \
	"an unknown token is refused, even where none is needed" 'not known'

# A draft is replaced by a whole new document, validated as a new draft is.
replacement=$(jq -c '.name = "Solidarity" | .fixed_fee = {"amount_minor": 900, "prorate": false, "description": "Access"}' <<<"$(tariff "$after")")
expect 200 "$(req PUT "/api/v1/tariffs/$DRAFT" "$ADMIN" "$replacement")" "the draft is replaced"
[ "$(body -r .name)" = Solidarity ] && [ "$(body .document.fixed_fee.amount_minor)" = 900 ] &&
	[ "$(body -r .status)" = draft ] && [ "$(body .id)" = "$DRAFT" ] ||
	fail "the replaced draft: $(cat "$WORK/body")"
[ "$(printf '%s' "$(body -c .document)" | sha256sum | cut -d' ' -f1)" = "$(body -r .sha256)" ] ||
	fail "the replaced draft's sha256 is not its document's"
ok "the replacement has the new document and its hash"
expect_problem 400 "$(req PUT "/api/v1/tariffs/$DRAFT" "$ADMIN" "$(jq -c '.colour = "blue"' <<<"$replacement")")" \
	"a replacement with an unknown key is refused" 'colour'
expect_problem 422 "$(req PUT "/api/v1/tariffs/$DRAFT" "$ADMIN" "$(jq -c '.currency = "USD"' <<<"$replacement")")" \
	"a replacement in another currency is refused" 'EUR'
expect 200 "$(req GET "/api/v1/tariffs/$DRAFT" "$ADMIN")" "the draft read again"
[ "$(body -r .name)" = Solidarity ] || fail "a refused replacement changed the draft: $(body -r .name)"
ok "a refused replacement leaves the draft as it was"
expect 403 "$(req PUT "/api/v1/tariffs/$DRAFT" "$MEMBER" "$replacement")" "a member cannot replace a draft"
expect_problem 404 "$(req PUT /api/v1/tariffs/999 "$ADMIN" "$replacement")" \
	"replacing no tariff is 404" 'no tariff 999'

# A draft is deleted; a published tariff is neither replaced nor deleted.
expect 403 "$(req DELETE "/api/v1/tariffs/$DRAFT" "$MEMBER")" "a member cannot delete a draft"
expect 204 "$(req DELETE "/api/v1/tariffs/$DRAFT" "$ADMIN")" "the draft is deleted"
[ ! -s "$WORK/body" ] || fail "204 with a body: $(cat "$WORK/body")"
expect_problem 404 "$(req GET "/api/v1/tariffs/$DRAFT" "$ADMIN")" "the deleted draft is gone" \
	"no tariff $DRAFT"
expect_problem 404 "$(req DELETE "/api/v1/tariffs/$DRAFT" "$ADMIN")" "deleting it again is 404" \
	"no tariff $DRAFT"
expect_problem 409 "$(req PUT "/api/v1/tariffs/$PUBLISHED" "$ADMIN" "$replacement")" \
	"a published tariff cannot be replaced" 'published tariff is immutable'
expect_problem 409 "$(req DELETE "/api/v1/tariffs/$PUBLISHED" "$ADMIN")" \
	"a published tariff cannot be deleted" 'published tariff is immutable'
expect 200 "$(req GET "/api/v1/tariffs/$PUBLISHED")" "the published tariff read again"
[ "$(body -r .sha256)" = "$published_sha" ] && [ "$(body -r .name)" = "Free for now" ] ||
	fail "the published tariff changed: $(cat "$WORK/body")"
ok "the published tariff is as it was published"
for sql in "UPDATE tariffs SET name = 'x' WHERE id = $PUBLISHED" "DELETE FROM tariffs WHERE id = $PUBLISHED"; do
	! sqlite3 "$DB" "$sql" 2>/dev/null || fail "the database let through: $sql"
done
ok "the database itself refuses to change or delete a published tariff"

# Under the sanitizers a leak makes the exit code non-zero.
stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited with $STOP_STATUS"
ok "the daemon stops cleanly"

finish
