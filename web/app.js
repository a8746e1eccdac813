// Bulwark web GUI: the administrator's screens and the user portal, one
// page drawn from the REST API under /api/v1/. Plain JavaScript module, no
// libraries, nothing built. Every form is drawn from what the API serves
// (the field table at /schema/fields, the policy keys): no field rule is
// written here; a refused value shows the server's own message and rule
// next to the field. DOM nodes are built with textContent only (no HTML
// from data), and the page runs under a Content-Security-Policy without
// inline script.

const API = '/api/v1';
const app = document.getElementById('app');

// ---- state ----
const state = {
  session: null,    // {kind:"admin"|"user", csrf, number}
  schema: null,     // /schema/fields
};

// ---- DOM helpers ----
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function show(...nodes) {
  app.replaceChildren(...nodes);
}

function msg(kind, text) {
  return h('div', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

// ---- the API ----
// Every state change carries the session's CSRF token; the header
// X-Bulwark-GUI tells the server to answer a missing session with a plain
// 401 (no browser password dialog).
async function api(method, path, body, opts = {}) {
  const headers = { 'X-Bulwark-GUI': '1' };
  if (method !== 'GET' && state.session && state.session.csrf) headers['X-CSRF-Token'] = state.session.csrf;
  let payload;
  if (body !== undefined) {
    if (opts.csv) { headers['Content-Type'] = 'text/csv'; payload = body; }
    else { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  }
  let res;
  try {
    res = await fetch(API + path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    return { status: 0, data: { error: `The server did not answer (${e.message}).`, errors: [] } };
  }
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : {}; } catch { data = { raw: text }; }
  if (res.status === 401 && !opts.noRelogin && state.session) {
    state.session = null;
    renderLogin(data && data.error ? data.error : 'The session has ended: log in again.');
  }
  return { status: res.status, data };
}

// ---- login ----
function renderLogin(notice) {
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const out = h('div', { class: 'login-out' }, notice ? msg('info', notice) : null);
  const form = h('form', { class: 'card login', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren(msg('info', 'Checking…'));
    const r = await api('POST', '/session', { user: user.value, password: pass.value }, { noRelogin: true });
    pass.value = '';
    if (r.status === 200) {
      state.session = r.data;
      location.hash = r.data.kind === 'admin' ? '#/extensions' : '#/portal';
      route();
      return;
    }
    out.replaceChildren(msg('error', r.data.error || `Refused (HTTP ${r.status}).`));
  } },
  h('h1', {}, 'Bulwark'),
  h('p', { class: 'sub' }, 'Administrator: user admin. Extension owners: your web username.'),
  h('label', { for: 'login-user' }, 'User name'), user,
  h('label', { for: 'login-password' }, 'Password'), pass,
  h('button', { type: 'submit', id: 'login-submit' }, 'Log in'),
  out);
  show(h('main', { class: 'center' }, form));
  user.focus();
}

async function logout() {
  const path = state.session && state.session.kind === 'user' ? '/me/session' : '/session';
  await api('DELETE', path);
  state.session = null;
  location.hash = '#/login';
  renderLogin('Logged out.');
}

// ---- admin frame ----
const NAV = [
  ['#/extensions', 'Extensions'],
  ['#/commit', 'Commit'],
  ['#/security', 'Security'],
  ['#/firewall', 'Firewall'],
  ['#/services', 'Services'],
  ['#/settings', 'Settings'],
  ['#/bans', 'Bans'],
  ['#/registrations', 'Registrations'],
];

async function frame(title, ...content) {
  const cur = location.hash.split('/').slice(0, 2).join('/');
  const pending = h('span', { class: 'badge', id: 'pending-count' });
  const nav = h('nav', { class: 'top' },
    h('span', { class: 'brand' }, 'Bulwark'),
    h('div', { class: 'links' }, NAV.map(([href, label]) =>
      h('a', { href, class: href === cur ? 'on' : '' }, label, href === '#/commit' ? pending : null))),
    h('button', { class: 'link', id: 'logout', onclick: logout }, 'Log out'));
  show(nav, h('main', {}, h('h1', {}, title), ...content));
  const s = await api('GET', '/status');
  if (s.status === 200 && s.data.pending) pending.textContent = String(s.data.pending);
}

async function schema() {
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
const TAB_LABELS = {
  general: 'Number, Name and Class of Service', auth: 'Authentication', voicemail: 'Voicemail',
  phone: 'Phone Options', callerid: 'Caller ID', user: 'User Options', web: 'Web Authentication',
  security: 'Security', type: 'Type Options',
};

function fieldId(name) { return 'f-' + name.replace(/[^a-z0-9]/gi, '-'); }

function valueText(v) {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

// A control for field f with value v. Returns {row, get(), set(v), dirty}
function fieldControl(f, v, onDirty) {
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

function clearErrors(ctls, box) {
  ctls.forEach((c) => { c.err.replaceChildren(); c.row.classList.remove('bad'); });
  box.replaceChildren();
}

// Findings {field, rule, message} next to their fields; the rest in box.
// Returns the first control that got one.
function showFindings(ctls, box, data) {
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

// ---- Extensions: list ----
const PAGE = 50;
async function screenExtensions(params) {
  const q = params.get('q') || '';
  const offset = Number(params.get('offset') || 0);
  const search = h('input', { id: 'ext-search', type: 'search', placeholder: 'Number, name or type', value: q });
  const go = (off) => { location.hash = `#/extensions?q=${encodeURIComponent(search.value)}&offset=${off}`; };
  const body = h('tbody');
  const info = h('span', { class: 'pager-info', id: 'ext-pager-info' });
  const prev = h('button', { id: 'ext-prev', onclick: () => go(Math.max(0, offset - PAGE)) }, '‹ Previous');
  const next = h('button', { id: 'ext-next', onclick: () => go(offset + PAGE) }, 'Next ›');
  const importIn = h('input', { type: 'file', accept: '.csv,text/csv', id: 'ext-import-file' });
  const out = h('div', { id: 'ext-import-out', 'aria-live': 'polite' });
  // the server checks every row; its findings are listed as it words
  // them (row, field, rule), and the secrets it generated are shown once
  const importCsv = async () => {
    const file = importIn.files[0];
    if (!file) { out.replaceChildren(msg('error', 'Choose a CSV file first.')); return; }
    out.replaceChildren(msg('info', 'Importing…'));
    const r = await api('POST', '/ext/import', await file.text(), { csv: true });
    if (r.status !== 200) {
      out.replaceChildren(msg('error', r.data.error || `Refused (HTTP ${r.status}).`),
        h('ul', { class: 'findings', id: 'ext-import-findings' }, (r.data.errors || []).map((e) =>
          h('li', { dataset: { where: e.where || '', field: e.field || '', rule: e.rule || '' } },
            `${e.where ? e.where + ': ' : ''}${e.field ? e.field + ': ' : ''}${e.message} (rule ${e.rule})`))));
      return;
    }
    const gen = r.data.generated || [];
    out.replaceChildren(msg('ok', `${r.data.staged} rows staged; commit to apply.`),
      h('p', {}, h('a', { href: '#/commit', id: 'ext-import-commit' }, 'Review and commit')),
      ...(r.data.warnings || []).map((w) => h('div', { class: 'loose' }, `${w.message} (rule ${w.rule})`)),
      gen.length ? h('div', { class: 'scroll' }, h('p', {}, 'Generated secrets, shown this once:'),
        h('table', { class: 'list' }, h('tbody', { id: 'ext-import-secrets' }, gen.map((g) =>
          h('tr', {}, h('td', {}, g.number), h('td', {}, h('code', {}, g['auth.password'] || '')), h('td', {}, h('code', {}, g['voicemail.pin'] || ''))))))) : null);
  };
  await frame('Extensions',
    h('div', { class: 'toolbar' },
      h('form', { class: 'search', onsubmit: (e) => { e.preventDefault(); go(0); } }, search, h('button', { type: 'submit' }, 'Search')),
      h('a', { class: 'button primary', href: '#/extensions/new', id: 'add-phone' }, 'Add a New Phone'),
      h('a', { class: 'button', href: '#/extensions/bulk', id: 'add-multiple' }, 'Add Multiple Extensions')),
    h('div', { class: 'scroll' }, h('table', { class: 'list', id: 'ext-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Number'), h('th', {}, 'Name'), h('th', {}, 'Type'), h('th', { class: 'wide' }, 'Class of service'))),
      body)),
    h('div', { class: 'pager' }, prev, info, next),
    h('details', { class: 'csv', id: 'ext-csv' }, h('summary', { id: 'ext-csv-open' }, 'CSV import and export'),
      h('p', {}, h('a', { href: API + '/ext/export?staged=1', download: 'extensions.csv' }, 'Export the staged extensions as CSV')),
      h('p', {}, h('label', { for: 'ext-import-file' }, 'CSV file (header row: field names)'), importIn,
        h('button', { type: 'button', id: 'ext-import', onclick: importCsv }, 'Import')), out));
  const lic = await api('GET', '/licences');
  if (lic.status === 200) {
    const l = (x) => `${x.used} used, ${x.staged} staged, limit ${x.limit < 0 ? 'unlimited' : x.limit}`;
    info.parentElement.after(h('p', { class: 'sub', id: 'licences' }, `Licences — user: ${l(lic.data.user)}; shared device: ${l(lic.data.shared)}; ring groups: ${lic.data.ring_group}.`));
  }
  const r = await api('GET', `/ext/search?staged=1&q=${encodeURIComponent(q)}&offset=${offset}&limit=${PAGE}`);
  if (r.status !== 200) { body.append(h('tr', {}, h('td', { colspan: 4 }, r.data.error))); return; }
  for (const e of r.data.items) {
    body.append(h('tr', {},
      h('td', {}, h('a', { href: `#/extensions/${encodeURIComponent(e.number)}` }, e.number)),
      h('td', {}, e.name || ''), h('td', {}, e.type || ''), h('td', { class: 'wide' }, e.class_of_service || '')));
  }
  if (!r.data.items.length) body.append(h('tr', {}, h('td', { colspan: 4 }, 'No extension matches.')));
  const last = Math.min(offset + r.data.items.length, r.data.total);
  info.textContent = r.data.total ? `${offset + 1}–${last} of ${r.data.total}` : '0 of 0';
  prev.disabled = offset === 0;
  next.disabled = last >= r.data.total;
}

// ---- Extensions: Add a New Phone / edit ----
async function screenExtension(number) {
  const sc = await schema();
  const editing = number !== 'new';
  let current = {};
  if (editing) {
    const r = await api('GET', `/ext/${encodeURIComponent(number)}?staged=1`);
    if (r.status !== 200) { await frame(`Extension ${number}`, msg('error', r.data.error)); return; }
    current = r.data;
  }
  let type = current.type || 'sip';
  const box = h('div', { class: 'form-out', id: 'ext-form-out' });
  const tabsNav = h('div', { class: 'tabs', role: 'tablist' });
  const panels = h('div', { class: 'panels' });
  let ctls = [];
  let activeTab = 'extype';

  const typeSelect = h('select', { id: 'ext-type', disabled: editing, onchange: () => { type = typeSelect.value; build(); } },
    sc.types.map((t) => h('option', { value: t }, t)));
  typeSelect.value = type;

  function selectTab(name) {
    activeTab = name;
    for (const b of tabsNav.children) b.setAttribute('aria-selected', String(b.dataset.tab === name));
    for (const p of panels.children) p.hidden = p.dataset.tab !== name;
  }

  function build() {
    tabsNav.replaceChildren();
    panels.replaceChildren();
    const old = new Map(ctls.filter((c) => c.dirty).map((c) => [c.f.name, c.get()]));
    ctls = [];
    const tabs = ['extype', ...sc.tabs];
    for (const tab of tabs) {
      const fields = sc.fields.filter((f) => f.tab === tab && f.types.includes(type) && f.name !== 'type');
      if (tab !== 'extype' && !fields.length) continue;
      const panel = h('section', { class: 'panel', dataset: { tab }, role: 'tabpanel' });
      if (tab === 'extype') {
        panel.append(h('div', { class: 'field' }, h('label', { for: 'ext-type' }, 'Extension type'),
          h('div', { class: 'control' }, typeSelect),
          h('div', { class: 'help' }, (sc.fields.find((f) => f.name === 'type') || {}).help || '')));
      }
      for (const f of fields) {
        const c = fieldControl(f, current[f.name]);
        if (old.has(f.name)) { c.set(old.get(f.name)); c.dirty = true; }
        if (editing && f.name === 'number') c.input.disabled = true;
        if (f.name === 'auth.password' || f.name === 'voicemail.pin') {
          const kind = f.name === 'auth.password' ? 'sip' : 'vm';
          c.extra.append(h('button', { type: 'button', class: 'gen', id: `gen-${kind}`, onclick: async () => {
            const num = (ctls.find((x) => x.f.name === 'number') || {}).get?.() || number;
            const name = (ctls.find((x) => x.f.name === 'name') || {}).get?.() || '';
            const r = await api('POST', `/passwd/generate?kind=${kind}&number=${encodeURIComponent(num)}&name=${encodeURIComponent(name)}`);
            if (r.status === 200) { c.set(r.data.secret); c.dirty = true; c.err.replaceChildren(); c.row.classList.remove('bad'); }
            else c.err.replaceChildren(r.data.error);
          } }, f.name === 'auth.password' ? 'Generate Password' : 'Generate PIN'));
        }
        ctls.push(c);
        panel.append(c.row);
      }
      panels.append(panel);
      tabsNav.append(h('button', { type: 'button', role: 'tab', class: 'tab', id: `tab-${tab}`, dataset: { tab }, onclick: () => selectTab(tab) },
        tab === 'extype' ? 'Type' : TAB_LABELS[tab] || tab));
    }
    selectTab(tabs.includes(activeTab) && panels.querySelector(`[data-tab="${activeTab}"]`) ? activeTab : 'extype');
  }

  async function submit(ev) {
    ev.preventDefault();
    clearErrors(ctls, box);
    const body = {};
    if (!editing) body.type = type;
    for (const c of ctls) {
      if (editing && c.f.name === 'number') continue;
      const val = c.get();
      if (!editing && (c.f.name === 'number' || c.f.name === 'name')) { body[c.f.name] = val; continue; }
      if (c.dirty) body[c.f.name] = val;
    }
    const r = editing ? await api('PATCH', `/ext/${encodeURIComponent(number)}`, body) : await api('POST', '/ext', body);
    if (r.status === 200 || r.status === 201) {
      const gen = Object.entries(r.data.generated || {});
      box.replaceChildren(msg('ok', `${editing ? 'Saved' : 'Added'} extension ${r.data.number}: staged, commit to apply.`),
        gen.length ? h('div', { class: 'secrets' }, 'Generated (shown once): ', gen.map(([k, v]) => h('code', {}, `${k} = ${v} `))) : null,
        ...(r.data.warnings || []).map((w) => h('div', { class: 'loose' }, `${w.message} (rule ${w.rule})`)));
      ctls.forEach((c) => { c.dirty = false; });
      if (!editing) {
        number = r.data.number;
        const link = h('a', { href: `#/extensions/${encodeURIComponent(number)}` }, 'open it');
        box.append(h('p', {}, 'The extension is staged: ', link, ' or ', h('a', { href: '#/commit' }, 'commit'), '.'));
      }
      return;
    }
    const first = showFindings(ctls, box, r.data);
    if (first) selectTab(first.row.parentElement.dataset.tab);
  }

  build();
  const form = h('form', { id: 'ext-form', novalidate: true, onsubmit: submit },
    tabsNav, panels,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', id: 'ext-save' }, editing ? 'Save' : 'Add'),
      editing ? h('button', { type: 'button', id: 'ext-delete', onclick: async (e) => {
        if (e.target.dataset.sure !== '1') { e.target.dataset.sure = '1'; e.target.textContent = 'Really delete?'; return; }
        const r = await api('DELETE', `/ext/${encodeURIComponent(number)}`);
        box.replaceChildren(r.status === 200 ? msg('ok', `Extension ${number} removed (staged).`) : msg('error', r.data.error));
      } }, 'Delete') : null,
      h('a', { href: '#/extensions', class: 'button' }, 'Back')),
    box);
  await frame(editing ? `Extension ${number}` : 'Add a New Phone', form);
}

// ---- Add Multiple Extensions ----
async function screenBulk() {
  const sc = await schema();
  const range = h('input', { id: 'bulk-range', placeholder: '200-299' });
  const type = h('select', { id: 'bulk-type' }, sc.types.map((t) => h('option', { value: t }, t)));
  const tmpl = h('input', { id: 'bulk-template', placeholder: 'optional: number to copy settings from' });
  const out = h('div');
  await frame('Add Multiple Extensions', h('form', { class: 'card', id: 'bulk-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const body = { range: range.value, type: type.value };
    if (tmpl.value) body.template = tmpl.value;
    const r = await api('POST', '/ext/bulk', body);
    if (r.status !== 201 && r.status !== 200) { out.replaceChildren(msg('error', r.data.error)); return; }
    out.replaceChildren(msg('ok', `${r.data.count} extensions staged. Their secrets are shown this once:`),
      h('div', { class: 'scroll' }, h('table', { class: 'list' }, h('tbody', { id: 'bulk-secrets' }, (r.data.created || []).slice(0, 1000).map((c) =>
        h('tr', {}, h('td', {}, c.number), h('td', {}, h('code', {}, c['auth.password'] || '')), h('td', {}, h('code', {}, c['voicemail.pin'] || ''))))))));
  } },
  h('label', { for: 'bulk-range' }, 'Range'), range,
  h('label', { for: 'bulk-type' }, 'Type'), type,
  h('label', { for: 'bulk-template' }, 'Template'), tmpl,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add')), out));
}

// ---- Commit ----
function masked(v) { return valueText(v); }

async function screenCommit() {
  const list = h('div', { id: 'pending-diff' });
  const out = h('div', { id: 'commit-out' });
  const show2 = (r, dry) => {
    const d = r.data;
    if (r.status === 200 && d.ok) {
      out.replaceChildren(msg('ok', dry ? 'Dry run: the staged configuration is valid; nothing was written.' : `Committed: version ${d.version}.`),
        ...(d.fixed || []).map((x) => h('div', { class: 'secrets' }, `Auto-fixed ${x.number} ${x.field}: `, h('code', {}, x.secret), ' (shown once)')));
    } else {
      out.replaceChildren(msg('error', d.error || 'Refused.'),
        ...(d.errors || []).map((e) => h('div', { class: 'loose' }, `${e.where ? e.where + ': ' : ''}${e.field ? e.field + ': ' : ''}${e.message} (rule ${e.rule})`)));
    }
  };
  const discard = h('button', { id: 'commit-discard', onclick: async () => {
    if (discard.dataset.sure !== '1') { discard.dataset.sure = '1'; discard.textContent = 'Really discard every staged change?'; return; }
    const r = await api('POST', '/discard');
    out.replaceChildren(r.status === 200 ? msg('ok', 'Discarded: staged = running.') : msg('error', r.data.error));
    await load();
  } }, 'Discard');
  await frame('Commit',
    h('p', { class: 'sub' }, 'Changes are staged until committed. The commit validates everything first and writes all or nothing.'),
    list,
    h('div', { class: 'actions' },
      h('button', { id: 'commit-dry', onclick: async () => show2(await api('POST', '/commit?dry_run=1'), true) }, 'Dry run'),
      h('button', { id: 'commit-go', class: 'primary', onclick: async () => { show2(await api('POST', '/commit'), false); await load(); } }, 'Commit'),
      discard),
    out);

  async function load() {
    const r = await api('GET', '/pending');
    if (r.status !== 200) { list.replaceChildren(msg('error', r.data.error)); return; }
    const badge = document.getElementById('pending-count');
    if (badge) badge.textContent = r.data.length ? String(r.data.length) : '';
    if (!r.data.length) { list.replaceChildren(msg('info', 'Nothing is pending: staged and running are the same.')); return; }
    const rows = [];
    for (const p of r.data.slice(0, 200)) {
      const sign = p.op === 'add' ? '+' : p.op === 'remove' ? '−' : '~';
      const item = h('div', { class: `diff ${p.op}`, dataset: { key: `${p.kind}:${p.key}` } },
        h('div', { class: 'diff-head' }, `${sign} ${p.kind === 'ext' ? 'extension' : 'settings'} ${p.key} (${p.op})`));
      rows.push(item);
      // field by field, old → new (secrets stay masked)
      if (p.op !== 'remove' && rows.length <= 50) {
        const path = p.kind === 'ext' ? `/ext/${encodeURIComponent(p.key)}` : `/settings/${encodeURIComponent(p.key)}`;
        const st = await api('GET', p.kind === 'ext' ? `${path}?staged=1` : path);
        const ru = p.op === 'add' || p.kind !== 'ext' ? null : await api('GET', path);
        const staged = p.kind === 'ext' ? st.data : (st.data.staged || {});
        const running = p.kind === 'ext' ? (ru && ru.status === 200 ? ru.data : {}) : (st.data.running || {});
        const names = p.fields && p.fields.length ? p.fields : (p.op === 'add' ? ['type', 'name'] : []);
        for (const n of names) {
          item.append(h('div', { class: 'diff-line' }, h('span', { class: 'k' }, n), ' ',
            p.op === 'add' ? null : h('del', {}, masked(running[n])), p.op === 'add' ? null : ' → ', h('ins', {}, masked(staged[n]))));
        }
      }
    }
    if (r.data.length > 200) rows.push(h('div', {}, `… and ${r.data.length - 200} more.`));
    list.replaceChildren(...rows);
  }
  await load();
}

// ---- Security: the SIP/IAX2 and voicemail policies ----
async function screenSecurity() {
  const r = await api('GET', '/policy');
  if (r.status !== 200) { await frame('Security', msg('error', r.data.error)); return; }
  const box = h('div', { id: 'policy-out' });
  const ctls = r.data.keys.map((k) => fieldControl({
    name: k.key, label: k.key, help: k.help, kind: k.kind === 'bool' ? 'bool' : 'int', min: k.min, max: k.max,
  }, r.data.staged[k.key]));
  const group = (prefix, title) => h('fieldset', {}, h('legend', {}, title), ctls.filter((c) => c.f.name.startsWith(prefix)).map((c) => c.row));
  const rest = ctls.filter((c) => !/^(sip|vm|web)\./.test(c.f.name));
  await frame('Security', h('form', { id: 'policy-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    clearErrors(ctls, box);
    const body = {};
    ctls.filter((c) => c.dirty).forEach((c) => { body[c.f.name] = c.get(); });
    if (!Object.keys(body).length) { box.replaceChildren(msg('info', 'Nothing changed.')); return; }
    const p = await api('PATCH', '/policy', body);
    if (p.status === 200) { box.replaceChildren(msg('ok', 'Policy staged: the commit re-checks every stored secret against it.')); ctls.forEach((c) => { c.dirty = false; }); }
    else showFindings(ctls, box, p.data);
  } },
  group('sip.', 'SIP and IAX2 passwords'), group('vm.', 'Voicemail PINs'), group('web.', 'Web GUI passwords'),
  rest.length ? h('fieldset', {}, h('legend', {}, 'Options'), rest.map((c) => c.row)) : null,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'policy-save' }, 'Save')), box));
}

