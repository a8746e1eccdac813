// security — the SIP/IAX2, voicemail and web password policies, and
// every other settings section; both drawn from the server's key tables.
import { api, h, msg } from './lib.js';
import { frame } from './frame.js';
import { clearErrors, fieldControl, showFindings } from './forms.js';

// ---- Security: the SIP/IAX2 and voicemail policies ----
export async function screenSecurity() {
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

// ---- Settings: every section, drawn from /schema/sections ----
// The sections' own tables give each key's kind (and, where the section
// declares them, bounds and help); the server checks every value.
export async function screenSettings() {
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
