#!/usr/bin/env bash
# Local traffic as the treasurer and a member see it: imported beside
# internet traffic, shown by the usage series, the summary, their CSV and
# /metrics, and billed only by a tariff that prices it. Amounts are worked
# out by hand below, to the cent.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
ADMIN=$(admin_token)

for h in '{"name":"Garcia","joined_at":"2026-01-01"}' '{"name":"Lopez","joined_at":"2026-01-01"}'; do
	expect 201 "$(req POST /api/v1/households "$ADMIN" "$h")" "household created"
done
MEMBER1=$(req POST /api/v1/households/1/tokens "$ADMIN" '{"name":"garcia"}' >/dev/null; body -r .token)

# Two tariffs for October: one prices internet traffic only, as every
# tariff did before local traffic was counted; the other also prices local
# traffic beyond a 1 GB allowance.
INTERNET='{
  "name": "Internet only",
  "currency": "EUR",
  "valid_from": "2026-10-01",
  "emergency": {"reason": "the cooperative bills for the first time"},
  "usage_charges": [{"name": "Traffic", "direction": "both", "tiers": [{"price_per_gb_minor": 20}]}]
}'
LOCAL=$(jq -c '.name = "With local" | .usage_charges += [{"name": "Neighbours", "direction": "both",
  "scope": "local", "allowance_gb": 1, "tiers": [{"price_per_gb_minor": 5}]}]' <<<"$INTERNET")

bad=$(jq -c '.usage_charges[1].scope = "lan"' <<<"$LOCAL")
expect_problem 400 "$(req POST /api/v1/tariffs "$ADMIN" "$bad")" "an unknown scope is refused" \
	'^\$\.usage_charges\[1\]\.scope: must be "internet" or "local";'

publish() {
	expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$1")" "tariff drafted"
	local id
	id=$(body .id)
	expect 200 "$(req POST "/api/v1/tariffs/$id/publish" "$ADMIN")" "tariff published"
	PUBLISHED_ID=$id
}
publish "$INTERNET"
INTERNET_ID=$PUBLISHED_ID
# A charge without scope keeps its canonical text: no default is added.
[ "$(body -c '.document.usage_charges[0] | keys')" = '["direction","name","tiers"]' ] ||
	fail "canonical charge: $(body -c .document.usage_charges)"
[ "$(printf '%s' "$(body -c .document)" | sha256sum | cut -d' ' -f1)" = "$(body -r .sha256)" ] ||
	fail "the sha256 is not that of the canonical document"
ok "a tariff without scope is published as written"
publish "$LOCAL"
LOCAL_ID=$PUBLISHED_ID
[ "$(body -r '.document.usage_charges[1].scope')" = local ] || fail "scope lost: $(body -c .document)"
expect 200 "$(req PATCH /api/v1/households/1 "$ADMIN" "{\"tariff_id\":$INTERNET_ID}")" \
	"Garcia follows the internet-only tariff"
expect 200 "$(req PATCH /api/v1/households/2 "$ADMIN" "{\"tariff_id\":$LOCAL_ID}")" \
	"Lopez follows the tariff with a local price"

# Imports: local traffic is optional and checked like internet traffic.
import() {
	req POST /api/v1/usage/import "$ADMIN" "{\"reason\":\"history from the old meter\",\"rows\":$1}"
}
expect_problem 400 "$(import '[{"household_id":1,"bucket_start":"2026-10-05T10:00:00Z","bytes_up":0,"bytes_down":0,"local_up":-1}]')" \
	"negative local traffic is refused" 'non-negative'
expect_problem 400 "$(import '[{"household_id":1,"bucket_start":"2026-10-05T10:00:00Z","bytes_up":0,"bytes_down":0,"local_down":15000000000001}]')" \
	"local traffic beyond a 400 Gbit/s link is refused" \
	'^rows\[0\]: local_up and local_down are each at most 15000000000000'
expect_problem 400 "$(import '[{"household_id":1,"bucket_start":"2026-10-05T10:00:00Z","bytes_up":0,"bytes_down":0,"local_up":"1"}]')" \
	"local traffic must be an integer" 'local_up'
