// firewall — General (the rollback countdown and Confirm) and the
// Configuration Wizard.
import { api, h, msg } from './lib.js';
import { frame } from './frame.js';

// ---- Firewall: General and the Configuration Wizard ----
export async function screenFirewall() {
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

export async function screenWizard() {
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