// ---- Firewall: General and the Configuration Wizard ----
async function screenFirewall() {
  const r = await api('GET', '/firewall');
  if (r.status !== 200) { await frame('Firewall', msg('error', r.data.error)); return; }
  const fw = r.data;
  const out = h('div', { id: 'fw-out' });
  const countdown = h('div', { id: 'fw-countdown' });
  const general = h('section', { class: 'card' },
    h('h2', {}, 'General'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Server type (running)'), h('dd', { id: 'fw-type' }, fw.type),
      h('dt', {}, 'Server type (staged)'), h('dd', { id: 'fw-staged-type' }, fw.staged_type),
      h('dt', {}, 'Rules installed'), h('dd', {}, fw.active ? 'yes' : 'no')),
    h('h3', {}, 'Interfaces'),
    h('div', { class: 'scroll' }, h('table', { class: 'list' }, h('tbody', {}, fw.interfaces.map((i) =>
      h('tr', {}, h('td', {}, i.name), h('td', {}, i.role), h('td', { class: 'wide' }, i.addresses.join(' '))))))),
    h('h3', {}, 'Inbound services (permit)'),
    h('div', { class: 'scroll' }, h('table', { class: 'list' }, h('tbody', {}, Object.entries(fw.permit).map(([k, v]) =>
      h('tr', {}, h('td', {}, k), h('td', {}, v)))))),
    h('div', { class: 'actions' },
      h('button', { class: 'primary', id: 'fw-wizard', onclick: () => { location.hash = '#/firewall/wizard'; } }, 'Configuration Wizard'),
      h('button', { id: 'fw-apply', onclick: async () => {
        const a = await api('POST', '/firewall/apply', { rollback: fw.rollback_seconds });
        if (a.status !== 200) { out.replaceChildren(msg('error', a.data.error)); return; }
        out.replaceChildren(msg('ok', 'Applied: confirm before the countdown ends or the previous rules come back.'));
        tick();
      } }, 'Apply the committed rules (rollback unless confirmed)')),
    countdown, out);

  let timer = null;
  async function tick() {
    clearTimeout(timer);
    const s = await api('GET', '/firewall');
    if (s.status !== 200 || !s.data.rollback_in) { countdown.replaceChildren(); return; }
    countdown.replaceChildren(msg('warn', `Rolling back in ${s.data.rollback_in} s unless confirmed.`),
      h('button', { class: 'primary', id: 'fw-confirm', onclick: async () => {
        const c = await api('POST', '/firewall/confirm');
        countdown.replaceChildren(c.status === 200 ? msg('ok', 'Confirmed: the new rules stay.') : msg('error', c.data.error));
        clearTimeout(timer);
      } }, 'Confirm'),
      h('button', { id: 'fw-rollback', onclick: async () => { await api('POST', '/firewall/rollback'); tick(); } }, 'Roll back now'));
    timer = setTimeout(() => { if (document.getElementById('fw-countdown')) tick(); }, 1000);
  }
  await frame('Firewall', general);
  if (fw.rollback_in) tick();
}

