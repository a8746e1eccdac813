// bans — SIP bans, admin-port blocks, trusted networks, security events.
import { api, h, msg } from './lib.js';
import { frame } from './frame.js';

// ---- Bans and security events ----
export async function screenBans() {
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
