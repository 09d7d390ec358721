// This month so far: the running estimate, line by line, each with its
// explanation, worked out by the daemon afresh at every request.

import {h} from '../dom.js';
import {t, dateTime, period} from '../i18n.js';
import {section, fillFrom} from './common.js';
import {linesTable} from './lines.js';

export function renderEstimate(ctx) {
	const {el, body} = section('estimate', 'estimate.title');
	fillFrom(ctx, body, async () => {
		const doc = await ctx.load(`/api/v1/households/${ctx.household.id}/estimate`);
		return [
			h('p', {class: 'intro'}, t('estimate.intro', {period: period(doc.period),
				until: dateTime(doc.usage_until_s)})),
			...linesTable(doc, t('estimate.caption', {period: period(doc.period)})),
			h('p', {class: 'help'}, t('estimate.tariff', {name: doc.tariff.name, id: doc.tariff.id})),
		];
	});
	return el;
}
