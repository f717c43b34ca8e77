// dom.js: building the page without markup strings. h() creates an element from a tag, attributes
// and children; every text goes in through text nodes (textContent), never innerHTML, so whatever
// the API answers is shown as text and can never become markup or script. Also the formatters
// (times, sizes, durations) every page uses.

// h(tag, attrs, ...children): attrs keys: "class", "for", data-*, aria-*, other attributes as
// strings; on<Event> keys take functions; children are nodes, strings (text), arrays, or null.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden' || k === 'required') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// clear(el): removes every child.
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// add(el, ...children) / fill(el, ...children): append children (or replace every child with them)
// by h()'s rules: arrays are flattened, null/false skipped, strings become text nodes.
export function add(el, ...children) {
  append(el, children);
  return el;
}
export function fill(el, ...children) {
  return add(clear(el), ...children);
}

// table(columns, rows, opts): columns [{title, cell(row) -> node|string, cls}]; rows an array.
// opts.empty: text when there are no rows; opts.rowClass(row) -> class; opts.id for the table.
export function table(columns, rows, opts = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, opts.empty || 'Nothing here yet.');
  return h('table', { class: 'grid', id: opts.id || null },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.cls || null }, c.title)))),
    h('tbody', {}, rows.map((r) => h('tr', { class: opts.rowClass ? opts.rowClass(r) : null, 'data-key': opts.key ? opts.key(r) : null },
      columns.map((c) => h('td', { class: c.cls || null }, c.cell(r)))))));
}

// field(label, input, help): a labelled form row.
export function field(label, input, help) {
  const id = input.id || ('f-' + Math.random().toString(36).slice(2));
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, help ? h('small', {}, help) : null);
}

// A status word as a coloured badge (Succeeded green, Failed red, Running blue, ...).
export function badge(status) {
  const s = String(status || 'unknown');
  let kind = 'neutral';
  if (/Warning|Paused|Cancel|Skipped|Missed/i.test(s)) kind = 'warn';
  else if (/Fail|Error/i.test(s)) kind = 'bad';
  else if (/^(Succeeded|Finished|Done|Active)$|SUCCESS|COMPLETED/i.test(s)) kind = 'ok';
  else if (/Running|Accepted|Queued|Started|OnHold|Pending|RESTORING|IN_PROGRESS/i.test(s)) kind = 'busy';
  return h('span', { class: 'badge ' + kind }, s);
}

const pad = (n) => String(n).padStart(2, '0');

// fmtTime(usecs): "YYYY-MM-DD HH:MM:SS" in the browser's time zone, "-" for none.
export function fmtTime(usecs) {
  if (!usecs) return '-';
  const d = new Date(Number(usecs) / 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// fmtAgo(usecs): "5 min ago", "in 3 h".
export function fmtAgo(usecs) {
  if (!usecs) return '';
  const s = Math.round((Number(usecs) / 1000 - Date.now()) / 1000);
  const a = Math.abs(s);
  const t = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86400 * 2 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  return s < 0 ? `${t} ago` : `in ${t}`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined || isNaN(n)) return '-';
  n = Number(n);
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(n < 10 ? 2 : 1) : String(n)) + ' ' + u[i];
}

export function fmtDuration(startUsecs, endUsecs) {
  if (!startUsecs) return '-';
  const end = endUsecs || Date.now() * 1000;
  const s = Math.max(0, Math.round((end - startUsecs) / 1e6));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// toLocalInput(usecs) / fromLocalInput(str): <input type="datetime-local"> values.
export function toLocalInput(usecs) {
  const d = new Date(Number(usecs) / 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function fromLocalInput(s) {
  const t = new Date(s).getTime();
  return isNaN(t) ? null : t * 1000;
}

// A link inside the app.
export const link = (href, text, attrs = {}) => h('a', Object.assign({ href }, attrs), text);

// enc: a path segment or query value.
export const enc = encodeURIComponent;
