// lib — what every screen of the GUI uses: the page's state, the DOM
// helpers (h builds elements with text nodes only: no HTML from data),
// and api(), the one way to the REST API.

export const API = '/api/v1';
const app = document.getElementById('app');

// What a module cannot import without a cycle: app.js sets them.
export const hooks = {
  route: async () => {},       // draw the screen of location.hash
  relogin: (notice) => {},     // the login form, with a notice
};

// A screen that keeps something running (a timer) registers its stop
// here; the router calls them all before it draws the next screen.
const leaving = [];
export function onLeave(fn) { leaving.push(fn); }
export function leave() { while (leaving.length) leaving.pop()(); }

// ---- state ----
export const state = {
  session: null,    // {kind:"admin"|"user", csrf, number}
  schema: null,     // /schema/fields
};

// ---- DOM helpers ----
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

export function show(...nodes) {
  app.replaceChildren(...nodes);
}

export function msg(kind, text) {
  return h('div', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

// ---- the API ----
// Every state change carries the session's CSRF token; the header
// X-Bulwark-GUI tells the server to answer a missing session with a plain
// 401 (no browser password dialog).
export async function api(method, path, body, opts = {}) {
  const headers = { 'X-Bulwark-GUI': '1' };
  if (method !== 'GET' && state.session && state.session.csrf) headers['X-CSRF-Token'] = state.session.csrf;
  let payload;
  if (body !== undefined) {
    if (opts.csv) { headers['Content-Type'] = 'text/csv'; payload = body; }
    else if (opts.type) { headers['Content-Type'] = opts.type; payload = body; }   // a file as it is (audio/wav)
    else { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  }
  let res;
  try {
    res = await fetch(API + path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    return { status: 0, data: { error: `The server did not answer (${e.message}).`, errors: [] } };
  }
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : {}; } catch { data = { raw: text }; }
  if (res.status === 401 && !opts.noRelogin && state.session) {
    state.session = null;
    hooks.relogin(data && data.error ? data.error : 'The session has ended: log in again.');
  }
  return { status: res.status, data };
}