# The hour check counts local traffic: twelve buckets of local downloads
# fill the hour, and one more byte of internet download is over it.
rows=$(for m in 00 05 10 15 20 25 30 35 40 45 50 55; do
	printf '{"household_id":1,"bucket_start":"2026-09-10T10:%s:00Z","bytes_up":0,"bytes_down":0,"local_down":15000000000000}\n' "$m"
done | jq -sc '. + [{"household_id":2,"bucket_start":"2026-09-10T10:00:00Z","bytes_up":0,"bytes_down":1}]')
expect_problem 400 "$(import "$rows")" "an hour over the link, local traffic included, is refused" \
	'would hold more than 180000000000000 bytes in a direction'

# October: Garcia 1 GB up and 4 GB down through the uplink, 3 GB up and
# 7 GB down locally; Lopez 2.5 GB down through the uplink, 4 GB up and
# 3.5 GB down locally, and a row without local traffic.
expect 201 "$(import '[
 {"household_id":1,"bucket_start":"2026-10-05T10:00:00Z","bytes_up":1000000000,"bytes_down":4000000000,"local_up":3000000000,"local_down":7000000000},
 {"household_id":2,"bucket_start":"2026-10-06T10:00:00Z","bytes_up":0,"bytes_down":2000000000,"local_up":4000000000,"local_down":3500000000},
 {"household_id":2,"bucket_start":"2026-10-07T10:00:00Z","bytes_up":0,"bytes_down":500000000}]')" \
	"usage with local traffic imported"
[ "$(body .imported)" = 3 ] || fail "imported $(body .imported) rows"

# The usage series and its total, in JSON and CSV.
OCTOBER='from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z'
expect 200 "$(req GET "/api/v1/households/1/usage?$OCTOBER&step=month" "$MEMBER1")" \
	"a member reads their usage"
[ "$(body -c '.total')" = '{"bytes_up":1000000000,"bytes_down":4000000000,"local_up":3000000000,"local_down":7000000000}' ] ||
	fail "October total: $(body -c .total)"
[ "$(body -c '.series[0] | [.bytes_up, .bytes_down, .local_up, .local_down, .imported]')" = \
	'[1000000000,4000000000,3000000000,7000000000,true]' ] || fail "October point: $(body -c .series)"
ok "the series and its total carry local traffic beside internet traffic"
curl -sS -H "Authorization: Bearer $MEMBER1" -H 'Accept: text/csv' \
	"$BASE/api/v1/households/1/usage?$OCTOBER&step=month" | tr -d '\r' >"$WORK/series.csv"