async function screenWizard() {
  const out = h('div', { id: 'wiz-out' });
  const body = h('div', { id: 'wiz-body' });
  await frame('Firewall Configuration Wizard', body, out);
  const post = async (step, data) => {
    const r = await api('POST', `/firewall/wizard/${step}`, data);
    if (r.status !== 200) { out.replaceChildren(msg('error', r.data.error), ...(r.data.errors || []).map((e) => h('div', { class: 'loose' }, `${e.message} (rule ${e.rule})`))); return false; }
    out.replaceChildren();
    return true;
  };
  async function step(name) {
    const r = await api('GET', `/firewall/wizard/${name}`);
    if (r.status !== 200) { out.replaceChildren(msg('error', r.data.error)); return; }
    const s = r.data;
    const head = h('h2', {}, `Step ${s.number}: ${s.title}`);
    if (name === 'type') {
      const radios = s.options.map((o) => h('label', { class: 'option' },
        h('input', { type: 'radio', name: 'fwtype', value: o.value, checked: o.value === s.current, id: `fw-type-${o.value}` }),
        ' ', h('b', {}, o.label), ' — ', o.help, o.value === s.recommended ? ' (recommended)' : ''));
      body.replaceChildren(head, ...radios, h('div', { class: 'actions' }, h('button', { class: 'primary', id: 'wiz-next', onclick: async () => {
        const v = (body.querySelector('input[name=fwtype]:checked') || {}).value;
        if (v && await post('type', { type: v })) step(s.next);
      } }, 'Next')));
    } else if (name === 'interfaces') {
      const sel = s.interfaces.map((i) => {
        const x = h('select', { dataset: { iface: i.name }, id: `wiz-role-${i.name}` }, s.roles.map((ro) => h('option', { value: ro }, ro)));
        x.value = i.role || i.suggested;
        return h('div', { class: 'field' }, h('label', {}, `${i.name} ${i.addresses.join(' ')}`), h('div', { class: 'control' }, x));
      });
      body.replaceChildren(head, ...sel, h('div', { class: 'actions' },
        h('button', { onclick: () => step('type') }, 'Back'),
        h('button', { class: 'primary', id: 'wiz-next', onclick: async () => {
          const roles = {};
          body.querySelectorAll('select[data-iface]').forEach((x) => { roles[x.dataset.iface] = x.value; });
          if (await post('interfaces', { roles })) step(s.next);
        } }, 'Next')));
    } else if (name === 'services') {
      const rows = s.services.map((sv) => h('div', { class: 'field' },
        h('label', { for: `wiz-svc-${sv.name}` }, `${sv.label} (${sv.proto} ${sv.ports})`),
        h('div', { class: 'control' }, h('input', { id: `wiz-svc-${sv.name}`, dataset: { svc: sv.name }, value: sv.permit })),
        h('div', { class: 'help' }, `recommended: ${sv.recommended}`)));
      body.replaceChildren(head, h('p', { class: 'sub' }, s.values), ...rows, h('div', { class: 'actions' },
        h('button', { onclick: () => step('interfaces') }, 'Back'),
        h('button', { class: 'primary', id: 'wiz-next', onclick: async () => {
          const permit = {};
          body.querySelectorAll('input[data-svc]').forEach((x) => { permit[x.dataset.svc] = x.value; });
          if (await post('services', { permit })) step(s.next);
        } }, 'Next')));
    } else if (name === 'review') {
      body.replaceChildren(head,
        s.ok === false ? msg('error', 'The staged firewall is refused:') : msg('ok', `Server type: ${s.type}. These rules will be installed:`),
        ...(s.errors || []).map((e) => h('div', { class: 'loose' }, `${e.message} (rule ${e.rule})`)),
        h('pre', { class: 'ruleset', id: 'wiz-ruleset' }, s.ruleset || ''),
        h('div', { class: 'actions' },
          h('button', { onclick: () => step('services') }, 'Back'),
          h('a', { class: 'button', href: '#/firewall', id: 'wiz-done' }, 'Finish (staged; commit and apply later)'),
          h('button', { class: 'primary', id: 'wiz-apply', disabled: s.ok === false, onclick: async () => {
            // commit + apply: the countdown and Confirm are on General
            const fw = await api('GET', '/firewall');
            const r = await api('POST', '/firewall/wizard/apply', { rollback: fw.data.rollback_seconds || 120 });
            if (r.status !== 200) { out.replaceChildren(msg('error', r.data.error), ...(r.data.errors || []).map((e) => h('div', { class: 'loose' }, `${e.message} (rule ${e.rule})`))); return; }
            location.hash = '#/firewall';
          } }, 'Commit and apply now (rollback unless confirmed)')));
    }
  }
  await step('type');
}

