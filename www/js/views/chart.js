// A bar chart drawn as SVG: per point a bar for each series, a scale with
// round figures, and marks where the meter had a gap. The figures are also
// in a table next to it; the drawing itself is hidden from screen readers.

import {svg} from '../dom.js';
import {bytes} from '../i18n.js';

// The smallest 1, 2 or 5 × 10^k at or above value.
function roundUp(value) {
	if (value <= 0)
		return 1000;
	const power = 10 ** Math.floor(Math.log10(value));
	for (const step of [1, 2, 5, 10])
		if (step * power >= value)
			return step * power;
	return 10 * power;
}

// chart({points, series: [{key, cls}], max, width, label(point, i), labelEvery,
//        marks: [{at: fractional point index, text}], onPick(i), pickLabel(i)})
export function barChart(opt) {
	const width = Math.max(280, Math.round(opt.width || 600));
	const height = 200;
	const left = 58;
	const right = 8;
	const top = 10;
	const bottom = 24;
	const plotW = width - left - right;
	const plotH = height - top - bottom;
	const n = Math.max(opt.points.length, 1);
	const slot = plotW / n;
	const max = roundUp(opt.max);
	const y = (v) => top + plotH - (v / max) * plotH;
	const root = svg('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart',
		width: width, height: height, 'aria-hidden': 'true', focusable: 'false'});

	for (let i = 0; i <= 4; i++) {
		const value = (max * i) / 4;
		root.append(svg('line', {class: 'grid', x1: left, x2: width - right, y1: y(value), y2: y(value)}),
			svg('text', {class: 'axis', x: left - 4, y: y(value) + 4, 'text-anchor': 'end'}, bytes(value)));
	}
	const barW = Math.max(1, (slot * 0.8) / opt.series.length);
	opt.points.forEach((point, i) => {
		const x0 = left + i * slot + slot * 0.1;
		opt.series.forEach((s, k) => {
			const value = Number(point[s.key]) || 0;
			if (value > 0) {
				root.append(svg('rect', {class: `bar ${s.cls}`, x: x0 + k * barW, y: y(value),
					width: Math.max(barW - 0.5, 0.5), height: top + plotH - y(value)}));
			}
		});
		if (i % (opt.labelEvery || 1) === 0) {
			root.append(svg('text', {class: 'axis', x: left + i * slot + slot / 2, y: height - 8,
				'text-anchor': 'middle'}, opt.label(point, i)));
		}
		if (opt.onPick) {
			const hit = svg('rect', {class: 'hit', x: left + i * slot, y: top, width: slot, height: plotH});
			hit.addEventListener('click', () => opt.onPick(i));
			hit.append(svg('title', {}, opt.pickLabel(i)));
			root.append(hit);
		}
	});
	root.append(svg('line', {class: 'baseline', x1: left, x2: width - right, y1: top + plotH, y2: top + plotH}));
	for (const mark of opt.marks || []) {
		const x = left + mark.at * slot;
		root.append(svg('g', {class: 'gap-mark'}, [
			svg('line', {x1: x, x2: x, y1: top, y2: top + plotH}),
			svg('path', {d: `M${x - 5},${top} L${x + 5},${top} L${x},${top + 8} Z`}),
			svg('title', {}, mark.text),
		]));
	}
	return root;
}

// Where an instant falls among points of a series, as a fractional index
// (2.5 is the middle of the third point); null when outside.
export function pointIndex(points, end, instant) {
	const at = new Date(instant).getTime();
	for (let i = 0; i < points.length; i++) {
		const start = new Date(points[i].start).getTime();
		const next = i + 1 < points.length ? new Date(points[i + 1].start).getTime()
			: new Date(end).getTime();
		if (at >= start && at < next)
			return i + (at - start) / (next - start);
	}
	return null;
}
