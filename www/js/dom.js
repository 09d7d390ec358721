// Building the page's elements from data without ever parsing text as HTML:
// whatever the API returns is set as text, so nothing it says can run.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(node, attrs, children) {
	for (const [name, value] of Object.entries(attrs || {})) {
		if (value === undefined || value === null || value === false)
			continue;
		if (name === 'class')
			node.setAttribute('class', value);
		else if (name.startsWith('on'))
			node.addEventListener(name.slice(2), value);
		else if (name === 'text')
			node.textContent = value;
		else
			node.setAttribute(name, value === true ? '' : String(value));
	}
	for (const child of [].concat(children ?? [])) {
		if (child === null || child === undefined || child === false)
			continue;
		node.append(child instanceof Node ? child : String(child));
	}
	return node;
}

// h('p', {class: 'note'}, ['text', h('strong', {}, 'bold')])
export function h(tag, attrs, children) {
	return fill(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, children) {
	return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(node) {
	while (node.firstChild)
		node.firstChild.remove();
	return node;
}

let unique = 0;
export function uid(prefix) {
	unique += 1;
	return `${prefix}-${unique}`;
}
