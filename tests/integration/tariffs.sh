#!/usr/bin/env bash
# The treasurer's tariff work: the notice refusal names the first valid_from
# that would be accepted. Dates are computed from today (UTC, the zone of this
# daemon), never written down.
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
expect 200 "$(req POST "/api/v1/tariffs/$(body .id)/publish" "$ADMIN")" \
	"the date the refusal named is accepted"

finish
