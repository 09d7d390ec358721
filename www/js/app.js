// The member page: signs in from the link's fragment, then shows the
// household's usage, this month's estimate, its invoices (verified in the
// browser against the transparency log), a tariff's price label, the last
// invoice re-priced under another tariff, proposed changes and what they
// would mean, the cooperative's tariffs and figures, and the household's
// sign-ins.

import {ApiError, get, setToken, takeTokenFromFragment, token} from './api.js';
import {h, clear} from './dom.js';
import {LANGUAGES, chooseLanguage, language, setCooperative, setLanguage, t} from './i18n.js';
import {renderSignIn} from './views/signin.js';
import {renderUsage} from './views/usage.js';
import {renderEstimate} from './views/estimate.js';
import {renderInvoices} from './views/invoices.js';
import {renderLabel} from './views/label.js';
import {renderReprice} from './views/reprice.js';
import {renderProposed} from './views/proposed.js';
import {renderCooperative} from './views/cooperative.js';
import {renderTokens} from './views/tokens.js';

const main = document.getElementById('main');
const header = document.getElementById('top');

// GET answers are kept for the page's life, so that switching the language
// redraws without asking again; views that change data drop what they change.
const cache = new Map();
function load(path, options) {
	if (!cache.has(path)) {
		const answer = get(path, options);
		cache.set(path, answer);
		answer.catch(() => cache.delete(path));
	}
	return cache.get(path);
}

const state = {coop: null, coopError: null, me: null, household: null, notice: null};

function languageSwitch() {
	const id = 'language';
	const select = h('select', {id, onchange: () => {
		setLanguage(select.value);
		render();
	}}, Object.entries(LANGUAGES).map(([code, table]) =>
		h('option', {value: code, lang: code, selected: code === language()}, table['language.name'])));
	return h('div', {class: 'language'}, [h('label', {for: id}, t('language.label')), select]);
}

function renderHeader() {
	clear(header);
	const name = state.coop?.name || t('app.title');
	document.title = state.household ? `${t('app.title')} — ${name}` : name;
	header.append(h('a', {class: 'skip', href: '#main'}, t('app.skip')));
	const bar = h('div', {class: 'bar'}, [
		h('p', {class: 'coop-name'}, name),
		languageSwitch(),
	]);
	header.append(bar);
	if (state.household) {
		header.append(h('nav', {'aria-label': t('nav.label')}, h('ul', {}, [
			['usage', 'usage.title'], ['estimate', 'estimate.title'],
			['invoices', 'invoices.title'], ['label', 'label.title'], ['try', 'try.title'],
			['proposed', 'proposed.title'], ['cooperative', 'coop.title'],
			['tokens', 'tokens.title'],
		].map(([id, key]) => h('li', {}, h('a', {href: `#${id}`}, t(key)))))));
	}
}

export function signOut(noticeKey) {
	setToken(null);
	cache.clear();
	state.me = null;
	state.household = null;
	state.notice = noticeKey ? t(noticeKey) : null;
	render();
}

async function start() {
	chooseLanguage();
	takeTokenFromFragment();
	try {
		state.coop = await load('/api/v1/cooperative', {auth: false});
		setCooperative(state.coop);
	} catch (error) {
		state.coopError = error;
	}
	await signIn();
}

export async function signIn() {
	cache.clear();
	state.me = null;
	state.household = null;
	if (token()) {
		try {
			const me = await load('/api/v1/me');
			if (me.role !== 'member' || !me.household_id) {
				state.notice = t('signin.not-member');
				setToken(null);
			} else {
				state.me = me;
				state.household = await load(`/api/v1/households/${me.household_id}`);
				state.notice = null;
			}
		} catch (error) {
			state.notice = error.status === 401 ? t('signin.refused', {detail: error.message})
				: errorText(error);
			if (error.status === 401 || error.status === 403)
				setToken(null);
			state.me = null;
			state.household = null;
		}
	}
	render();
}

export function errorText(error) {
	if (error instanceof ApiError)
		return error.status === 0 ? t('error.unreachable') : error.message;
	return error?.message || String(error);
}

function render() {
	renderHeader();
	clear(main);
	if (state.coopError)
		main.append(h('p', {class: 'error', role: 'alert'},
			t('error.cooperative', {detail: errorText(state.coopError)})));
	if (!state.household) {
		main.append(renderSignIn({notice: state.notice, signIn}));
		return;
	}
	const ctx = {
		coop: state.coop || {},
		me: state.me,
		household: state.household,
		load,
		forget: (prefix) => {
			for (const path of [...cache.keys()])
				if (path.startsWith(prefix))
					cache.delete(path);
		},
		signOut,
		errorText,
		rerender: render,
	};
	main.append(
		h('h1', {class: 'household'}, [t('app.household', {name: state.household.name})]),
		renderUsage(ctx),
		renderEstimate(ctx),
		renderInvoices(ctx),
		renderLabel(ctx),
		renderReprice(ctx),
		renderProposed(ctx),
		renderCooperative(ctx),
		renderTokens(ctx),
	);
}

// A sign-in link opened in a tab that already shows the page changes only
// the fragment: the page does not load again, so it signs in from here.
window.addEventListener('hashchange', () => {
	if (takeTokenFromFragment())
		signIn();
});

start();
