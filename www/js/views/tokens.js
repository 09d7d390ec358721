// Sign-ins: the household's tokens (name, created, last used; never the
// secret), each revocable, and "sign out everywhere". A revoked token is
// refused by the API at once; revoking this device's signs it out.

import {h, clear} from '../dom.js';
import {t, dateTime} from '../i18n.js';
import {del} from '../api.js';
import {section, fillFrom, table, errorBox} from './common.js';

export function renderTokens(ctx) {
	const {el, body} = section('tokens', 'tokens.title', t('tokens.intro'));
	const path = `/api/v1/households/${ctx.household.id}/tokens`;
	const list = h('div', {});
	const message = h('div', {'aria-live': 'polite'});
	const confirmBox = h('div', {class: 'confirm'});

	async function revoke(target, isCurrent) {
		clear(message);
		try {
			await del(target);
		} catch (error) {
			message.append(errorBox(ctx.errorText(error)));
			return;
		}
		if (isCurrent) {
			ctx.signOut('tokens.signed-out');
			return;
		}
		ctx.forget(path);
		message.append(h('p', {role: 'status'}, t('tokens.revoked')));
		show();
	}

	function show() {
		fillFrom(ctx, list, async () => {
			const answer = await ctx.load(path);
			return table(t('tokens.caption'), [t('tokens.col.name'), t('tokens.col.when'),
				t('tokens.col.action')],
			answer.tokens.map((tok) => [
				{node: [tok.name || t('tokens.unnamed'), tok.current
					? h('span', {class: 'badge current'}, t('tokens.this-device')) : null]},
				{node: [h('span', {class: 'line-name'}, t('tokens.created', {when: dateTime(tok.created_at)})),
					h('span', {class: 'line-name'}, tok.last_used_at
						? t('tokens.used', {when: dateTime(tok.last_used_at)}) : t('tokens.never'))]},
				{node: h('button', {type: 'button', class: 'secondary',
					'aria-label': t('tokens.revoke-named', {name: tok.name || t('tokens.unnamed')}),
					onclick: () => revoke(`${path}/${tok.id}`, tok.current)},
				t(tok.current ? 'tokens.sign-out-here' : 'tokens.revoke'))},
			]), {class: 'tokens'});
		});
	}

	const everywhere = h('button', {type: 'button', class: 'danger', id: 'sign-out-everywhere',
		onclick: () => {
			clear(confirmBox);
			confirmBox.append(h('p', {role: 'alert'}, t('tokens.everywhere-confirm')),
				h('button', {type: 'button', class: 'danger', id: 'confirm-everywhere',
					onclick: () => revoke(path, true)}, t('tokens.everywhere-yes')),
				h('button', {type: 'button', class: 'secondary', onclick: () => {
					clear(confirmBox);
					everywhere.focus();
				}}, t('tokens.cancel')));
			confirmBox.querySelector('#confirm-everywhere').focus();
		}}, t('tokens.everywhere'));
	body.append(list, message, h('div', {class: 'everywhere'}, [everywhere, confirmBox]));
	show();
	return el;
}
