// firewall — General (the rollback countdown and Confirm) and the
// Configuration Wizard.
import { api, h, msg, onLeave } from './lib.js';
import { clearErrors, fieldControl, showFindings } from './forms.js';
import { frame } from './frame.js';

// ---- Firewall: General and the Configuration Wizard ----

// The rollback's control, drawn from the firewall section's
// rollback_seconds key (its help and bounds as the server serves them);
// named "rollback" as the apply routes name it in their findings.
async function rollbackControl(value) {
  const r = await api('GET', '/schema/sections');
  const sec = r.status === 200 ? r.data.sections.find((x) => x.name === 'firewall') : null;
  const k = (sec ? sec.keys : []).find((x) => x.key === 'rollback_seconds') || {};
  return fieldControl({
    name: 'rollback', label: 'Roll back unless confirmed within (seconds)', help: k.help || '',
    kind: 'int', min: k.min, max: k.max,
  }, value);
}

// The field's text as JSON: a whole number as a number, empty as null
// (the configured rollback_seconds), anything else as it is (the server
// refuses it, naming the rule).
function asNumber(text) {
  if (text === '') return null;
  return Number.isInteger(Number(text)) ? Number(text) : text;
}

// A refused apply: findings under the rollback field, the rest in box.
function refused(ctl, box, data) {
  clearErrors([ctl], box);
  showFindings([ctl], box, data);
}

export async function screenFirewall() {
  const r = await api('GET', '/firewall');
  if (r.status !== 200) { await frame('Firewall', msg('error', r.data.error)); return; }
  const fw = r.data;
  const out = h('div', { id: 'fw-out', 'aria-live': 'polite' });
  const countdown = h('div', { id: 'fw-countdown', 'aria-live': 'polite' });
  const active = h('dd', { id: 'fw-active' });
  const confirmed = h('dd', { id: 'fw-confirmed' });
  const showState = (s) => {
    active.textContent = s.active ? 'yes' : 'no';
    confirmed.textContent = s.confirmed ? 'yes' : 'no';
  };
  showState(fw);
  const rb = await rollbackControl(fw.rollback_seconds);
  const general = h('section', { class: 'card' },
    h('h2', {}, 'General'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Server type (running)'), h('dd', { id: 'fw-type' }, fw.type),
      h('dt', {}, 'Server type (staged)'), h('dd', { id: 'fw-staged-type' }, fw.staged_type),
      h('dt', {}, 'Rules installed'), active,
      h('dt', {}, 'Rules confirmed (installed at start)'), confirmed),
    h('h3', {}, 'Interfaces'),
    h('div', { class: 'scroll' }, h('table', { class: 'list' }, h('tbody', {}, fw.interfaces.map((i) =>
      h('tr', {}, h('td', {}, i.name), h('td', {}, i.role), h('td', { class: 'wide' }, i.addresses.join(' '))))))),
    h('h3', {}, 'Inbound services (permit)'),
    h('div', { class: 'scroll' }, h('table', { class: 'list' }, h('tbody', {}, Object.entries(fw.permit).map(([k, v]) =>
      h('tr', {}, h('td', {}, k), h('td', {}, v)))))),
    h('h3', {}, 'Apply (commit confirmed)'),
    h('p', { class: 'sub' }, 'The committed rules are installed at once; unless you confirm before the countdown ends, the previous rules come back by themselves.'),
    rb.row,
    h('div', { class: 'actions' },
      h('button', { class: 'primary', id: 'fw-wizard', onclick: () => { location.hash = '#/firewall/wizard'; } }, 'Configuration Wizard'),
      h('button', { id: 'fw-apply', onclick: async () => {
        clearErrors([rb], out);
        const a = await api('POST', '/firewall/apply', { rollback: asNumber(rb.get()) });
        if (a.status !== 200) { refused(rb, out, a.data); return; }
        out.replaceChildren(msg('ok', 'Applied: confirm before the countdown ends or the previous rules come back.'));
        epoch++;
        tick();
      } }, 'Apply the committed rules (rollback unless confirmed)')),
    out);

  // The countdown from the server's status, once a second while an apply
  // waits; when it ends without a Confirm, the page says it rolled back.
  // Confirm, Roll back now and Apply start a new epoch: an answer to a
  // status request sent before them is dropped, not drawn.
  let timer = null;
  let waiting = false;
  let epoch = 0;
  onLeave(() => { clearTimeout(timer); timer = null; epoch++; });
  const settle = async (path, said) => {
    clearTimeout(timer);
    epoch++;
    waiting = false;
    const c = await api('POST', path);
    countdown.replaceChildren(c.status === 200 ? msg('ok', said) : msg('error', c.data.error));
    const st = await api('GET', '/firewall');
    if (st.status === 200) showState(st.data);
  };
  async function tick() {
    clearTimeout(timer);
    const mine = epoch;
    const s = await api('GET', '/firewall');
    if (mine !== epoch) return;
    if (s.status !== 200) { countdown.replaceChildren(msg('error', s.data.error)); return; }
    showState(s.data);
    if (!s.data.pending) {
      if (waiting) countdown.replaceChildren(msg('warn', 'Not confirmed in time: the previous rules are back.'));
      waiting = false;
      return;
    }
    waiting = true;
    countdown.replaceChildren(
      msg('warn', h('span', {}, 'Rolling back in ', h('b', { id: 'fw-rollback-in' }, String(s.data.rollback_in)), ' s unless confirmed.')),
      h('div', { class: 'actions' },
        h('button', { class: 'primary', id: 'fw-confirm', onclick: () => settle('/firewall/confirm', 'Confirmed: the new rules stay.') }, 'Confirm'),
        h('button', { id: 'fw-rollback', onclick: () => settle('/firewall/rollback', 'Rolled back: the previous rules are back.') }, 'Roll back now')));
    if (countdown.isConnected) timer = setTimeout(tick, 1000);
  }
  // the countdown first: above everything while an apply waits
  await frame('Firewall', countdown, general);
  if (fw.pending) tick();
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
      const rb = await rollbackControl(s.rollback_seconds);
      body.replaceChildren(head,
        s.ok === false ? msg('error', 'The staged firewall is refused:') : msg('ok', `Server type: ${s.type}. These rules will be installed:`),
        ...(s.errors || []).map((e) => h('div', { class: 'loose' }, `${e.message} (rule ${e.rule})`)),
        h('pre', { class: 'ruleset', id: 'wiz-ruleset' }, s.ruleset || ''),
        rb.row,
        h('div', { class: 'actions' },
          h('button', { onclick: () => step('services') }, 'Back'),
          h('a', { class: 'button', href: '#/firewall', id: 'wiz-done' }, 'Finish (staged; commit and apply later)'),
          h('button', { class: 'primary', id: 'wiz-apply', disabled: s.ok === false, onclick: async () => {
            // commit + apply: the countdown and Confirm are on General
            clearErrors([rb], out);
                const r = await api('POST', '/firewall/wizard/apply', { rollback: asNumber(rb.get()) });
            if (r.status !== 200) { refused(rb, out, r.data); return; }
            location.hash = '#/firewall';
          } }, 'Commit and apply now (rollback unless confirmed)')));
    }
  }
  await step('type');
}
