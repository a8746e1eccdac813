// forms — controls drawn from the server's field rows (the field table,
// the policy and settings keys) and the server's findings shown next to
// their fields. No field rule is written here: the server checks.
import { api, h, msg, state } from './lib.js';

export async function schema() {
  if (!state.schema) {
    const r = await api('GET', '/schema/fields');
    if (r.status !== 200) throw new Error(r.data.error || 'no schema');
    state.schema = r.data;
  }
  return state.schema;
}

// ---- forms drawn from the field table ----
// One input per field row, by kind; bounds and help are shown as the
// server states them, and checked only by the server.
export const TAB_LABELS = {
  general: 'Number, Name and Class of Service', auth: 'Authentication', voicemail: 'Voicemail',
  phone: 'Phone Options', callerid: 'Caller ID', user: 'User Options', web: 'Web Authentication',
  security: 'Security', type: 'Type Options',
};

function fieldId(name) { return 'f-' + name.replace(/[^a-z0-9]/gi, '-'); }

export function valueText(v) {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

// A control for field f with value v. Returns {row, get(), set(v), dirty}
export function fieldControl(f, v, onDirty) {
  const id = fieldId(f.name);
  const err = h('div', { class: 'field-error', id: id + '-error', 'aria-live': 'polite' });
  let input, get, set;
  const mark = () => { ctl.dirty = true; err.replaceChildren(); row.classList.remove('bad'); onDirty && onDirty(f); };
  if (f.kind === 'bool') {
    input = h('input', { type: 'checkbox', id, name: f.name, onchange: mark });
    get = () => (input.checked ? 'true' : 'false');
    set = (x) => { input.checked = x === true || x === 'true'; };
  } else if (f.kind === 'enum') {
    input = h('select', { id, name: f.name, onchange: mark },
      (f.choices || []).map((c) => h('option', { value: c }, c)));
    get = () => input.value;
    set = (x) => { if (x !== undefined && x !== null) input.value = String(x); };
  } else if (f.kind === 'list' && f.choices) {
    const boxes = f.choices.map((c) => h('input', { type: 'checkbox', value: c, name: f.name, onchange: mark }));
    input = h('div', { id, class: 'choices' }, boxes.map((b) => h('label', { class: 'inline' }, b, ' ', b.value)));
    get = () => boxes.filter((b) => b.checked).map((b) => b.value).join(',');
    set = (x) => {
      const on = new Set(Array.isArray(x) ? x : valueText(x).split(',').filter(Boolean));
      boxes.forEach((b) => { b.checked = on.has(b.value); });
    };
  } else {
    input = h('input', {
      id, name: f.name, type: f.kind === 'int' ? 'number' : 'text',
      autocomplete: f.kind === 'secret' ? 'new-password' : 'off', spellcheck: 'false', oninput: mark,
    });
    get = () => input.value;
    set = (x) => { input.value = valueText(x); };
  }
  const bounds = [];
  if (f.kind === 'int' && f.max) bounds.push(`${f.min}–${f.max}`);
  else if (f.max && f.kind !== 'bool') bounds.push(`length ${f.min}–${f.max}`);
  if (f.kind === 'list' && !f.choices) bounds.push('comma-separated');
  const help = h('div', { class: 'help' }, f.help || '', bounds.length ? ` (${bounds.join('; ')})` : '');
  const label = h('label', { for: id }, f.label || f.name, f.required ? ' *' : '');
  const extra = h('span', { class: 'extra' });
  const row = h('div', { class: 'field', dataset: { field: f.name } }, label, h('div', { class: 'control' }, input, extra), help, err);
  const ctl = { f, row, input, get, set, err, extra, dirty: false };
  set(v !== undefined ? v : (f.default && !f.default.includes('{') ? f.default : undefined));
  return ctl;
}

export function clearErrors(ctls, box) {
  ctls.forEach((c) => { c.err.replaceChildren(); c.row.classList.remove('bad'); });
  box.replaceChildren();
}

// Findings {field, rule, message} next to their fields; the rest in box.
// Returns the first control that got one.
export function showFindings(ctls, box, data) {
  let first = null;
  const loose = [];
  for (const e of data.errors || []) {
    const c = ctls.find((x) => x.f.name === e.field);
    if (c) {
      c.err.append(h('div', {}, `${e.message} (rule ${e.rule})`));
      c.row.classList.add('bad');
      first = first || c;
    } else {
      loose.push(`${e.field ? e.field + ': ' : ''}${e.message} (rule ${e.rule})`);
    }
  }
  box.replaceChildren(msg('error', data.error || 'Refused.'), ...loose.map((t) => h('div', { class: 'loose' }, t)));
  // the first refused field in the form's own order (its tab is shown)
  return ctls.find((c) => c.row.classList.contains('bad')) || first;
}
