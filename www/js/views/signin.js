// Signing in: the link from the treasurer carries the token in its fragment;
// without one, the member may paste the link (or the token) here.

import {h} from '../dom.js';
import {t} from '../i18n.js';
import {setToken} from '../api.js';

export function renderSignIn({notice, signIn}) {
	const input = h('input', {id: 'signin-link', name: 'link', type: 'text',
		autocomplete: 'off', spellcheck: 'false', required: true,
		'aria-describedby': 'signin-help'});
	const form = h('form', {class: 'signin', onsubmit: (event) => {
		event.preventDefault();
		const text = input.value.trim();
		const match = /(?:#token=)?([A-Za-z0-9_-]{20,})$/.exec(text);
		if (!match) {
			input.setAttribute('aria-invalid', 'true');
			return;
		}
		setToken(match[1]);
		signIn();
	}}, [
		h('label', {for: 'signin-link'}, t('signin.label')),
		input,
		h('p', {id: 'signin-help', class: 'help'}, t('signin.help')),
		h('button', {type: 'submit'}, t('signin.submit')),
	]);
	return h('section', {class: 'card', 'aria-labelledby': 'signin-title'}, [
		h('h1', {id: 'signin-title'}, t('signin.title')),
		notice ? h('p', {class: 'notice', role: 'status'}, notice) : null,
		h('p', {}, t('signin.intro')),
		form,
	]);
}
