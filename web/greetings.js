// greetings — the card of an extension's recordings: the name and the
// unavailable, busy and temporary greetings that callers hear. The
// portal's shows the owner's own (GET/PUT/DELETE /me/greetings/:which);
// the administrator's, on an extension's Voicemail tab, any extension's
// (/ext/:number/greetings/:which). Each is played by the
// browser's own player, deleted (asks twice) or replaced by a WAV file;
// the server checks the file (8 kHz 16-bit mono PCM, 0.1–120 s, 2 MiB)
// and its refusal is shown under that greeting's file field, as it words
// it. Nothing is checked here.
import { API, api, h, msg } from './lib.js';

const LABELS = {
  name: ['Recorded name', 'said in the system\'s greeting when no other is recorded'],
  unavail: ['Unavailable', 'when the call is not answered or no phone is registered'],
  busy: ['Busy', 'when the extension is on the phone'],
  temp: ['Temporary', 'while it exists, callers hear it instead of the others'],
  ivr: ['Personal IVR menu', 'what callers hear when the personal IVR answers (keys 1, 2, 3)'],
};

const seconds = (bytes) => `${Math.max(0, (bytes - 44) / 16000).toFixed(1)} s`;

// base: the API path of the greetings (/me/greetings or
// /ext/NUMBER/greetings); out: where a success is said.
export function greetingsCard(out, base = '/me/greetings') {
  const list = h('div', { id: 'greeting-list' });
  const load = async () => {
    const r = await api('GET', base);
    if (r.status !== 200) { list.replaceChildren(msg('error', r.data.error)); return; }
    list.replaceChildren(...r.data.greetings.map((g) => row(g, base, out, load)));
  };
  const card = h('section', { class: 'card', id: 'greetings' }, h('h2', {}, 'Greetings'),
    h('p', { class: 'sub' }, 'Upload a WAV file: 8 kHz, 16-bit, mono PCM, up to 2 minutes. They can also be recorded by phone (*97, option 0).'),
    list);
  return { card, load };
}

function row(g, base, out, reload) {
  const [label, when] = LABELS[g.which] || [g.which, ''];
  const id = `greet-${g.which}`;
  const file = h('input', { type: 'file', id: `${id}-file`, accept: 'audio/wav,.wav', 'aria-describedby': `${id}-error` });
  const error = h('div', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  const upload = async (e) => {
    e.preventDefault();
    error.textContent = '';
    const f = file.files[0];
    if (!f) { error.textContent = 'Choose a WAV file first.'; return; }
    const r = await api('PUT', `${base}/${g.which}`, f, { type: 'audio/wav' });
    if (r.status === 200) {
      out.replaceChildren(msg('ok', `${label}: uploaded (${(r.data.duration_ms / 1000).toFixed(1)} s). Callers hear it from the next call.`));
      reload();
    } else {
      error.textContent = r.data.error || `Refused (HTTP ${r.status}).`;
    }
  };
  const del = async (e) => {
    if (e.target.dataset.sure !== '1') { e.target.dataset.sure = '1'; e.target.textContent = 'Really delete?'; return; }
    const r = await api('DELETE', `${base}/${g.which}`);
    out.replaceChildren(r.status === 200 ? msg('ok', `${label}: deleted.`) : msg('error', r.data.error));
    reload();
  };
  return h('form', { class: 'greeting', dataset: { which: g.which, exists: g.exists ? '1' : '0' }, novalidate: true, onsubmit: upload },
    h('div', { class: 'greeting-head' }, h('strong', {}, label), h('span', { class: 'sub' }, ` — ${when}`)),
    g.exists
      ? h('div', { class: 'vm' },
        h('span', { class: 'vm-when' }, `Recorded ${new Date(g.time_ms).toLocaleString()} · ${seconds(g.bytes)}`),
        // the time in the address: a new upload is not the cached one
        h('audio', { controls: true, preload: 'metadata', src: `${API}${base}/${g.which}?v=${g.time_ms}` }),
        h('button', { type: 'button', class: 'greet-delete', onclick: del }, 'Delete'))
      : h('p', { class: 'sub greet-none' }, 'Not recorded.'),
    h('div', { class: 'greet-upload' }, h('label', { for: `${id}-file` }, g.exists ? 'Replace with' : 'Upload'), file,
      h('button', { type: 'submit', id: `${id}-upload` }, 'Upload')),
    error);
}