// ---- Settings: every section, drawn from /schema/sections ----
// The sections' own tables give each key's kind (and, where the section
// declares them, bounds and help); the server checks every value.
async function screenSettings() {
  const r = await api('GET', '/schema/sections');
  if (r.status !== 200) { await frame('Settings', msg('error', r.data.error)); return; }
  const forms = r.data.sections.filter((sec) => sec.name !== 'policy').map((sec) => {
    const box = h('div', { id: `settings-${sec.name}-out` });
    const ctls = sec.keys.map((k) => fieldControl({
      name: `${sec.name}.${k.key}`, label: k.key, help: k.help || '', kind: k.kind, min: k.min, max: k.max,
    }, k.value));
    return h('form', { class: 'card', id: `settings-${sec.name}`, novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(ctls, box);
      const body = {};
      ctls.filter((c) => c.dirty).forEach((c) => { body[c.f.name.slice(sec.name.length + 1)] = c.get(); });
      if (!Object.keys(body).length) { box.replaceChildren(msg('info', 'Nothing changed.')); return; }
      const p = await api('PATCH', `/settings/${encodeURIComponent(sec.name)}`, body);
      if (p.status === 200) { box.replaceChildren(msg('ok', `${sec.name}: staged, commit to apply.`)); ctls.forEach((c) => { c.dirty = false; }); }
      else showFindings(ctls, box, p.data);
    } }, h('h2', {}, sec.name), ctls.map((c) => c.row),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: `settings-${sec.name}-save` }, 'Save')), box);
  });
  await frame('Settings', h('p', { class: 'sub' }, 'Every settings section (the password policy is under Security). Changes are staged until the commit.'), ...forms);
}

