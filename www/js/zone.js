// Calendar arithmetic in the cooperative's time zone: where its days and
// billing periods (calendar months) start, as instants the API takes.

function parts(instant, zone) {
	const fields = {};
	const format = new Intl.DateTimeFormat('en-US', {timeZone: zone, hourCycle: 'h23',
		year: 'numeric', month: 'numeric', day: 'numeric',
		hour: 'numeric', minute: 'numeric', second: 'numeric'});
	for (const part of format.formatToParts(instant))
		fields[part.type] = Number(part.value);
	return fields;
}

// The zone's offset from UTC at an instant, in milliseconds.
function offsetMs(instant, zone) {
	const p = parts(instant, zone);
	const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
	return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

// Midnight starting the local day y-m-d (m from 1; d may overflow into the
// next month, as Date.UTC allows).
export function localMidnight(y, m, d, zone) {
	const wall = Date.UTC(y, m - 1, d);
	let guess = new Date(wall - offsetMs(new Date(wall), zone));
	// A second pass settles the offset on days when it changes.
	guess = new Date(wall - offsetMs(guess, zone));
	return guess;
}

export function localDay(instant, zone) {
	const p = parts(instant, zone);
	return {year: p.year, month: p.month, day: p.day};
}

// The billing period containing an instant, and the one before it.
export function periodOf(instant, zone, back = 0) {
	const p = parts(instant, zone);
	const start = localMidnight(p.year, p.month - back, 1, zone);
	const end = localMidnight(p.year, p.month - back + 1, 1, zone);
	const s = parts(new Date(start.getTime() + 12 * 3600 * 1000), zone);
	return {start, end, label: `${s.year}-${String(s.month).padStart(2, '0')}`};
}

// RFC 3339 in UTC without fractions, as the API takes it.
export function rfc3339(instant) {
	return instant.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
