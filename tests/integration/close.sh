#!/usr/bin/env bash
# Closing a month whatever the input: a household moved to a tariff that
# starts later, byte counts no link carries, expenses past what a period may
# hold, and a close interrupted at each of its steps. The month is the one
# before the current one (UTC), computed from the clock.
. "$(dirname "$0")/lib.sh"

THIS=$(date -u +%Y-%m)
PREV=$(date -u -d "$THIS-01 -1 month" +%Y-%m)
NEXT=$(date -u -d "$THIS-01 +1 month" +%Y-%m)
# A 300-second bucket at 400 Gbit/s, and the hour of 12 such buckets.
LINK_BUCKET=15000000000000

write_config
start_daemon
ADMIN=$(admin_token)

for name in Garcia Lopez Ruiz; do
	expect 201 "$(req POST /api/v1/households "$ADMIN" "{\"name\":\"$name\",\"joined_at\":\"$PREV-01\"}")" \
		"$name joins on $PREV-01"
done

# tariff VALID_FROM: a cost-sharing tariff, published at once.
tariff() {
	local body
	body=$(jq -nc --arg from "$1" '{
	  name: "Village", currency: "EUR", valid_from: $from,
	  emergency: {reason: "the test bills the month that just ended"},
	  fixed_fee: {amount_minor: 1000, prorate: false},
	  usage_charges: [{name: "Download", direction: "down", tiers: [{price_per_gb_minor: 10}]}],
	  cost_sharing: {categories: ["transit"], equal_bp: 5000, direction: "down"}}')
	expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$body")" "tariff from $1 drafted"
	TARIFF_ID=$(body .id)
	expect 200 "$(req POST "/api/v1/tariffs/$TARIFF_ID/publish" "$ADMIN")" "tariff from $1 published"
}

tariff "$PREV-01"
expect 201 "$(req POST /api/v1/expenses "$ADMIN" \
	"{\"period\":\"$PREV\",\"category\":\"transit\",\"amount_minor\":9000,\"description\":\"upstream\"}")" \
	"transit expense for $PREV"

# 3.1: Lopez gets a tariff of its own that starts next month; until then it
# follows the cooperative's, and every bill of the month still works.
tariff "$NEXT-01"
expect 200 "$(req PATCH /api/v1/households/2 "$ADMIN" "{\"tariff_id\":$TARIFF_ID}")" \
	"Lopez moved to the tariff of $NEXT"
expect 200 "$(req GET /api/v1/households/1/estimate "$ADMIN")" "the estimate still answers"
expect 200 "$(req GET "/api/v1/periods/$PREV/summary" "$ADMIN")" "the summary of $PREV answers"
[ "$(body '[.cost_sharing[] | .pool_minor] | add')" = 9000 ] ||
	fail "pools in the summary: $(body -c .cost_sharing)"
ok "the month's transit is shared once, by the tariff its households follow"

# 3.4: byte counts beyond what a 400 Gbit/s link carries are refused, per
# bucket and per hour over all households.
import() {
	req POST /api/v1/usage/import "$ADMIN" "{\"reason\":\"old meter\",\"rows\":$1}"
}
row() { # household, bucket start, bytes down
	printf '{"household_id":%s,"bucket_start":"%s","bytes_up":0,"bytes_down":%s}\n' "$1" "$2" "$3"
}
HOUR="$PREV-10T12"
expect_problem 400 "$(import "[$(row 1 "$HOUR:00:00Z" 9223372036854775807)]")" \
	"INT64_MAX bytes refused" "at most $LINK_BUCKET.*400 Gbit/s"
expect_problem 400 "$(import "[$(row 1 "$HOUR:00:00Z" $((LINK_BUCKET + 1)))]")" \
	"a byte past the link's bucket refused" "at most $LINK_BUCKET"
rows=$(for m in 00 05 10 15 20 25 30 35 40 45 50 55; do row 1 "$HOUR:$m:00Z" $LINK_BUCKET; done | paste -sd,)
expect 201 "$(import "[$rows]")" "a full hour at 400 Gbit/s imported"
expect_problem 400 "$(import "[$(row 2 "$HOUR:30:00Z" 1)]")" \
	"a byte more in that hour refused, from any household" "$HOUR:00:00Z.*400 Gbit/s"
expect_problem 400 "$(import "[$(row 1 "$HOUR:00:00Z" 1)]")" \
	"adding to a full bucket refused" "400 Gbit/s"
