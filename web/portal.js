// portal — an extension owner's own page: voicemail, greetings, PIN,
// forwarding.
import { API, api, h, msg, show } from './lib.js';
import { logout, renderLogin } from './frame.js';
import { clearErrors, fieldControl, showFindings } from './forms.js';
import { greetingsCard } from './greetings.js';

// ---- User portal ----
export async function screenPortal() {
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
      box.replaceChildren(msg('ok', p.data.staged
        ? 'Saved. It takes effect when the administrator next commits.'
        : 'Saved. Your new PIN works now.'));
      list.forEach((c) => { c.dirty = false; if (c === pin) c.set(''); });
    } else showFindings(ctls, box, p.data);
  };
  const greetings = greetingsCard(box);
  // voicemail: the browser's own player, fed by the API (media-src 'self')
  const vmList = h('div', { id: 'vm-list' });
  const loadVm = async () => {
    const v = await api('GET', '/me/voicemail');
    if (v.status !== 200) { vmList.replaceChildren(msg('error', v.data.error)); return; }
    if (!v.data.messages.length) { vmList.replaceChildren(h('p', { class: 'sub' }, 'No messages.')); return; }
    vmList.replaceChildren(...v.data.messages.map((m) => h('div', { class: 'vm', dataset: { id: m.id, folder: m.folder } },
      h('span', { class: 'vm-when' }, new Date(m.time_ms).toLocaleString()),
      h('span', { class: 'vm-from' }, `${m.folder === 'new' ? 'New · ' : ''}from ${m.caller_name ? `${m.caller_name} ` : ''}${m.caller || 'unknown'} · ${(m.duration_ms / 1000).toFixed(1)} s`),
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
      h('section', { class: 'card', id: 'voicemail' }, h('h2', {}, 'Voicemail'), vmList,
        h('div', { class: 'actions' }, h('button', { type: 'button', id: 'vm-refresh', onclick: () => loadVm() }, 'Check for new messages'))),
      greetings.card,
      pin ? h('form', { class: 'card', id: 'pin-form', novalidate: true, onsubmit: (e) => save([pin], e) },
        h('h2', {}, 'Voicemail PIN'), pin.row, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'pin-save' }, 'Change PIN'))) : null,
      h('form', { class: 'card', id: 'forward-form', novalidate: true, onsubmit: (e) => save(others, e) },
        h('h2', {}, 'Forwarding and follow-me'), others.map((c) => c.row),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'forward-save' }, 'Save')))));
  await Promise.all([loadVm(), greetings.load()]);
}
