// The page's words and numbers: one table of strings per language (i18n/*.js),
// chosen from the browser's languages and switchable, and Intl for money,
// dates and bytes in the cooperative's currency and time zone.

import en from './i18n/en.js';
import es from './i18n/es.js';

export const LANGUAGES = {en, es};
const LANG_KEY = 'coopbill.lang';

let lang = 'en';
let zone = 'UTC';
let currency = 'EUR';
let exponent = null;

export function chooseLanguage() {
	const saved = localStorage.getItem(LANG_KEY);
	if (saved && LANGUAGES[saved])
		return setLanguage(saved, false);
	for (const wanted of navigator.languages || [navigator.language || 'en']) {
		const base = wanted.toLowerCase().split('-')[0];
		if (LANGUAGES[base])
			return setLanguage(base, false);
	}
	return setLanguage('en', false);
}

export function setLanguage(code, remember = true) {
	lang = LANGUAGES[code] ? code : 'en';
	if (remember)
		localStorage.setItem(LANG_KEY, lang);
	document.documentElement.lang = lang;
	return lang;
}

export function language() {
	return lang;
}

export function setCooperative(coop) {
	if (coop.timezone)
		zone = coop.timezone;
	if (coop.currency)
		currency = coop.currency;
	if (Number.isInteger(coop.currency_exponent))
		exponent = coop.currency_exponent;
}

export function timeZone() {
	return zone;
}

// t('key', {name: 'value'}): the string of the current language, with {name}
// replaced; a missing string falls back to English, then to the key itself.
export function t(key, params = {}) {
	const text = LANGUAGES[lang][key] ?? en[key] ?? key;
	return text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

// Amounts are integers in the currency's minor unit. How many digits the
// minor unit has is the cooperative's currency exponent (as the API gives
// it); for another currency, what Intl knows (2 for EUR, 0 for JPY).
export function currencyDigits(code = currency) {
	if (code === currency && exponent !== null)
		return exponent;
	return new Intl.NumberFormat('en', {style: 'currency', currency: code})
		.resolvedOptions().maximumFractionDigits;
}

// An integer amount of minor units as exact decimal text (-1234 with 2
// digits is "-12.34"): the digits are moved, never divided, so no floating
// point touches money. Intl formats decimal text exactly.
function decimalText(minor, digits) {
	const sign = minor < 0 ? '-' : '';
	const text = String(Math.abs(minor)).padStart(digits + 1, '0');
	return digits ? `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}` : `${sign}${text}`;
}

// money(1234) is "€12.34"; {digits} is the currency exponent when a reply
// gives one, {signed: true} writes "+€0.50" for a difference.
export function money(minor, code = currency, {digits = currencyDigits(code), signed = false} = {}) {
	return new Intl.NumberFormat(lang, {style: 'currency', currency: code,
		minimumFractionDigits: digits, maximumFractionDigits: digits,
		signDisplay: signed ? 'exceptZero' : 'auto'})
		.format(decimalText(minor, digits));
}

// Bytes in decimal units (1 GB = 10^9 bytes), as the tariffs count them.
const BYTE_UNITS = ['kilobyte', 'megabyte', 'gigabyte', 'terabyte', 'petabyte'];
export function bytes(count) {
	let unit = 0;
	let value = Number(count) / 1000;
	while (Math.abs(value) >= 1000 && unit < BYTE_UNITS.length - 1) {
		value /= 1000;
		unit += 1;
	}
	return new Intl.NumberFormat(lang, {style: 'unit', unit: BYTE_UNITS[unit],
		unitDisplay: 'short', maximumFractionDigits: value !== 0 && Math.abs(value) < 10 ? 2 : 1})
		.format(value);
}

export function number(value) {
	return new Intl.NumberFormat(lang).format(value);
}

export function percent(basisPoints) {
	return new Intl.NumberFormat(lang, {style: 'percent', maximumFractionDigits: 2})
		.format(basisPoints / 10000);
}

// An instant (RFC 3339 text, a Date or Unix seconds) in the cooperative's zone.
function instant(value) {
	if (typeof value === 'number')
		return new Date(value * 1000);
	return value instanceof Date ? value : new Date(value);
}

export function dateTime(value) {
	return new Intl.DateTimeFormat(lang, {timeZone: zone, dateStyle: 'medium',
		timeStyle: 'short'}).format(instant(value));
}

export function date(value) {
	return new Intl.DateTimeFormat(lang, {timeZone: zone, dateStyle: 'medium'})
		.format(instant(value));
}

export function dayNumber(value) {
	return new Intl.DateTimeFormat(lang, {timeZone: zone, day: 'numeric'}).format(instant(value));
}

export function hour(value) {
	return new Intl.DateTimeFormat(lang, {timeZone: zone, hour: '2-digit', minute: '2-digit',
		hourCycle: 'h23'}).format(instant(value));
}

// A calendar date (YYYY-MM-DD) is a day, not an instant: it is shown as it is
// written, whatever the zone.
export function calendarDate(text) {
	const [y, m, d] = text.split('-').map(Number);
	return new Intl.DateTimeFormat(lang, {timeZone: 'UTC', dateStyle: 'long'})
		.format(new Date(Date.UTC(y, m - 1, d)));
}

// A billing period (YYYY-MM): "November 2026".
export function period(text) {
	const [y, m] = text.split('-').map(Number);
	return new Intl.DateTimeFormat(lang, {timeZone: 'UTC', month: 'long', year: 'numeric'})
		.format(new Date(Date.UTC(y, m - 1, 1)));
}

// The same, short, for a table's rows: "Nov 2026".
export function shortPeriod(text) {
	const [y, m] = text.split('-').map(Number);
	return new Intl.DateTimeFormat(lang, {timeZone: 'UTC', month: 'short', year: 'numeric'})
		.format(new Date(Date.UTC(y, m - 1, 1)));
}
