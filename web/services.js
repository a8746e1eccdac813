// services — the network services manager.
import { api, h, msg } from './lib.js';
import { frame } from './frame.js';

// ---- Network Services: start at boot, running state, restart required ----
export async function screenServices() {
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
