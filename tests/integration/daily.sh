#!/usr/bin/env bash
# Usage by day and month from the daily totals: the same figures as the
# hours they add up, in the days of the cooperative's time zone; after a
# reload with another zone the daemon makes them again in the new zone's
# days (a day of 25 hours, an hour that moves to the next day), between
# requests, and says so in its log.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
ADMIN=$(admin_token)
expect 201 "$(req POST /api/v1/households "$ADMIN" '{"name":"Garcia","joined_at":"2026-01-01"}')" \
	"household created"

# The roll-up's watermark at this hour, as a metering daemon leaves it: usage
# imported before it lands in the hourly and daily totals. (These tests run
# without nftables, so no meter moves it.)
stop_daemon
now=$(date -u +%s)
sqlite3 "$DB" "UPDATE meter_state SET rolled_up_to = $((now - now % 3600))"
start_daemon
await_log 'daily usage totals made in time zone UTC' "the daemon did not make the daily totals"

# October 2026, hour by hour, a different amount each hour; 22:30 UTC on the
# 5th is 00:30 on the 6th in Madrid.
rows=$(python3 - <<'PY'
import datetime, json
def at(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
start = 1790812800  # 2026-10-01T00:00:00Z
rows = [{"household_id": 1, "bucket_start": at(start + 3600 * h), "bytes_up": 1000 + h,
         "bytes_down": 7000 * (h % 97) + 1} for h in range(31 * 24)]
rows.append({"household_id": 1, "bucket_start": "2026-10-05T22:30:00Z", "bytes_up": 0,
             "bytes_down": 5000000})
print(json.dumps(rows))
PY
)
expect 201 "$(req POST /api/v1/usage/import "$ADMIN" "{\"reason\":\"old meter\",\"rows\":$rows}")" \
	"October imported"

# by_day FROM TO: each local day's download from the series by day, and the
# same worked out from the series by hour, as "date bytes" lines.
by_day() {
	expect 200 "$(req GET "/api/v1/households/1/usage?from=$1&to=$2&step=day" "$ADMIN")" "usage by day"
	body -r '.series[] | "\(.start[0:10]) \(.bytes_down) \(.bytes_up)"' >"$WORK/days"
	expect 200 "$(req GET "/api/v1/households/1/usage?from=$1&to=$2&step=hour" "$ADMIN")" "usage by hour"
	body -r '[.series[] | {day: .start[0:10], down: .bytes_down, up: .bytes_up}] | group_by(.day)[] |
		"\(.[0].day) \(map(.down) | add) \(map(.up) | add)"' >"$WORK/hours"
	diff "$WORK/days" "$WORK/hours" || fail "days and hours differ (above)"
}
by_day 2026-10-01T00:00:00Z 2026-11-01T00:00:00Z
[ "$(wc -l <"$WORK/days")" = 31 ] || fail "October has $(wc -l <"$WORK/days") days"
five=$(awk '$1 == "2026-10-05" { print $2 }' "$WORK/days")
# The days were read from the daily totals, one row a day.
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM usage_daily')" = 31 ] ||
	fail "$(sqlite3 "$DB" 'SELECT count(*) FROM usage_daily') daily totals for October in UTC"
ok "in UTC, each day's usage is that of its 24 hours"
expect 200 "$(req GET '/api/v1/households/1/usage?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&step=month' "$ADMIN")" \
	"usage by month"
[ "$(body '.series[0].bytes_down')" = "$(awk '{ s += $2 } END { print s }' "$WORK/days")" ] ||
	fail "the month is not its days: $(body -c .series)"
ok "a month is the sum of its days"

# A series asked again while nothing was committed is the same reply; a
# commit, by the daemon or by another process, is seen by the next one.
october='/api/v1/households/1/usage?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&step=day'
expect 200 "$(req GET "$october" "$ADMIN")" "October by day"
cp "$WORK/body" "$WORK/first"
expect 200 "$(req GET "$october" "$ADMIN")" "October by day again"
cmp -s "$WORK/first" "$WORK/body" || fail "the same series, asked twice, differs"
expect 200 "$(req GET "$october" "$ADMIN" '' -H 'Accept: text/csv')" "October by day as CSV"
head -1 "$WORK/body" | grep -q '^start,bytes_up,bytes_down' ||
	fail "asked as CSV after JSON, the series is not CSV: $(head -c 200 "$WORK/body")"
down=$(jq .total.bytes_down "$WORK/first")
expect 201 "$(req POST /api/v1/usage/import "$ADMIN" \
	'{"reason":"late reading","rows":[{"household_id":1,"bucket_start":"2026-10-09T08:15:00Z","bytes_up":0,"bytes_down":4321}]}')" \
	"a late reading imported into October"
expect 200 "$(req GET "$october" "$ADMIN")" "October by day after the import"
[ "$(body .total.bytes_down)" = $((down + 4321)) ] ||
	fail "after importing 4321 bytes, October's download is $(body .total.bytes_down), not $((down + 4321))"
sqlite3 "$DB" "PRAGMA busy_timeout = 5000; UPDATE usage_daily SET bytes_down = bytes_down + 1 WHERE day_start = 1791331200" >/dev/null
expect 200 "$(req GET "$october" "$ADMIN")" "October by day after another process wrote"
[ "$(body .total.bytes_down)" = $((down + 4322)) ] ||
	fail "a commit by another process is not seen: October's download is $(body .total.bytes_down), not $((down + 4322))"
sqlite3 "$DB" "PRAGMA busy_timeout = 5000; UPDATE usage_daily SET bytes_down = bytes_down - 1 WHERE day_start = 1791331200" >/dev/null
ok "a series asked again is the same; a commit by the daemon or another process is seen at once"
tenth='/api/v1/households/1/usage?from=2026-10-10T00:00:00Z&to=2026-10-10T02:00:00Z&step=hour'
expect 200 "$(req GET "$tenth" "$ADMIN")" "10 October by hour, in UTC"
[ "$(body -r '.series[0].start')" = 2026-10-10T00:00:00Z ] ||
	fail "in UTC, 10 October by hour starts at $(body -r '.series[0].start')"

# Another zone on reload: the days are made again in Madrid's.
sed -i 's|^timezone = UTC|timezone = Europe/Madrid|' "$CONFIG"
kill -HUP "$DAEMON_PID"
await_log 'daily usage totals made in time zone Europe/Madrid' "Madrid's days were not made"
grep -q 'making the daily usage totals in time zone Europe/Madrid' "$WORK/daemon.log" ||
	fail "the reload did not start making Madrid's days: $(cat "$WORK/daemon.log")"
expect 200 "$(req GET "$tenth" "$ADMIN")" "10 October by hour, in Madrid"
[ "$(body -r '.series[0].start')" = 2026-10-10T02:00:00+02:00 ] ||
	fail "after the reload, 10 October by hour starts at $(body -r '.series[0].start'), not in Madrid's time"
by_day 2026-10-01T00:00:00%2B02:00 2026-11-01T00:00:00%2B01:00
[ "$(wc -l <"$WORK/days")" = 31 ] || fail "October has $(wc -l <"$WORK/days") days in Madrid"
# October's last UTC hour is 1 November in Madrid: 32 daily totals.
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM usage_daily')" = 32 ] ||
	fail "$(sqlite3 "$DB" 'SELECT count(*) FROM usage_daily') daily totals in Madrid"
expect 200 "$(req GET '/api/v1/households/1/usage?from=2026-10-25T00:00:00%2B02:00&to=2026-10-26T00:00:00%2B01:00&step=hour' "$ADMIN")" \
	"25 October by hour"
[ "$(body '.series | length')" = 25 ] || fail "25 October has $(body '.series | length') hours"
grep -q '^2026-10-25 ' "$WORK/days" || fail "no 25 October"
six=$(awk '$1 == "2026-10-06" { print $2 }' "$WORK/days")
[ "$six" -gt 5000000 ] || fail "the download at 00:30 on 6 October in Madrid is not on the 6th: $six"
[ "$five" -gt 5000000 ] || fail "the download at 22:30 UTC on 5 October is not on the 5th in UTC: $five"
ok "after a reload in Madrid, the days are Madrid's: 25 October has 25 hours, 22:30 UTC on the 5th is on the 6th"

# A series kept is forgotten on reload: a shorter limit refuses it at once.
october='/api/v1/households/1/usage?from=2026-10-01T00:00:00%2B02:00&to=2026-11-01T00:00:00%2B01:00&step=day'
expect 200 "$(req GET "$october" "$ADMIN")" "October by day in Madrid"
expect 200 "$(req GET "$october" "$ADMIN")" "October by day in Madrid, again"
sed -i 's|^\[server\]$|[server]\nmax_series_points = 10|' "$CONFIG"
reload_and_wait 'configuration reloaded'
expect 400 "$(req GET "$october" "$ADMIN")" "October by day, past a limit of 10 points"
[[ "$(body -r .type)" == *:range-too-long ]] ||
	fail "October past a limit of 10 points: $(cat "$WORK/body")"
finish
