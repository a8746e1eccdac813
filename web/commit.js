// commit — the pending changes as a diff; dry run, commit, discard.
import { api, h, msg } from './lib.js';
import { frame } from './frame.js';
import { valueText } from './forms.js';

// ---- Commit ----
function masked(v) { return valueText(v); }

export async function screenCommit() {
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
