// registrations — the phones registered now.
import { api, h, hooks } from './lib.js';
import { frame } from './frame.js';

// ---- Registrations ----
export async function screenRegistrations() {
  const body = h('tbody', { id: 'reg-body' });
  await frame('Registrations',
    h('div', { class: 'scroll' }, h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Extension'), h('th', {}, 'Contact'), h('th', {}, 'Transport'), h('th', { class: 'wide' }, 'User agent'), h('th', {}, 'Expires'), h('th', {}, 'Reachable'))), body)),
    h('div', { class: 'actions' }, h('button', { onclick: () => hooks.route() }, 'Refresh')));
  const r = await api('GET', '/registrations');
  const rows = r.status === 200 ? r.data : [];
  body.replaceChildren(...rows.map((x) => h('tr', {}, h('td', {}, x.extension), h('td', {}, x.contact), h('td', {}, x.transport),
    h('td', { class: 'wide' }, x.user_agent || ''), h('td', {}, `${x.expires_in} s`), h('td', {}, x.reachable ? `yes${x.rtt_ms ? ` (${x.rtt_ms} ms)` : ''}` : 'no'))));
  if (!rows.length) body.append(h('tr', {}, h('td', { colspan: 6 }, r.status === 200 ? 'No phone is registered.' : r.data.error)));
}