[ "$(cat "$WORK/series.csv")" = 'start,bytes_up,bytes_down,imported,local_up,local_down
2026-10-01T00:00:00Z,1000000000,4000000000,true,3000000000,7000000000' ] ||
	fail "series CSV: $(cat "$WORK/series.csv")"
ok "the series CSV has the local columns after the others"

expect 200 "$(req GET "/api/v1/usage/summary?$OCTOBER" "$ADMIN")" "the usage summary"
[ "$(body -c '[.households[] | [.household_id, .bytes_up, .bytes_down, .local_up, .local_down]]')" = \
	'[[1,1000000000,4000000000,3000000000,7000000000],[2,0,2500000000,4000000000,3500000000]]' ] ||
	fail "summary households: $(body -c .households)"
[ "$(body -c '.total')" = '{"bytes_up":1000000000,"bytes_down":6500000000,"local_up":7000000000,"local_down":10500000000}' ] ||
	fail "summary total: $(body -c .total)"
curl -sS -H "Authorization: Bearer $ADMIN" -H 'Accept: text/csv' \
	"$BASE/api/v1/usage/summary?$OCTOBER" | tr -d '\r' >"$WORK/summary.csv"
[ "$(cat "$WORK/summary.csv")" = 'household_id,name,bytes_up,bytes_down,local_up,local_down
1,Garcia,1000000000,4000000000,3000000000,7000000000
2,Lopez,0,2500000000,4000000000,3500000000' ] || fail "summary CSV: $(cat "$WORK/summary.csv")"
ok "the usage summary and its CSV carry local traffic"

# Close October. By hand. Garcia, internet only: 5 GB × 0.20 = 1.00; its
# 10 GB of local traffic are free. Lopez: 2.5 GB × 0.20 = 0.50, and 7.5 GB
# of local traffic, 1 GB free and 6.5 GB × 0.05 = 0.325, rounded half up to
# 0.33: 0.83.
expect 200 "$(req POST /api/v1/periods/2026-10/close "$ADMIN")" "October closed"
[ "$(body .total_minor)" = 183 ] || fail "October's invoices add up to $(body .total_minor)"
[ "$(body -c '.summary | [.bytes_up, .bytes_down, .local_up, .local_down]')" = \
	'[1000000000,6500000000,7000000000,10500000000]' ] || fail "close summary: $(body -c .summary)"

expect 200 "$(req GET /api/v1/households/1/invoices/2026-10 "$MEMBER1")" "Garcia's invoice"
[ "$(body .total_minor)" = 100 ] || fail "Garcia's total: $(body .total_minor)"
[ "$(body -c '.invoice.usage | [.bytes_up, .bytes_down, .local_up, .local_down, .uncharged_bytes, .local_uncharged_bytes]')" = \
	'[1000000000,4000000000,3000000000,7000000000,0,10000000000]' ] ||
	fail "Garcia's usage: $(body -c .invoice.usage)"
[ "$(body '.invoice.lines | length')" = 1 ] &&
	[ "$(body -r '.invoice.lines[0].explain')" = '5 GB of Traffic × 0.20 EUR/GB = 1.00 EUR' ] ||
	fail "Garcia's lines: $(body -c .invoice.lines)"
[ "$(body -c '.invoice.imported | [.local_up, .local_down]')" = '[3000000000,7000000000]' ] ||
	fail "Garcia's imported: $(body -c .invoice.imported)"
ok "a tariff without a local price leaves local traffic free"

expect 200 "$(req GET /api/v1/households/2/invoices/2026-10 "$ADMIN")" "Lopez's invoice"
[ "$(body .total_minor)" = 83 ] || fail "Lopez's total: $(body .total_minor)"
[ "$(body -c '[.invoice.lines[] | .amount_minor]')" = '[50,0,33]' ] ||
	fail "Lopez's amounts: $(body -c .invoice.lines)"
[ "$(body -r '.invoice.lines[2].explain')" = \
	'6.5 GB of Neighbours (local traffic) beyond the 1 GB allowance × 0.05 EUR/GB = 0.33 EUR' ] ||
	fail "Lopez's local line: $(body -r '.invoice.lines[2].explain')"
[ "$(body -c '[.invoice.usage.charges[] | [.scope, .bytes]]')" = '[["internet",2500000000],["local",7500000000]]' ] ||
	fail "Lopez's charges: $(body -c .invoice.usage.charges)"
ok "a tariff with a local price bills local traffic, to the cent"
curl -sS -H "Authorization: Bearer $ADMIN" -H 'Accept: text/csv' \
	"$BASE/api/v1/periods/2026-10/summary" | tr -d '\r' >"$WORK/period.csv"
grep -qx 'local_up,7000000000' "$WORK/period.csv" && grep -qx 'local_down,10500000000' "$WORK/period.csv" ||
	fail "period summary CSV: $(cat "$WORK/period.csv")"
ok "the period summary's CSV carries local traffic"

# /metrics: all households' traffic of the last whole hour, by scope. An
# import into that hour shows; near the end of an hour, wait for the next.
[ "$(date -u +%M)" -lt 59 ] || sleep 61
HOUR=$(date -u -d '1 hour ago' +%Y-%m-%dT%H:00:00Z)
expect 201 "$(import "[{\"household_id\":1,\"bucket_start\":\"$HOUR\",\"bytes_up\":7,\"bytes_down\":8,\"local_up\":123,\"local_down\":456}]")" \
	"usage of the last hour imported"
curl -sS "$BASE/metrics" >"$WORK/metrics"
[ "$(date -u -d '1 hour ago' +%Y-%m-%dT%H:00:00Z)" = "$HOUR" ] || fail "the hour turned during the test; run it again"
for series in 'scope="internet",direction="up"} 7' 'scope="internet",direction="down"} 8' \
	'scope="local",direction="up"} 123' 'scope="local",direction="down"} 456'; do
	grep -qxF "coopbill_usage_last_hour_bytes{$series" "$WORK/metrics" ||
		fail "metrics lack $series: $(grep usage "$WORK/metrics")"
done
grep -qx '# TYPE coopbill_usage_last_hour_bytes gauge' "$WORK/metrics" || fail "metric without its type"
command -v promtool >/dev/null || fail "promtool is not installed (package prometheus)"
promtool check metrics <"$WORK/metrics" || fail "promtool refuses the metrics"
ok "/metrics shows the last hour's internet and local traffic"

stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited with $STOP_STATUS"
finish