// ---- Network Services: start at boot, running state, restart required ----
async function screenServices() {
  const body = h('tbody', { id: 'svc-body' });
  const out = h('div', { id: 'svc-out' });
  await frame('Network Services',
    h('p', { class: 'sub' }, 'Start at boot is staged (commit to keep it); start, stop and restart act now. A service whose configuration changed in a commit says restart required.'),
    h('div', { class: 'scroll' }, h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Service'), h('th', { class: 'wide' }, 'Description'), h('th', {}, 'Start at boot'), h('th', {}, 'State'), h('th', {}, ''))), body)),
    out);
  const act = async (name, action) => {
    const r = await api('POST', `/services/${encodeURIComponent(name)}/${action}`);
    out.replaceChildren(r.status === 200 ? msg('ok', `${name}: ${action} done.`) : msg('error', r.data.error));
    load();
  };
  async function load() {
    const r = await api('GET', '/services');
    if (r.status !== 200) { out.replaceChildren(msg('error', r.data.error)); return; }
    body.replaceChildren(...r.data.map((sv) => h('tr', { dataset: { service: sv.name } },
      h('td', {}, sv.name), h('td', { class: 'wide' }, sv.description),
      h('td', {}, h('input', { type: 'checkbox', checked: sv.boot, disabled: sv.mandatory, 'aria-label': `start ${sv.name} at boot`,
        onchange: (e) => act(sv.name, e.target.checked ? 'enable' : 'disable') })),
      h('td', {}, sv.state, sv.restart_required ? h('b', { class: 'warn-text' }, ' — restart required') : ''),
      h('td', {}, sv.state === 'running'
        ? [h('button', { onclick: () => act(sv.name, 'restart') }, 'Restart'), ' ', sv.mandatory ? null : h('button', { onclick: () => act(sv.name, 'stop') }, 'Stop')]
        : h('button', { onclick: () => act(sv.name, 'start') }, 'Start')))));
  }
  await load();
}

// ---- Bans and security events ----
async function screenBans() {
  const out = h('div', { id: 'bans-out' });
  const bans = h('tbody', { id: 'bans-body' });
  const blocks = h('tbody', { id: 'blocks-body' });
  const trusts = h('tbody');
  const events = h('tbody', { id: 'events-body' });
  const tNet = h('input', { id: 'trust-network', placeholder: '192.0.2.7 or 192.0.2.0/24' });
  const tHours = h('input', { id: 'trust-hours', type: 'number', value: '24' });
  await frame('Bans and security events',
    h('h2', {}, 'Banned from SIP'),
    h('div', { class: 'scroll' }, h('table', { class: 'list' }, h('thead', {}, h('tr', {}, h('th', {}, 'Source'), h('th', {}, 'Reason'), h('th', {}, 'Time left'), h('th', {}, ''))), bans)),
    h('h2', {}, 'Blocked from the admin port'),
    h('div', { class: 'scroll' }, h('table', { class: 'list' }, h('tbody', {}), blocks)),
    h('h2', {}, 'Trusted networks'),
    h('form', { class: 'inline-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const r = await api('POST', '/trust', { network: tNet.value, for: `${tHours.value}h` });
      out.replaceChildren(r.status === 200 ? msg('ok', `Trusted ${r.data.source} for ${tHours.value} h.`) : msg('error', r.data.error));
      load();
    } }, tNet, h('label', { for: 'trust-hours' }, 'hours'), tHours, h('button', { type: 'submit', id: 'trust-add' }, 'Trust')),
    h('div', { class: 'scroll' }, h('table', { class: 'list' }, trusts)),
    out,
    h('h2', {}, 'Security events'),
    h('div', { class: 'scroll' }, h('table', { class: 'list' }, events)));
  const left = (s) => (s >= 3600 ? `${Math.round(s / 360) / 10} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`);
  async function load() {
    const [b, a, t, ev] = [await api('GET', '/bans'), await api('GET', '/admin/access'), await api('GET', '/trust'), await api('GET', '/events?limit=50')];
    bans.replaceChildren(...(b.status === 200 ? b.data : []).map((x) => h('tr', { dataset: { source: x.source } },
      h('td', {}, x.source), h('td', {}, x.reason), h('td', {}, left(x.time_left)),
      h('td', {}, h('button', { class: 'unban', onclick: async () => {
        const r = await api('DELETE', `/bans/${encodeURIComponent(x.source)}`);
        out.replaceChildren(r.status === 200 ? msg('ok', `Unbanned ${x.source}.`) : msg('error', r.data.error));
        load();
      } }, 'Unban')))));
    if (b.status === 200 && !b.data.length) bans.append(h('tr', {}, h('td', { colspan: 4 }, 'No address is banned.')));
    const bl = a.status === 200 && a.data.admin_scope ? a.data.admin_scope.blocked || [] : [];
    blocks.replaceChildren(...bl.map((x) => h('tr', {}, h('td', {}, x.source), h('td', {}, left(x.time_left_s)),
      h('td', {}, h('button', { onclick: async () => {
        const r = await api('DELETE', `/admin/access/blocks/${encodeURIComponent(x.source)}`);
        out.replaceChildren(r.status === 200 ? msg('ok', `Lifted the block of ${x.source}.`) : msg('error', r.data.error));
        load();
      } }, 'Lift')))));
    if (!bl.length) blocks.append(h('tr', {}, h('td', {}, 'No address is blocked.')));
    trusts.replaceChildren(...(t.status === 200 ? t.data : []).map((x) => h('tr', {}, h('td', {}, x.network), h('td', {}, x.expires_in ? left(x.expires_in) : 'permanent'), h('td', {}, x.source))));
    events.replaceChildren(...(ev.status === 200 ? ev.data : []).slice().reverse().map((x) => h('tr', {},
      h('td', {}, (x.ts || '').replace('T', ' ').replace(/\..*/, '')), h('td', {}, x.type), h('td', { class: 'wide' }, x.source || x.network || ''))));
  }
  await load();
}