expect 201 "$(import "[$(row 2 "$PREV-10T13:00:00Z" 1000000000)]")" "the next hour takes usage"

# Expenses: a period's add up to at most 10^15 minor units.
expect 201 "$(req POST /api/v1/expenses "$ADMIN" \
	"{\"period\":\"$THIS\",\"category\":\"power\",\"amount_minor\":999999999999999,\"description\":\"x\"}")" \
	"the largest expense"
expect_problem 400 "$(req POST /api/v1/expenses "$ADMIN" \
	"{\"period\":\"$THIS\",\"category\":\"power\",\"amount_minor\":2,\"description\":\"x\"}")" \
	"expenses past 10^15 minor units in a period refused" 'at most 1000000000000000'

expect 200 "$(req GET "/api/v1/periods/$PREV/summary" "$ADMIN")" "the summary after the largest import"
[ "$(body .bytes_down)" = $((12 * LINK_BUCKET + 1000000000)) ] ||
	fail "download in the summary: $(body .bytes_down)"
ok "the summary counts every byte imported"
expect 200 "$(req GET "/api/v1/periods/$THIS/summary" "$ADMIN")" "the summary of $THIS"
expect 200 "$(req POST "/api/v1/periods/$PREV/close" "$ADMIN")" "$PREV closed"
[ "$(body .households)" = 3 ] || fail "households billed: $(body .households)"
expect 200 "$(req GET "/api/v1/households/1/invoices/$PREV" "$ADMIN")" "Garcia's invoice"
[ "$(body .invoice.usage.bytes_down)" = $((12 * LINK_BUCKET)) ] ||
	fail "Garcia's download: $(body .invoice.usage.bytes_down)"
ok "the invoice bills the whole hour"

