// frame — the login form, log out, and the administrator's frame (the
// navigation bar and the screen's title) every admin screen is drawn in.
import { api, h, hooks, msg, show, state } from './lib.js';

// ---- login ----
export function renderLogin(notice) {
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const out = h('div', { class: 'login-out' }, notice ? msg('info', notice) : null);
  const form = h('form', { class: 'card login', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren(msg('info', 'Checking…'));
    const r = await api('POST', '/session', { user: user.value, password: pass.value }, { noRelogin: true });
    pass.value = '';
    if (r.status === 200) {
      state.session = r.data;
      location.hash = r.data.kind === 'admin' ? '#/extensions' : '#/portal';
      hooks.route();
      return;
    }
    out.replaceChildren(msg('error', r.data.error || `Refused (HTTP ${r.status}).`));
  } },
  h('h1', {}, 'Bulwark'),
  h('p', { class: 'sub' }, 'Administrator: user admin. Extension owners: your web username.'),
  h('label', { for: 'login-user' }, 'User name'), user,
  h('label', { for: 'login-password' }, 'Password'), pass,
  h('button', { type: 'submit', id: 'login-submit' }, 'Log in'),
  out);
  show(h('main', { class: 'center' }, form));
  user.focus();
}

export async function logout() {
  const path = state.session && state.session.kind === 'user' ? '/me/session' : '/session';
  await api('DELETE', path);
  state.session = null;
  location.hash = '#/login';
  renderLogin('Logged out.');
}

// ---- admin frame ----
const NAV = [
  ['#/extensions', 'Extensions'],
  ['#/commit', 'Commit'],
  ['#/security', 'Security'],
  ['#/firewall', 'Firewall'],
  ['#/services', 'Services'],
  ['#/settings', 'Settings'],
  ['#/bans', 'Bans'],
  ['#/registrations', 'Registrations'],
  ['#/calls', 'Calls'],
];

export async function frame(title, ...content) {
  const cur = location.hash.split('/').slice(0, 2).join('/');
  const pending = h('span', { class: 'badge', id: 'pending-count' });
  const nav = h('nav', { class: 'top' },
    h('span', { class: 'brand' }, 'Bulwark'),
    h('div', { class: 'links' }, NAV.map(([href, label]) =>
      h('a', { href, class: href === cur ? 'on' : '' }, label, href === '#/commit' ? pending : null))),
    h('button', { class: 'link', id: 'logout', onclick: logout }, 'Log out'));
  show(nav, h('main', {}, h('h1', {}, title), ...content));
  const s = await api('GET', '/status');
  if (s.status === 200 && s.data.pending) pending.textContent = String(s.data.pending);
}
