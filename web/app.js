// Bulwark web GUI: the administrator's screens and the user portal, one
// page drawn from the REST API under /api/v1/. Plain JavaScript modules, no
// libraries, nothing built. Every form is drawn from what the API serves
// (the field table at /schema/fields, the policy keys): no field rule is
// written here; a refused value shows the server's own message and rule
// next to the field. DOM nodes are built with textContent only (no HTML
// from data), and the page runs under a Content-Security-Policy without
// inline script.
//
// This file is the router; each screen is a module of its own (lib.js:
// the DOM helpers and api(); frame.js: login and the admin frame;
// forms.js: controls from the server's tables), loaded when first shown.
// Why not all at once: a browser fetches a module graph in parallel, and
// the admin port admits only a few connections per address that has not
// logged in (src/api/gate.h) — more are refused, and the page breaks.
import { hooks, leave, msg, show, state, api } from './lib.js';
import { renderLogin } from './frame.js';

// ---- routing ----
// [hash pattern, module, its screen function, arguments from the match]
const SCREENS = [
  [/^#\/extensions\/bulk$/, 'extensions', 'screenBulk', () => []],
  [/^#\/extensions\/([^/?]+)$/, 'extensions', 'screenExtension', (m) => [decodeURIComponent(m[1])]],
  [/^#\/extensions(\?.*)?$/, 'extensions', 'screenExtensions', (m) => [new URLSearchParams((m[1] || '').slice(1))]],
  [/^#\/commit$/, 'commit', 'screenCommit', () => []],
  [/^#\/security$/, 'security', 'screenSecurity', () => []],
  [/^#\/firewall\/wizard$/, 'firewall', 'screenWizard', () => []],
  [/^#\/firewall$/, 'firewall', 'screenFirewall', () => []],
  [/^#\/services$/, 'services', 'screenServices', () => []],
  [/^#\/settings$/, 'security', 'screenSettings', () => []],
  [/^#\/bans$/, 'bans', 'screenBans', () => []],
  [/^#\/registrations$/, 'registrations', 'screenRegistrations', () => []],
  [/^#\/calls(\?.*)?$/, 'calls', 'screenCalls', (m) => [new URLSearchParams((m[1] || '').slice(1))]],
];

// The module of a screen (the browser keeps it once loaded).
async function screen(name, fn, args) {
  const mod = await import(`./${name}.js`);
  return mod[fn](...args);
}

async function route() {
  leave();
  if (!state.session) {
    // a session this browser already holds (admin first, then portal)
    let r = await api('GET', '/session', undefined, { noRelogin: true });
    if (r.status === 200 && r.data.csrf) state.session = r.data;
    else {
      r = await api('GET', '/me/session', undefined, { noRelogin: true });
      if (r.status === 200) state.session = r.data;
    }
    if (!state.session) { renderLogin(); return; }
  }
  document.body.dataset.kind = state.session.kind;
  if (state.session.kind === 'user') {
    await screen('portal', 'screenPortal', []);
    return;
  }
  const hash = location.hash || '#/extensions';
  for (const [re, name, fn, args] of SCREENS) {
    const m = hash.match(re);
    if (m) {
      try { await screen(name, fn, args(m)); } catch (e) { show(msg('error', `This screen failed: ${e.message}`)); }
      return;
    }
  }
  location.hash = '#/extensions';
}

hooks.route = route;
hooks.relogin = renderLogin;
window.addEventListener('hashchange', () => route());
route();