# 3.3: from the moment a close begins until the period is closed, also when
# the close was interrupted, the period takes no expense, import, tariff or
# membership change, and the close shares the expenses it began with. A
# fresh cooperative of 260 households (two batches of invoices), kept as a
# template that each interruption below starts from.
stop_daemon
N=260
POOL=100000
mkdir "$WORK/b"
DB="$WORK/b/coopbill.db"
write_config
start_daemon
ADMIN=$(admin_token)
for i in $(seq 1 $N); do
	[ "$(req POST /api/v1/households "$ADMIN" "{\"name\":\"h$i\",\"joined_at\":\"$PREV-01\"}")" = 201 ] ||
		fail "household $i: $(cat "$WORK/body")"
done
tariff "$PREV-01"
tariff "$NEXT-01"
LATER_TARIFF=$TARIFF_ID
body=$(jq -nc --arg from "$PREV-01" '{name: "Late", currency: "EUR", valid_from: $from,
	emergency: {reason: "a late correction"}, fixed_fee: {amount_minor: 1, prorate: false}}')
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$body")" "a draft that would apply to $PREV"
DRAFT=$(body .id)
rows=$(for i in $(seq 1 $N); do row "$i" "$PREV-10T12:00:00Z" "${i}000000000"; done | paste -sd,)
expect 201 "$(import "[$rows]")" "a month of usage for $N households"
expect 201 "$(req POST /api/v1/expenses "$ADMIN" \
	"{\"period\":\"$PREV\",\"category\":\"transit\",\"amount_minor\":$POOL,\"description\":\"upstream\"}")" \
	"transit expense for $PREV"
stop_daemon
cp -a "$WORK/b" "$WORK/template"

restore() {
	[ -z "$DAEMON_PID" ] || stop_daemon
	rm -rf "$WORK/b"
	cp -a "$WORK/template" "$WORK/b"
}

invoices_issued() {
	sqlite3 "$DB" "SELECT count(*) FROM invoices WHERE period = '$PREV'"
}

# Everything that would change what the period bills is refused.
refused_while_closing() {
	local at=$1
	expect_problem 409 "$(req POST /api/v1/expenses "$ADMIN" \
		"{\"period\":\"$PREV\",\"category\":\"transit\",\"amount_minor\":50000,\"description\":\"late\"}")" \
		"$at: an expense is refused" "$PREV is being closed.*expense"
	expect_problem 409 "$(import "[$(row 1 "$PREV-12T00:00:00Z" 1)]")" \
		"$at: an import is refused" "rows\[0\]: period $PREV is being closed"
	expect_problem 409 "$(req PATCH /api/v1/households/1 "$ADMIN" "{\"tariff_id\":$LATER_TARIFF}")" \
		"$at: a household's tariff change is refused" "$PREV is being closed"
	expect_problem 409 "$(req PATCH /api/v1/households/2 "$ADMIN" "{\"status\":\"closed\",\"left_at\":\"$PREV-02\"}")" \
		"$at: a membership change is refused" "$PREV is being closed"
	expect_problem 409 "$(req POST /api/v1/households "$ADMIN" "{\"name\":\"late\",\"joined_at\":\"$PREV-15\"}")" \
		"$at: a new member of the period is refused" "$PREV is being closed"
	expect_problem 409 "$(req POST "/api/v1/tariffs/$DRAFT/publish" "$ADMIN")" \
		"$at: publishing a tariff into the period is refused" "$PREV is being closed.*tariff"
	expect 201 "$(req POST /api/v1/expenses "$ADMIN" \
		"{\"period\":\"$THIS\",\"category\":\"transit\",\"amount_minor\":7,\"description\":\"now\"}")" \
		"$at: the open period still takes expenses"
}

# Closing again finishes the close, sharing exactly the pool it began with.
finish_close() {
	local at=$1 shared
	expect 200 "$(req POST "/api/v1/periods/$PREV/close" "$ADMIN")" "$at: closing again finishes"
	[ "$(body .households)" = $N ] && [ "$(invoices_issued)" = $N ] ||
		fail "$at: $(body .households) households billed, $(invoices_issued) invoices"
	shared=$(sqlite3 "$DB" "SELECT sum(json_extract(l.value, '\$.amount_minor')) FROM invoices,
		json_each(invoices.document, '\$.lines') AS l WHERE period = '$PREV'
		AND json_extract(l.value, '\$.kind') = 'cost_share'")
	[ "$shared" = $POOL ] && [ "$(body '.summary.cost_sharing[0].pool_minor')" = $POOL ] ||
		fail "$at: the invoices share $shared of a pool of $(body '.summary.cost_sharing[0].pool_minor')"
	ok "$at: the invoices share exactly the $POOL the close began with"
	expect_problem 409 "$(req POST /api/v1/expenses "$ADMIN" \
		"{\"period\":\"$PREV\",\"category\":\"transit\",\"amount_minor\":1,\"description\":\"late\"}")" \
		"$at: a closed period takes no expense" 'is closed'
}

# A close that fails at household FAILING+1: its upload and FAILING's add
# up past 2^63 bytes (written straight into the database, as no import takes
# it), which stops the close there like an interruption. The daemon still
# stops cleanly (under ASan: nothing leaked on that path).
failing_close() {
	local at=$1 failing=$2 bucket issued
	bucket=$(date -u -d "$PREV-11T00:00:00Z" +%s)
	restore
	sqlite3 "$DB" "INSERT INTO usage_buckets (bucket_start, household_id, bytes_up, bytes_down)
		VALUES ($bucket, $failing, 9223372036854775807, 0),
		($bucket, $((failing + 1)), 1, 0)"
	start_daemon
	expect_problem 500 "$(req POST "/api/v1/periods/$PREV/close" "$ADMIN")" \
		"$at: the close fails at household $((failing + 1))" 'does not fit in 64 bits'
	issued=$(invoices_issued)
	[ "$issued" -lt $N ] || fail "$at: $issued invoices issued"
	refused_while_closing "$at ($issued invoices issued)"
	stop_daemon
	[ "$STOP_STATUS" = 0 ] || fail "$at: the daemon exited with $STOP_STATUS"
	sqlite3 "$DB" "DELETE FROM usage_buckets WHERE bucket_start = $bucket"
	start_daemon
	finish_close "$at"
}
failing_close "failed before any invoice" 1
failing_close "failed after the first batch" 258

# kill -9 at different moments of a close.
for delay in 0 0.05 0.1 0.3; do
	restore
	start_daemon
	curl -sS -o /dev/null -X POST -H "Authorization: Bearer $ADMIN" \
		"$BASE/api/v1/periods/$PREV/close" 2>/dev/null &
	client=$!
	sleep "$delay"
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	wait "$client" 2>/dev/null || true
	issued=$(invoices_issued)
	began=$(sqlite3 "$DB" "SELECT count(*) FROM period_close_starts WHERE period = '$PREV'")
	closed=$(sqlite3 "$DB" "SELECT count(*) FROM period_closes WHERE period = '$PREV'")
	at="killed after ${delay}s (begun $began, $issued invoices, closed $closed)"
	start_daemon
	[ "$began" = 0 ] || [ "$closed" = 1 ] || refused_while_closing "$at"
	finish_close "$at"
done

finish