// ---- Registrations ----
async function screenRegistrations() {
  const body = h('tbody', { id: 'reg-body' });
  await frame('Registrations',
    h('div', { class: 'scroll' }, h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Extension'), h('th', {}, 'Contact'), h('th', {}, 'Transport'), h('th', { class: 'wide' }, 'User agent'), h('th', {}, 'Expires'), h('th', {}, 'Reachable'))), body)),
    h('div', { class: 'actions' }, h('button', { onclick: () => route() }, 'Refresh')));
  const r = await api('GET', '/registrations');
  const rows = r.status === 200 ? r.data : [];
  body.replaceChildren(...rows.map((x) => h('tr', {}, h('td', {}, x.extension), h('td', {}, x.contact), h('td', {}, x.transport),
    h('td', { class: 'wide' }, x.user_agent || ''), h('td', {}, `${x.expires_in} s`), h('td', {}, x.reachable ? `yes${x.rtt_ms ? ` (${x.rtt_ms} ms)` : ''}` : 'no'))));
  if (!rows.length) body.append(h('tr', {}, h('td', { colspan: 6 }, r.status === 200 ? 'No phone is registered.' : r.data.error)));
}

// ---- User portal ----
async function screenPortal() {
  const r = await api('GET', '/me');
  if (r.status !== 200) { renderLogin(r.data.error); return; }
  const me = r.data;
  const box = h('div', { id: 'portal-out' });
  const ctls = me.fields.map((f) => fieldControl(f, f.kind === 'secret' ? '' : me.values[f.name]));
  const pin = ctls.find((c) => c.f.name === 'voicemail.pin');
  const others = ctls.filter((c) => c !== pin);
  const save = async (list, e) => {
    e.preventDefault();
    clearErrors(ctls, box);
    const body = {};
    list.filter((c) => c.dirty).forEach((c) => { body[c.f.name] = c.get(); });
    if (!Object.keys(body).length) { box.replaceChildren(msg('info', 'Nothing changed.')); return; }
    const p = await api('PATCH', '/me', body);
    if (p.status === 200) {
      box.replaceChildren(msg('ok', 'Saved. It takes effect when the administrator next commits.'));
      list.forEach((c) => { c.dirty = false; if (c === pin) c.set(''); });
    } else showFindings(ctls, box, p.data);
  };
  // voicemail: the browser's own player, fed by the API (media-src 'self')
  const vmList = h('div', { id: 'vm-list' });
  const loadVm = async () => {
    const v = await api('GET', '/me/voicemail');
    if (v.status !== 200) { vmList.replaceChildren(msg('error', v.data.error)); return; }
    if (!v.data.messages.length) { vmList.replaceChildren(h('p', { class: 'sub' }, 'No messages.')); return; }
    vmList.replaceChildren(...v.data.messages.map((m) => h('div', { class: 'vm', dataset: { id: m.id } },
      h('span', { class: 'vm-when' }, new Date(m.time * 1000).toLocaleString()),
      h('audio', { controls: true, preload: 'metadata', src: `${API}/me/voicemail/${encodeURIComponent(m.id)}` }),
      h('button', { class: 'vm-delete', onclick: async (e) => {
        if (e.target.dataset.sure !== '1') { e.target.dataset.sure = '1'; e.target.textContent = 'Really delete?'; return; }
        const r = await api('DELETE', `/me/voicemail/${encodeURIComponent(m.id)}`);
        box.replaceChildren(r.status === 200 ? msg('ok', 'Message deleted.') : msg('error', r.data.error));
        loadVm();
      } }, 'Delete'))));
  };
  show(
    h('nav', { class: 'top' }, h('span', { class: 'brand' }, 'Bulwark'), h('div', { class: 'links' }, h('span', {}, `Extension ${me.number}`)),
      h('button', { class: 'link', id: 'logout', onclick: logout }, 'Log out')),
    h('main', {}, h('h1', {}, `${me.name || ''} · ${me.number}`), box,
      h('section', { class: 'card', id: 'voicemail' }, h('h2', {}, 'Voicemail'), vmList),
      pin ? h('form', { class: 'card', id: 'pin-form', novalidate: true, onsubmit: (e) => save([pin], e) },
        h('h2', {}, 'Voicemail PIN'), pin.row, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'pin-save' }, 'Change PIN'))) : null,
      h('form', { class: 'card', id: 'forward-form', novalidate: true, onsubmit: (e) => save(others, e) },
        h('h2', {}, 'Forwarding and follow-me'), others.map((c) => c.row),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'forward-save' }, 'Save')))));
  await loadVm();
}

