// extensions — the list (search, paging, CSV import and export), Add a
// New Phone / edit with every tab, and Add Multiple Extensions.
import { API, api, h, msg } from './lib.js';
import { frame } from './frame.js';
import { TAB_LABELS, clearErrors, fieldControl, schema, showFindings } from './forms.js';
import { greetingsCard } from './greetings.js';

// ---- Extensions: list ----
const PAGE = 50;
export async function screenExtensions(params) {
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
export async function screenExtension(number) {
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

  // an existing extension's recorded greetings, shown with its Voicemail
  // tab (a card of its own below the form: its uploads are forms too)
  const greetOut = h('div', { id: 'greet-out', 'aria-live': 'polite' });
  const greetings = editing ? greetingsCard(greetOut, `/ext/${encodeURIComponent(number)}/greetings`) : null;

  function selectTab(name) {
    activeTab = name;
    for (const b of tabsNav.children) b.setAttribute('aria-selected', String(b.dataset.tab === name));
    for (const p of panels.children) p.hidden = p.dataset.tab !== name;
    if (greetings) greetings.card.hidden = name !== 'voicemail';
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
  if (greetings) greetings.card.append(greetOut);
  await frame(editing ? `Extension ${number}` : 'Add a New Phone', form, greetings ? greetings.card : null);
  if (greetings) await greetings.load();
}

// ---- Add Multiple Extensions ----
export async function screenBulk() {
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
