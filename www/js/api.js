// The API client: the member's token on every request, and every error turned
// into the problem's own words (RFC 9457 `detail`) for the page to show.

const TOKEN_KEY = 'coopbill.token';

export class ApiError extends Error {
	constructor(status, detail, type) {
		super(detail);
		this.status = status;
		this.type = type;
	}
}

export function token() {
	return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
	if (value)
		localStorage.setItem(TOKEN_KEY, value);
	else
		localStorage.removeItem(TOKEN_KEY);
}

// A sign-in link carries the token in its fragment (#token=...), which never
// reaches a server or a Referer; it is kept and then removed from the address bar.
export function takeTokenFromFragment() {
	const match = /^#token=([A-Za-z0-9_-]+)$/.exec(location.hash);
	if (!match)
		return false;
	setToken(match[1]);
	history.replaceState(null, '', location.pathname + location.search);
	return true;
}

async function problem(response, fallback) {
	let detail = '';
	let type = '';
	try {
		const body = await response.json();
		detail = typeof body.detail === 'string' ? body.detail : '';
		type = typeof body.type === 'string' ? body.type : '';
	} catch (error) {
		// Not problem JSON (a proxy's page, say): the fallback says what happened.
	}
	return new ApiError(response.status, detail || fallback(response.status), type);
}

// request('GET', '/api/v1/me', {as: 'json' | 'text', auth: true})
export async function request(method, path, options = {}) {
	const headers = {};
	if (options.auth !== false && token())
		headers.Authorization = `Bearer ${token()}`;
	if (options.as !== 'text')
		headers.Accept = 'application/json';
	let response;
	try {
		response = await fetch(path, {method, headers, cache: 'no-store'});
	} catch (error) {
		throw new ApiError(0, options.unreachable || 'unreachable', 'network');
	}
	if (!response.ok)
		throw await problem(response, options.statusText || ((s) => `HTTP ${s}`));
	return options.as === 'text' ? response.text() : response.json();
}

export const get = (path, options) => request('GET', path, options);
export const del = (path, options) => request('DELETE', path, options);