// ---- routing ----
const SCREENS = [
  [/^#\/extensions\/bulk$/, () => screenBulk()],
  [/^#\/extensions\/([^/?]+)$/, (m) => screenExtension(decodeURIComponent(m[1]))],
  [/^#\/extensions(\?.*)?$/, (m) => screenExtensions(new URLSearchParams((m[1] || '').slice(1)))],
  [/^#\/commit$/, () => screenCommit()],
  [/^#\/security$/, () => screenSecurity()],
  [/^#\/firewall\/wizard$/, () => screenWizard()],
  [/^#\/firewall$/, () => screenFirewall()],
  [/^#\/services$/, () => screenServices()],
  [/^#\/settings$/, () => screenSettings()],
  [/^#\/bans$/, () => screenBans()],
  [/^#\/registrations$/, () => screenRegistrations()],
];

async function route() {
  if (!state.session) {
    // a session this browser already holds (admin first, then portal)
    let r = await api('GET', '/session', undefined, { noRelogin: true });
    if (r.status === 200 && r.data.csrf) state.session = r.data;
    else {
      r = await api('GET', '/me/session', undefined, { noRelogin: true });
      if (r.status === 200) state.session = r.data;
    }
    if (!state.session) { renderLogin(); return; }
  }
  document.body.dataset.kind = state.session.kind;
  if (state.session.kind === 'user') { await screenPortal(); return; }
  const hash = location.hash || '#/extensions';
  for (const [re, fn] of SCREENS) {
    const m = hash.match(re);
    if (m) {
      try { await fn(m); } catch (e) { show(msg('error', `This screen failed: ${e.message}`)); }
      return;
    }
  }
  location.hash = '#/extensions';
}

window.addEventListener('hashchange', () => route());
route();
