// calls — the calls in progress (redrawn every 2 s while the screen is
// shown), the media relay's ports and the call counters, and the call
// records (CDRs) below. Read only: GET /calls, /sip/status, /cdr.
import { api, h, msg, onLeave } from './lib.js';
import { frame } from './frame.js';

const REFRESH_MS = 2000;
const CDR_LIMIT = 100;

// whole seconds as 0:07, 3:12, 1:02:03
function duration(s) {
  const t = Math.max(0, Math.floor(Number(s) || 0));
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

// an ISO 8601 UTC time as the CLI prints it: 2026-12-05 14:03:07Z
function utc(iso) {
  return iso ? String(iso).replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–';
}

// a per-direction counter {caller, callee}: from the caller / from the callee
function ways(o) {
  return `${(o && o.caller) || 0} / ${(o && o.callee) || 0}`;
}

function dash(v) {
  return v === undefined || v === null || v === '' ? '–' : String(v);
}

// one cell; data-col names the column for the tests and the style sheet
function cell(col, text, cls) {
  return h('td', { dataset: { col }, class: cls }, text);
}

// packets from a wrong source (injection attempts) stand out
function dropped(o) {
  const any = o && ((o.caller || 0) + (o.callee || 0)) > 0;
  return cell('dropped', ways(o), any ? 'warn-text' : undefined);
}

function head(...cols) {
  return h('thead', {}, h('tr', {}, cols.map(([label, cls]) => h('th', { class: cls }, label))));
}

function liveRow(c) {
  return h('tr', { dataset: { id: c.id } },
    cell('caller', dash(c.caller)),
    cell('callee', c.callee ? c.callee : `– (dialled ${dash(c.dialled)})`),
    cell('state', dash(c.state)),
    cell('duration', c.answer ? duration(c.duration_s) : '–'),
    cell('codec', dash(c.codec)),
    cell('held', c.held ? 'yes' : 'no'),
    cell('packets', ways(c.packets)),
    dropped(c.dropped));
}

function recordRow(r) {
  const callee = r.callee
    ? (r.dialled && r.dialled !== r.callee ? `${r.callee} (dialled ${r.dialled})` : r.callee)
    : `– (dialled ${dash(r.dialled)})`;
  return h('tr', { dataset: { id: r.id } },
    cell('start', utc(r.start)),
    cell('caller', dash(r.caller)),
    cell('callee', callee),
    cell('disposition', `${dash(r.disposition)} (${dash(r.cause)})`),
    cell('duration', duration(r.duration_s)),
    cell('hangup', `${dash(r.hangup_side)}: ${dash(r.reason)}`, 'wide'),
    cell('codec', dash(r.codec)),
    cell('packets', ways(r.packets)),
    cell('lost', ways(r.lost), 'wide'),
    dropped(r.dropped));
}

function statsList(s) {
  const relay = s.relay || {};
  const kv = [
    ['Relay ports', `${dash(relay.ports_free)} free of ${dash(relay.ports_total)}`, 'ports'],
    ['Calls now', s.active, 'active'],
    ['Calls since the start', s.total, 'total'],
    ['Answered', s.answered, 'answered'],
    ['Failed', s.failed, 'failed'],
    ['Refused at a call limit', s.refused_limit, 'refused-limit'],
    ['Ended by an RTP timeout', s.rtp_timeouts, 'rtp-timeouts'],
    ['Packets relayed', relay.packets_total, 'packets'],
    ['Packets dropped (wrong source)', relay.dropped_source_total, 'dropped'],
  ];
  return kv.map(([k, v, id]) => h('div', {}, h('dt', {}, k), h('dd', { id: `calls-stat-${id}` }, dash(v))));
}

export async function screenCalls(params) {
  const since = params.get('since') || '';
  const live = h('tbody', { id: 'calls-body' });
  const stats = h('dl', { class: 'stats', id: 'calls-stats' });
  const records = h('tbody', { id: 'cdr-body' });
  const sinceIn = h('input', { id: 'cdr-since', type: 'date', value: since });
  const cdrOut = h('div', { id: 'cdr-out' });
  const filter = (e) => {
    e.preventDefault();
    const next = sinceIn.value ? `#/calls?since=${encodeURIComponent(sinceIn.value)}` : '#/calls';
    if (location.hash === next) loadRecords(true);
    else location.hash = next;
  };
  await frame('Calls',
    h('p', { class: 'sub' }, `The calls in progress, redrawn every ${REFRESH_MS / 1000} s while this screen is shown; packets count what each phone sent the relay (from the caller / from the callee).`),
    h('h2', {}, 'Live calls'),
    h('div', { class: 'scroll' }, h('table', { class: 'list', id: 'calls-table' },
      head(['Caller'], ['Callee'], ['State'], ['Duration'], ['Codec'], ['Held'], ['Packets'], ['Dropped']), live)),
    h('h2', {}, 'Media relay and call counters'),
    stats,
    h('h2', {}, 'Call records'),
    h('form', { class: 'inline-form', id: 'cdr-filter', novalidate: true, onsubmit: filter },
      h('label', { for: 'cdr-since' }, 'Ended on or after (UTC)'), sinceIn,
      h('button', { type: 'submit', id: 'cdr-show' }, 'Show'),
      since ? h('a', { class: 'button', href: '#/calls', id: 'cdr-all' }, 'All') : null),
    h('p', { class: 'sub' }, `The latest ${CDR_LIMIT}, newest first. Dropped: packets from an address that is not the phone's (an injection attempt).`),
    cdrOut,
    h('div', { class: 'scroll' }, h('table', { class: 'list', id: 'cdr-table' },
      head(['Start (UTC)'], ['Caller'], ['Callee'], ['Disposition'], ['Duration'], ['Hang-up', 'wide'], ['Codec'], ['Packets'], ['Lost', 'wide'], ['Dropped']), records)));

  async function loadLive() {
    const r = await api('GET', '/calls');
    if (r.status !== 200) {
      live.replaceChildren(h('tr', {}, h('td', { colspan: 8 }, r.data.error || `HTTP ${r.status}`)));
      return;
    }
    live.replaceChildren(...r.data.map(liveRow));
    if (!r.data.length) live.append(h('tr', { class: 'empty' }, h('td', { colspan: 8 }, 'No call in progress.')));
  }

  async function loadStats() {
    const r = await api('GET', '/sip/status');
    const s = r.status === 200 && r.data.calls;
    if (!s) {
      stats.replaceChildren(h('div', {}, h('dt', {}, 'Call service'), h('dd', {}, r.status === 200 ? 'not running' : (r.data.error || `HTTP ${r.status}`))));
      return;
    }
    stats.replaceChildren(...statsList(s));
  }

  // redrawn only when a record came or went (a selection survives)
  let shown = null;
  async function loadRecords(force) {
    const q = `limit=${CDR_LIMIT}${since ? `&since=${encodeURIComponent(since)}` : ''}`;
    const r = await api('GET', `/cdr?${q}`);
    if (r.status !== 200) {
      cdrOut.replaceChildren(msg('error', r.data.error || `HTTP ${r.status}`));
      records.replaceChildren();
      shown = null;
      return;
    }
    const key = JSON.stringify(r.data);
    if (key === shown && !force) return;
    shown = key;
    cdrOut.replaceChildren();
    records.replaceChildren(...r.data.map(recordRow));
    if (!r.data.length) {
      records.append(h('tr', { class: 'empty' }, h('td', { colspan: 10 },
        since ? `No call ended on or after ${since} (UTC).` : 'No call record yet.')));
    }
  }

  // one request after the other, the next round REFRESH_MS after the
  // last answer; stopped when another screen is drawn
  let timer = null;
  let stopped = false;
  onLeave(() => { stopped = true; clearTimeout(timer); });
  async function tick() {
    if (stopped || !live.isConnected) return;
    if (!document.hidden) {
      await loadLive();
      await loadStats();
      await loadRecords(false);
    }
    if (!stopped && live.isConnected) timer = setTimeout(tick, REFRESH_MS);
  }
  await tick();
}
