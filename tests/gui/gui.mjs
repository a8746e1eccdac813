// Browser tests of the web GUI: Debian's Chromium (/usr/bin/chromium)
// driven by playwright-core, against a real bulwarkd that test_gui.py
// started and seeded. Each scenario runs in a fresh browser context (its
// own cookies); screenshots of the main screens go to BULWARK_SHOTS.
//
// Environment: BULWARK_URL (http://127.0.0.1:PORT), BULWARK_ADMIN_PASSWORD,
// BULWARK_PORTAL_USER / BULWARK_PORTAL_PASSWORD (extension 301's web
// login), BULWARK_SHOTS (directory), CHROMIUM (default /usr/bin/chromium);
// for the Calls screen's one real call (SIPp, tests/gui/sipp/):
// BULWARK_SIP (the daemon's SIP address), BULWARK_CALLER /
// BULWARK_CALLEE and their _PASSWORD, BULWARK_SIPP_PORTS (four free UDP
// ports: caller SIP, caller media, callee SIP, callee media).
// The portal's voicemail: BULWARK_PYTHON runs vm_deposit.py, the caller
// (BULWARK_CALLER) leaving a message for 301 through BULWARK_SIP.
// Prints one line per scenario and a closing line; exit 1 if any failed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_PW, DESKTOP, PHONE, adminPage, inPage, login, noOverflow, open, run, shot, shotOf, test } from './harness.mjs';

const PORTAL_USER = process.env.BULWARK_PORTAL_USER;
const PORTAL_PW = process.env.BULWARK_PORTAL_PASSWORD;

// SIPp with a deadline: {proc, done: Promise<{code, out}>}; the output's
// tail is kept for the failure message. Killed by its pid at the deadline.
const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), 'sipp');
function sipp(args, seconds) {
  const proc = spawn('sipp', [...args, '-nostdin', '-timeout', `${seconds}s`, '-timeout_error'],
    { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b) => { out = (out + b).slice(-3000); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const timer = setTimeout(() => proc.kill('SIGKILL'), (seconds + 3) * 1000);
  const done = new Promise((resolve) => proc.on('close', (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, out });
  }));
  return { proc, done };
}

// One real call through the daemon: the callee registers from the port
// its answering SIPp then listens on; the caller calls it and hangs up
// (BYE) after holdMs of audio both ways. {caller, callee, stop()}.
async function placeCall(holdMs) {
  const SIP = process.env.BULWARK_SIP;
  const [cSip, cMedia, eSip, eMedia] = process.env.BULWARK_SIPP_PORTS.split(',');
  const { CALLER, CALLER_PASSWORD, CALLEE, CALLEE_PASSWORD } = Object.fromEntries(
    ['CALLER', 'CALLER_PASSWORD', 'CALLEE', 'CALLEE_PASSWORD'].map((k) => [k, process.env[`BULWARK_${k}`]]));
  const reg = await sipp([SIP, '-sf', join(SIPP_DIR, 'register.xml'), '-au', CALLEE, '-ap', CALLEE_PASSWORD,
    '-key', 'user', CALLEE, '-i', '127.0.0.1', '-p', eSip, '-m', '1'], 10).done;
  assert.equal(reg.code, 0, `the callee's REGISTER: ${reg.out}`);
  const callee = sipp(['-sf', join(SIPP_DIR, 'answer.xml'), '-i', '127.0.0.1', '-p', eSip,
    '-mi', '127.0.0.1', '-mp', eMedia, '-m', '1'], 25);
  await new Promise((r) => setTimeout(r, 300));
  const caller = sipp([SIP, '-sf', join(SIPP_DIR, 'call.xml'), '-s', CALLEE, '-au', CALLER, '-ap', CALLER_PASSWORD,
    '-key', 'caller', CALLER, '-d', String(holdMs), '-i', '127.0.0.1', '-p', cSip,
    '-mi', '127.0.0.1', '-mp', cMedia, '-m', '1'], 20);
  const stop = () => [caller, callee].forEach((x) => { if (x.proc.exitCode === null && x.proc.signalCode === null) x.proc.kill('SIGKILL'); });
  return { caller, callee, stop };
}

// A voicemail left through the daemon by a scripted caller
// (vm_deposit.py: SIP with digest, RTP, RFC 4733 digits): the caller
// listens to the greeting (it must hear greetingHz), skips it with 1,
// leaves 2.5 s of a 1400 Hz tone, ends with #. Its JSON report.
function deposit(mailbox, greetingHz) {
  const py = process.env.BULWARK_PYTHON || 'python3';
  const args = [join(dirname(fileURLToPath(import.meta.url)), 'vm_deposit.py'), process.env.BULWARK_SIP,
    process.env.BULWARK_CALLER, process.env.BULWARK_CALLER_PASSWORD, mailbox, '--greeting-hz', String(greetingHz)];
  return new Promise((resolve) => {
    const proc = spawn(py, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (b) => { out += b; });
    proc.stderr.on('data', (b) => { out += b; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 40000);
    proc.on('close', (code) => {
      clearTimeout(timer);
      let report = null;
      try { report = JSON.parse(out.trim().split('\n').pop()); } catch { report = null; }
      resolve({ code, out, report });
    });
  });
}

// A WAV file made here: secs of a hz sine, 16-bit mono PCM at rate.
function wavTone(rate, secs, hz) {
  const n = Math.round(rate * secs);
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + 2 * n, 4); b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * hz * i / rate)), 44 + 2 * i);
  return b;
}

// the cells of a table row, by their data-col
function rowCells(page, sel) {
  return page.$eval(sel, (tr) => Object.fromEntries([...tr.querySelectorAll('td[data-col]')].map((td) => [td.dataset.col, td.textContent])));
}
const ways = (text) => text.split(' / ').map(Number);

test('admin login, headers of the page and of the API', async () => {
  const { ctx, page } = await open();
  const res = await page.goto('/');
  const hd = res.headers();
  assert.match(hd['content-security-policy'], /script-src 'self'/);
  assert.match(hd['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(hd['x-frame-options'], 'DENY');
  await page.waitForSelector('#login-user');
  await shot(page, 'login');
  await page.fill('#login-user', 'admin');
  await page.fill('#login-password', ADMIN_PW);
  const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST'), page.click('#login-submit')]);
  const cookie = (await resp.headerValue('set-cookie')) || '';
  assert.match(cookie, /^bw_admin=/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  await page.waitForSelector('#ext-table tbody tr');
  const cookies = await ctx.cookies();
  assert.ok(cookies.find((c) => c.name === 'bw_admin' && c.httpOnly && c.sameSite === 'Strict'));
  // the page's script cannot read the session id
  assert.equal(await page.evaluate(() => document.cookie), '');
  const api = await page.request.get('/api/v1/status');
  assert.equal(api.headers()['cache-control'], 'no-store');
  assert.equal(api.headers()['x-frame-options'], 'DENY');
  // a state change without the CSRF token is refused, with it accepted
  const noToken = await page.evaluate(async () => (await fetch('/api/v1/discard', { method: 'POST' })).status);
  assert.equal(noToken, 403);
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

// on a fresh daemon: nothing has called yet
test('calls: empty states, then one real call live and as a record; the refresh stops on leaving', async () => {
  const { ctx, page } = await adminPage();
  let asked = 0;
  page.on('request', (r) => { if (new URL(r.url()).pathname === '/api/v1/calls') asked++; });
  await page.click('nav a[href="#/calls"]');
  await page.waitForSelector('#calls-body tr.empty');
  assert.equal(await page.textContent('#calls-body'), 'No call in progress.');
  await page.waitForSelector('#cdr-body tr.empty');
  assert.equal(await page.textContent('#cdr-body'), 'No call record yet.');
  const idle = (await page.textContent('#calls-stat-ports')).match(/^(\d+) free of (\d+)$/);
  assert.ok(idle && idle[1] === idle[2] && Number(idle[2]) > 0, 'relay ports: all free');
  const call = await placeCall(5000);
  try {
    // live, redrawn by the timer: answered, audio both ways (the call
    // layer refreshes a live call's counters every 2 s: the 5 s call
    // outlasts a refresh of theirs and one of the page's after it)
    await page.waitForFunction(() => {
      const tr = document.querySelector('#calls-body tr[data-id]');
      const p = tr && tr.querySelector('[data-col=packets]').textContent.split(' / ').map(Number);
      return p && tr.querySelector('[data-col=state]').textContent === 'answered' && p[0] > 0 && p[1] > 0;
    }, null, { timeout: 10000 }).catch(async (e) => {
      // what the phones saw says more than the timeout
      call.stop();
      const [caller, callee] = [await call.caller.done, await call.callee.done];
      throw new Error(`${e.message}\ncaller's SIPp (${caller.code}): ${caller.out}\ncallee's SIPp (${callee.code}): ${callee.out}`);
    });
    const live = await rowCells(page, '#calls-body tr[data-id]');
    assert.equal(live.caller, process.env.BULWARK_CALLER);
    assert.equal(live.callee, process.env.BULWARK_CALLEE);
    assert.match(live.codec, /^PCMA/);
    assert.equal(live.held, 'no');
    assert.deepEqual(ways(live.dropped), [0, 0]);
    // the counters come in the same round, just after the table
    await page.waitForFunction(() => document.querySelector('#calls-stat-active').textContent === '1');
    const busy = (await page.textContent('#calls-stat-ports')).match(/^(\d+) free of (\d+)$/);
    assert.ok(busy && Number(busy[1]) < Number(busy[2]), 'relay ports in use during the call');
    const [caller, callee] = [await call.caller.done, await call.callee.done];
    assert.equal(caller.code, 0, `the caller's SIPp: ${caller.out}`);
    assert.equal(callee.code, 0, `the callee's SIPp: ${callee.out}`);
  } finally {
    call.stop();
  }
  // ended: the live table empties and the record comes
  await page.waitForSelector('#cdr-body tr[data-id]', { timeout: 10000 });
  await page.waitForSelector('#calls-body tr.empty');
  const rec = await rowCells(page, '#cdr-body tr[data-id]');
  assert.equal(rec.caller, process.env.BULWARK_CALLER);
  assert.equal(rec.callee, process.env.BULWARK_CALLEE);
  assert.equal(rec.disposition, 'answered (200)');
  assert.equal(rec.hangup, 'caller: bye');
  assert.match(rec.codec, /^PCMA/);
  assert.match(rec.start, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  const [fromCaller, fromCallee] = ways(rec.packets);
  assert.ok(fromCaller > 0 && fromCallee > 0, `packets each way: ${rec.packets}`);
  assert.deepEqual(ways(rec.dropped), [0, 0]);
  await page.waitForFunction(() => document.querySelector('#calls-stat-answered').textContent === '1');
  await shot(page, 'calls');
  // the since filter, asked of the server: none from tomorrow, today's call
  const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
  await page.fill('#cdr-since', day(1));
  await page.click('#cdr-show');
  await page.waitForFunction((d) => document.querySelector('#cdr-body').textContent === `No call ended on or after ${d} (UTC).`, day(1));
  await page.fill('#cdr-since', day(0));
  await page.click('#cdr-show');
  await page.waitForSelector('#cdr-body tr[data-id]');
  // another screen: no more GET /calls
  assert.ok(asked >= 3, `GET /calls asked ${asked} times while shown`);
  await page.click('nav a[href="#/registrations"]');
  await page.waitForSelector('#reg-body tr');
  const before = asked;
  await page.waitForTimeout(2500);
  assert.equal(asked, before, 'GET /calls after leaving the Calls screen');
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('extensions: search and paging over 10,000', async () => {
  const { ctx, page } = await adminPage();
  const info = await page.textContent('#ext-pager-info');
  const total = Number(info.split(' of ')[1]);
  assert.ok(total >= 10000, info);
  assert.equal(await page.locator('#ext-table tbody tr').count(), 50);
  await page.click('#ext-next');
  await page.waitForFunction(() => document.querySelector('#ext-pager-info').textContent.startsWith('51–100'));
  await shot(page, 'extensions');
  // the licences in use, as GET /licences counts them
  const lic = await inPage(page, 'GET', '/api/v1/licences');
  assert.ok(lic.data.user.used >= 10000, JSON.stringify(lic.data));
  assert.match(await page.textContent('#licences'),
    new RegExp(`^Licences — user: ${lic.data.user.used} used, ${lic.data.user.staged} staged, limit (unlimited|\\d+); shared device: `));
  await page.fill('#ext-search', '1234');
  await page.press('#ext-search', 'Enter');
  await page.waitForFunction(() => document.querySelector('#ext-pager-info').textContent === '1–1 of 1');
  assert.equal(await page.textContent('#ext-table tbody tr td'), '1234');
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('Add Multiple Extensions: a range staged, its secrets shown once', async () => {
  const { ctx, page } = await adminPage();
  await page.click('#add-multiple');
  await page.fill('#bulk-range', '500-504');
  await page.selectOption('#bulk-type', 'sip');
  await page.click('#bulk-form button[type=submit]');
  await page.waitForFunction(() => /5 extensions staged/.test(document.body.textContent));
  assert.equal(await page.locator('#bulk-secrets tr').count(), 5);
  const r = await inPage(page, 'GET', '/api/v1/ext/search?staged=1&q=50');
  assert.deepEqual(r.data.items.map((e) => e.number).filter((n) => n.length === 3), ['500', '501', '502', '503', '504']);
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('add a SIP phone through every tab; a policy refusal shown next to the field, then Generate Password', async () => {
  const { ctx, page } = await adminPage();
  await page.click('#add-phone');
  await page.waitForSelector('#ext-type');
  await page.selectOption('#ext-type', 'sip');
  const tabs = await page.$$eval('.tabs .tab', (b) => b.map((x) => x.dataset.tab));
  assert.deepEqual(tabs, ['extype', 'general', 'auth', 'voicemail', 'phone', 'callerid', 'user', 'web', 'security']);
  await page.click('#tab-general');
  await page.fill('#f-number', '401');
  await page.fill('#f-name', 'Grace Hopper');
  await page.click('#tab-auth');
  await page.fill('#f-auth-password', 'password');
  await page.click('#tab-voicemail');
  await page.fill('#f-voicemail-email', 'grace@example.com');
  await page.click('#tab-phone');
  await page.check('#f-phone-nat');
  await page.click('#tab-callerid');
  await page.check('#f-callerid-allow-override');
  await page.click('#tab-user');
  await page.fill('#f-user-ring-time', '25');
  await page.click('#tab-web');
  await page.check('#f-web-enabled');
  await page.fill('#f-web-username', 'grace');
  await page.fill('#f-web-password', 'Qz7vXk2pLm9w');
  await page.click('#tab-security');
  await page.fill('#f-security-blacklist', '5551234');
  await page.click('#ext-save');
  // refused: the server's message, naming the rule, next to the password
  await page.waitForFunction(() => /refused/i.test(document.querySelector('#ext-form-out').textContent));
  const findings = await page.$$eval('.field-error', (els) => els.filter((e) => e.textContent).map((e) => `${e.id}: ${e.textContent}`));
  assert.match(await page.textContent('#f-auth-password-error'), /rule sip\./, findings.join('; '));
  // every finding next to its field: the weak password only (a mailbox
  // without a PIN gets a generated one at add)
  assert.deepEqual(findings.map((f) => f.split(':')[0]), ['f-auth-password-error'], findings.join(' | '));
  // the tab of the refused field is the one shown
  assert.ok(await page.locator('#f-auth-password').isVisible(), 'the Authentication tab is shown');
  assert.match(await page.textContent('#ext-form-out'), /refused/i);
  await shot(page, 'add-phone-refused');
  // corrected: Generate Password gives a compliant one
  await page.click('#gen-sip');
  await page.waitForFunction(() => document.querySelector('#f-auth-password').value !== 'password');
  const generated = await page.inputValue('#f-auth-password');
  assert.ok(generated.length >= 8, generated);
  assert.equal(await page.textContent('#f-auth-password-error'), '');
  // no PIN given: the server generates one and it is shown once
  await page.click('#ext-save');
  await page.waitForFunction(() => /Added extension 401/.test(document.querySelector('#ext-form-out').textContent));
  assert.match(await page.textContent('#ext-form-out .secrets'), /voicemail\.pin = \d{6,}/);
  const r = await inPage(page, 'GET', '/api/v1/ext/401?staged=1');
  assert.equal(r.status, 200);
  assert.equal(r.data['phone.nat'], true);
  assert.equal(r.data['callerid.allow_override'], true);
  assert.equal(r.data['user.ring_time'], 25);
  assert.equal(r.data['web.username'], 'grace');
  assert.deepEqual(r.data['security.blacklist'], ['5551234']);
  assert.equal(r.data['voicemail.email'], 'grace@example.com');
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('commit: the pending diff, a dry run, the commit', async () => {
  const { ctx, page } = await adminPage();
  // an edit too, so the diff shows old -> new
  await page.goto('/#/extensions/302');
  await page.waitForSelector('#tab-phone');
  await page.click('#tab-phone');
  await page.check('#f-phone-nat');
  await page.click('#ext-save');
  await page.waitForFunction(() => /Saved extension 302/.test(document.querySelector('#ext-form-out').textContent));
  await page.goto('/#/commit');
  const add = page.locator('[data-key="ext:401"]');
  await add.waitFor();
  assert.match(await add.textContent(), /\+ extension 401 \(add\)/);
  const edit = page.locator('[data-key="ext:302"]');
  await page.waitForFunction(() => /phone\.nat\s*false → true/.test((document.querySelector('[data-key="ext:302"]') || {}).textContent || ''));
  assert.match(await edit.textContent(), /~ extension 302 \(edit\)/);
  await shot(page, 'commit');
  await page.click('#commit-dry');
  await page.waitForFunction(() => /Dry run/.test(document.querySelector('#commit-out').textContent));
  await page.click('#commit-go');
  await page.waitForFunction(() => /Committed: version \d+/.test(document.querySelector('#commit-out').textContent));
  await page.waitForFunction(() => /Nothing is pending/.test(document.querySelector('#pending-diff').textContent));
  const r = await inPage(page, 'GET', '/api/v1/ext/302');
  assert.equal(r.data['phone.nat'], true);
  // start at boot on Network Services is staged: it shows on Commit, and
  // Discard (asks twice) drops it
  await page.goto('/#/services');
  const tls = page.locator('tr[data-service="sip-tls"] input[type=checkbox]');
  await tls.waitFor();
  assert.equal(await tls.isChecked(), false);
  await tls.check();
  await page.waitForFunction(() => /sip-tls: enable done/.test(document.querySelector('#svc-out').textContent));
  await page.goto('/#/commit');
  await page.waitForFunction(() => /sip-tls/.test(document.querySelector('#pending-diff').textContent));
  await page.click('#commit-discard');
  await page.click('#commit-discard');
  await page.waitForFunction(() => /Discarded/.test(document.querySelector('#commit-out').textContent));
  await page.waitForFunction(() => /Nothing is pending/.test(document.querySelector('#pending-diff').textContent));
  const svc = await inPage(page, 'GET', '/api/v1/services');
  assert.equal(svc.data.find((x) => x.name === 'sip-tls').boot, false);
  await page.goto('/#/services');
  await page.locator('tr[data-service="sip-tls"] input[type=checkbox]').waitFor();
  assert.equal(await page.locator('tr[data-service="sip-tls"] input[type=checkbox]').isChecked(), false);
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

// after the commit test: what is pending here is the import alone
test('extensions: CSV import through the GUI', async () => {
  const { ctx, page } = await adminPage();
  const csv = (pw) => Buffer.from(['number,type,name,auth.password',
    `790,sip,Csvtest Babbage,${pw}`, '88,sip,Csvtest Hopper,', '11050,sip,Csvtest Noether,', ''].join('\n'));
  const upload = (pw) => page.setInputFiles('#ext-import-file', { name: 'extensions.csv', mimeType: 'text/csv', buffer: csv(pw) });
  // the list searched for the names to come: empty, the CSV section in view
  await page.goto('/#/extensions?q=Csvtest&offset=0');
  await page.waitForFunction(() => document.querySelector('#ext-pager-info')?.textContent === '0 of 0');
  await page.click('#ext-csv-open');
  await page.waitForSelector('#ext-import-file');
  // refused: all or nothing, the server's finding naming row, field and rule
  await upload('password');
  await page.click('#ext-import');
  await page.waitForSelector('#ext-import-findings li');
  assert.match(await page.textContent('#ext-import-out'), /refused/i);
  const findings = await page.$$eval('#ext-import-findings li', (els) => els.map((e) => ({ ...e.dataset, text: e.textContent })));
  const pw = findings.find((f) => f.field === 'auth.password');
  assert.ok(pw, JSON.stringify(findings));
  assert.equal(pw.where, 'row 2');
  assert.match(pw.rule, /^sip\./);
  assert.match(pw.text, new RegExp(`^row 2: auth\\.password: .+ \\(rule ${pw.rule.replace('.', '\\.')}\\)$`));
  const none = await inPage(page, 'GET', '/api/v1/ext/search?staged=1&q=Csvtest');
  assert.equal(none.data.total, 0, 'a refused import stages nothing');
  await shot(page, 'csv-import');
  // corrected: a compliant password for that row; the others get generated secrets
  const gen = await inPage(page, 'POST', '/api/v1/passwd/generate?kind=sip&number=790');
  assert.equal(gen.status, 200);
  await upload(gen.data.secret);
  await page.click('#ext-import');
  await page.waitForFunction(() => /3 rows staged/.test(document.querySelector('#ext-import-out').textContent));
  assert.equal(await page.locator('#ext-import-findings').count(), 0);
  const secrets = await page.$$eval('#ext-import-secrets tr td:first-child', (tds) => tds.map((t) => t.textContent));
  assert.ok(secrets.includes('88') && secrets.includes('11050'), secrets.join(','));
  // pending on the Commit screen, then committed
  await page.click('#ext-import-commit');
  await page.waitForSelector('#pending-diff [data-key]');
  const keys = await page.$$eval('#pending-diff [data-key]', (els) => els.map((e) => e.dataset.key).sort());
  assert.deepEqual(keys, ['ext:11050', 'ext:790', 'ext:88']);
  for (const n of ['88', '790', '11050']) assert.match(await page.textContent(`[data-key="ext:${n}"]`), new RegExp(`\\+ extension ${n} \\(add\\)`));
  await page.click('#commit-go');
  await page.waitForFunction(() => /Committed: version \d+/.test(document.querySelector('#commit-out').textContent));
  await page.waitForFunction(() => /Nothing is pending/.test(document.querySelector('#pending-diff').textContent));
  for (const [n, name] of [['88', 'Csvtest Hopper'], ['790', 'Csvtest Babbage'], ['11050', 'Csvtest Noether']]) {
    const r = await inPage(page, 'GET', `/api/v1/ext/${n}`);
    assert.equal(r.status, 200, `${n}: ${JSON.stringify(r.data)}`);
    assert.equal(r.data.name, name);
    assert.equal(r.data.type, 'sip');
  }
  const running = await inPage(page, 'GET', '/api/v1/ext/search?q=Csvtest');
  assert.deepEqual(running.data.items.map((e) => e.number), ['88', '790', '11050']);
  // the list shows them in numeric order (not as text: 11050 < 790 < 88)
  await page.goto('/#/extensions?q=Csvtest&offset=0');
  await page.waitForFunction(() => document.querySelector('#ext-pager-info')?.textContent === '1–3 of 3');
  assert.deepEqual(await page.$$eval('#ext-table tbody tr td:first-child', (tds) => tds.map((t) => t.textContent)), ['88', '790', '11050']);
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('firewall: the Configuration Wizard to Single System', async () => {
  const { ctx, page } = await adminPage();
  await page.goto('/#/firewall');
  await page.waitForSelector('#fw-wizard');
  await page.click('#fw-wizard');
  await page.check('#fw-type-single');
  await page.click('#wiz-next');
  await page.waitForSelector('select[data-iface]');
  await page.click('#wiz-next');
  await page.waitForSelector('input[data-svc]');
  await page.click('#wiz-next');
  await page.waitForSelector('#wiz-ruleset');
  assert.match(await page.textContent('#wiz-body'), /Server type: single/);
  await shot(page, 'firewall-wizard');
  const r = await inPage(page, 'GET', '/api/v1/firewall');
  assert.equal(r.data.staged_type, 'single');
  await page.click('#wiz-done');
  await page.waitForSelector('#fw-staged-type');
  assert.equal(await page.textContent('#fw-staged-type'), 'single');
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('bans: unban a source, trust a network for N hours', async () => {
  const { ctx, page } = await adminPage();
  await page.goto('/#/bans');
  const row = page.locator('tr[data-source="203.0.113.9"]');
  await row.waitFor();
  await shot(page, 'bans');
  await row.locator('button.unban').click();
  await page.waitForFunction(() => /Unbanned 203\.0\.113\.9/.test(document.querySelector('#bans-out').textContent));
  await page.waitForFunction(() => !document.querySelector('tr[data-source="203.0.113.9"]'));
  const bans = await inPage(page, 'GET', '/api/v1/bans');
  assert.equal(bans.data.filter((b) => b.source === '203.0.113.9').length, 0);
  // the security events: the unban, newest first
  await page.waitForFunction(() => /unban\s*203\.0\.113\.9/.test(document.querySelector('#events-body tr')?.textContent || ''));
  await page.fill('#trust-network', '198.51.100.0/24');
  await page.fill('#trust-hours', '2');
  await page.click('#trust-add');
  await page.waitForFunction(() => /Trusted 198\.51\.100\.0\/24 for 2 h/.test(document.querySelector('#bans-out').textContent));
  const t = await inPage(page, 'GET', '/api/v1/trust');
  const tr = t.data.find((x) => x.network === '198.51.100.0/24');
  assert.ok(tr && tr.expires_in > 7000 && tr.expires_in <= 7200, JSON.stringify(t.data));
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('security policy and a settings section: refused values show the rule; registrations; network services', async () => {
  const { ctx, page } = await adminPage();
  await page.goto('/#/security');
  await page.waitForSelector('#policy-form');
  await page.fill('#f-sip-min-length', '3');
  await page.click('#policy-save');
  await page.waitForFunction(() => /rule/.test(document.querySelector('#f-sip-min-length-error').textContent));
  await shot(page, 'security');
  await page.goto('/#/registrations');
  await page.waitForSelector('#reg-body tr');
  // a settings section drawn from its table, refused by the server
  await page.goto('/#/settings');
  await page.waitForSelector('#settings-guard');
  await page.fill('#f-guard-fail-threshold', '0');
  await page.click('#settings-guard-save');
  await page.waitForFunction(() => /rule guard\.range/.test(document.querySelector('#f-guard-fail-threshold-error').textContent));
  await page.fill('#f-guard-fail-threshold', '6');
  await page.click('#settings-guard-save');
  await page.waitForFunction(() => /guard: staged/.test(document.querySelector('#settings-guard-out').textContent));
  const g = await inPage(page, 'GET', '/api/v1/settings/guard');
  assert.equal(g.data.staged.fail_threshold, 6);
  await page.goto('/#/services');
  await page.waitForSelector('tr[data-service="admin-http"]');
  assert.match(await page.textContent('tr[data-service="admin-http"]'), /running/);
  await shot(page, 'services');
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('an extension\'s greetings on its Voicemail tab: uploaded and played, a refused file, deleted', async () => {
  const { ctx, page } = await adminPage();
  await page.goto('/#/extensions/302');
  await page.waitForSelector('#tab-voicemail');
  assert.ok(await page.locator('#greetings').isHidden(), 'the greetings show with the Voicemail tab only');
  await page.click('#tab-voicemail');
  await page.waitForSelector('#greetings .greeting[data-which="temp"]');
  assert.deepEqual(await page.$$eval('#greetings .greeting', (els) => els.map((e) => `${e.dataset.which}:${e.dataset.exists}`)),
    ['name:0', 'unavail:0', 'busy:0', 'temp:0']);
  // uploaded for 302 by the administrator: listed, and the player loads it
  await page.setInputFiles('#greet-busy-file', { name: 'busy.wav', mimeType: 'audio/wav', buffer: wavTone(8000, 2, 700) });
  await page.click('#greet-busy-upload');
  await page.waitForSelector('.greeting[data-which="busy"][data-exists="1"] audio');
  assert.match(await page.textContent('#greet-out'), /Busy: uploaded \(2\.0 s\)/);
  await page.waitForFunction(() => document.querySelector('.greeting[data-which="busy"] audio').readyState >= 1);
  const dur = await page.$eval('.greeting[data-which="busy"] audio', (a) => a.duration);
  assert.ok(Math.abs(dur - 2) < 0.05, `the uploaded greeting lasts ${dur} s`);
  const listed = await inPage(page, 'GET', '/api/v1/ext/302/greetings');
  assert.deepEqual(listed.data.greetings.filter((g) => g.exists).map((g) => g.which), ['busy']);
  // refused: stereo; the server's sentence under that greeting's field
  const stereo = wavTone(8000, 1, 440);
  stereo.writeUInt16LE(2, 22); stereo.writeUInt32LE(32000, 28); stereo.writeUInt16LE(4, 32);
  await page.setInputFiles('#greet-temp-file', { name: 'stereo.wav', mimeType: 'audio/wav', buffer: stereo });
  await page.click('#greet-temp-upload');
  await page.waitForFunction(() => document.querySelector('#greet-temp-error').textContent !== '');
  assert.match(await page.textContent('#greet-temp-error'), /^Refused: greeting\.format: .*2 channels.*\(rule greeting\.format\)$/);
  assert.equal(await page.getAttribute('.greeting[data-which="temp"]', 'data-exists'), '0');
  await shotOf(page.locator('#greetings'), 'extension-greetings');
  // deleted (asks twice)
  await page.click('.greeting[data-which="busy"] .greet-delete');
  await page.click('.greeting[data-which="busy"] .greet-delete');
  await page.waitForSelector('.greeting[data-which="busy"][data-exists="0"]');
  const gone = await inPage(page, 'GET', '/api/v1/ext/302/greetings/busy');
  assert.equal(gone.status, 404);
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('phone-sized viewport: the list, Add a New Phone and every other admin screen fit', async () => {
  const { ctx, page } = await adminPage(PHONE);
  assert.ok(await noOverflow(page), 'extensions list wider than the phone');
  await shot(page, 'phone-extensions');
  await page.click('#add-phone');
  await page.waitForSelector('#ext-type');
  await page.click('#tab-auth');
  assert.ok(await page.locator('#gen-sip').isVisible());
  assert.ok(await noOverflow(page), 'Add a New Phone wider than the phone');
  await shot(page, 'phone-add-phone');
  // every other admin screen: nothing wider than the phone (a wide table
  // or rule set scrolls in its own box)
  for (const [hash, sel] of [['#/extensions/bulk', '#bulk-range'], ['#/extensions/302', '#tab-voicemail'],
    ['#/commit', '#pending-diff'], ['#/security', '#policy-form'], ['#/firewall', '#fw-active'],
    ['#/firewall/wizard', '#fw-type-single'], ['#/services', 'tr[data-service]'], ['#/settings', '#settings-guard'],
    ['#/bans', '#trust-network'], ['#/registrations', '#reg-body tr'], ['#/calls', '#cdr-body tr']]) {
    await page.goto(`/${hash}`);
    await page.waitForSelector(sel);
    if (hash === '#/extensions/302') {
      await page.click('#tab-voicemail');
      await page.waitForSelector('#greetings .greeting[data-which="temp"]');
    }
    assert.ok(await noOverflow(page), `${hash} wider than the phone`);
  }
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('user portal: greetings uploaded and refused, a real voicemail played and deleted, PIN change under the policy, forwarding, 403 on another extension', async () => {
  for (const viewport of [DESKTOP, PHONE]) {
    const { ctx, page } = await open(viewport);
    await login(page, PORTAL_USER, PORTAL_PW);
    await page.waitForSelector('#pin-form');
    await page.waitForSelector('.greeting[data-which="temp"]');
    const cookies = await ctx.cookies();
    assert.ok(cookies.find((c) => c.name === 'bw_user' && c.httpOnly));
    assert.ok(!cookies.find((c) => c.name === 'bw_admin'));
    assert.ok(await noOverflow(page));
    if (viewport === PHONE) { await ctx.close(); continue; }
    // the four recordings, none there yet
    assert.deepEqual(await page.$$eval('.greeting', (els) => els.map((e) => `${e.dataset.which}:${e.dataset.exists}`)),
      ['name:0', 'unavail:0', 'busy:0', 'temp:0']);
    // a greeting uploaded: listed, and the browser's player loads it
    await page.setInputFiles('#greet-unavail-file', { name: 'unavailable.wav', mimeType: 'audio/wav', buffer: wavTone(8000, 3, 1000) });
    await page.click('#greet-unavail-upload');
    await page.waitForSelector('.greeting[data-which="unavail"][data-exists="1"] audio');
    assert.match(await page.textContent('#portal-out'), /Unavailable: uploaded \(3\.0 s\)/);
    await page.waitForFunction(() => document.querySelector('.greeting[data-which="unavail"] audio').readyState >= 1);
    const gdur = await page.$eval('.greeting[data-which="unavail"] audio', (a) => a.duration);
    assert.ok(Math.abs(gdur - 3) < 0.05, `the uploaded greeting lasts ${gdur} s`);
    // refused: 16 kHz; the server's sentence under that greeting's field
    await page.setInputFiles('#greet-busy-file', { name: 'busy-16k.wav', mimeType: 'audio/wav', buffer: wavTone(16000, 1, 440) });
    await page.click('#greet-busy-upload');
    await page.waitForFunction(() => document.querySelector('#greet-busy-error').textContent !== '');
    assert.equal(await page.textContent('#greet-busy-error'),
      'Refused: greeting.format: must be 8 kHz 16-bit mono PCM WAV; this file is 16000 Hz (rule greeting.format)');
    assert.equal(await page.getAttribute('.greeting[data-which="busy"]', 'data-exists'), '0');
    // a caller hears that greeting and leaves a message through the daemon
    const dep = await deposit('301', 1000);
    assert.equal(dep.code, 0, `vm_deposit.py: ${dep.out}`);
    assert.ok(dep.report.greeting_tone_s >= 1, `the caller heard the uploaded greeting: ${dep.out}`);
    // it shows with the fixture message; both play in the browser
    await page.click('#vm-refresh');
    await page.waitForFunction(() => document.querySelectorAll('#vm-list .vm[data-id]').length === 2);
    const real = page.locator('#vm-list .vm[data-id]:not([data-id="msg0001"])');
    assert.match(await real.locator('.vm-from').textContent(), new RegExp(`^New · from .*${process.env.BULWARK_CALLER} · \\d+\\.\\d s$`));
    const realId = await real.getAttribute('data-id');
    for (const [id, min, max] of [['msg0001', 0.95, 1.05], [realId, 1.5, 4.5]]) {
      const audio = page.locator(`.vm[data-id="${id}"] audio`);
      await page.waitForFunction((i) => document.querySelector(`.vm[data-id="${i}"] audio`).readyState >= 1, id);
      const dur = await audio.evaluate((a) => a.duration);
      assert.ok(dur > min && dur < max, `message ${id} lasts ${dur} s`);
      await audio.evaluate((a) => { a.muted = true; return a.play(); });
      await page.waitForFunction((i) => document.querySelector(`.vm[data-id="${i}"] audio`).currentTime > 0.2, id);
      await audio.evaluate((a) => a.pause());
    }
    await shot(page, 'portal');
    await shot(page, 'portal-voicemail', { fullPage: true });
    for (const id of [realId, 'msg0001']) {
      await page.click(`.vm[data-id="${id}"] .vm-delete`);
      await page.click(`.vm[data-id="${id}"] .vm-delete`);
      await page.waitForFunction((i) => !document.querySelector(`.vm[data-id="${i}"]`), id);
    }
    await page.waitForFunction(() => /No messages/.test(document.querySelector('#vm-list').textContent));
    const gone = await inPage(page, 'GET', `/api/v1/me/voicemail/${realId}`);
    assert.equal(gone.status, 404);
    // the greeting deleted (asks twice)
    await page.click('.greeting[data-which="unavail"] .greet-delete');
    await page.click('.greeting[data-which="unavail"] .greet-delete');
    await page.waitForSelector('.greeting[data-which="unavail"][data-exists="0"]');
    const escape = await inPage(page, 'GET', '/api/v1/me/voicemail/..%2F..%2Fbulwark.db');
    assert.equal(escape.status, 404);
    const otherGreeting = await inPage(page, 'GET', '/api/v1/me/greetings/..%2F302%2Fbusy');
    assert.equal(otherGreeting.status, 404);
    await page.fill('#f-voicemail-pin', '1234');
    await page.click('#pin-save');
    await page.waitForFunction(() => /rule vm\./.test(document.querySelector('#f-voicemail-pin-error').textContent));
    await page.fill('#f-voicemail-pin', '739164');
    await page.click('#pin-save');
    await page.waitForFunction(() => /Saved/.test(document.querySelector('#portal-out').textContent));
    await page.check('#f-user-forward-busy-enabled');
    await page.fill('#f-user-forward-busy-destination', '302');
    await page.click('#forward-save');
    await page.waitForFunction(() => /Saved/.test(document.querySelector('#portal-out').textContent));
    // follow-me: on without a list is refused under the list, then saved
    await page.check('#f-user-follow-me-enabled');
    await page.click('#forward-save');
    await page.waitForFunction(() => /rule field\.required/.test(document.querySelector('#f-user-follow-me-list-error').textContent));
    assert.match(await page.textContent('#f-user-follow-me-list-error'), /user\.follow_me\.list is required when user\.follow_me\.enabled is true/);
    await page.fill('#f-user-follow-me-list', '302,1000');
    await page.click('#forward-save');
    await page.waitForFunction(() => /Saved/.test(document.querySelector('#portal-out').textContent));
    const own = await inPage(page, 'GET', '/api/v1/me/ext/301');
    assert.equal(own.status, 200);
    assert.equal(own.data.values['user.forward.busy.destination'], '302');
    assert.equal(own.data.values['user.follow_me.enabled'], true);
    assert.deepEqual(own.data.values['user.follow_me.list'], ['302', '1000']);
    const other = await inPage(page, 'GET', '/api/v1/me/ext/302');
    assert.equal(other.status, 403);
    const adminRoute = await inPage(page, 'GET', '/api/v1/ext/302');
    assert.equal(adminRoute.status, 403);
    const adminVm = await inPage(page, 'GET', '/api/v1/voicemail/302');
    assert.equal(adminVm.status, 403);
    const adminWrite = await inPage(page, 'POST', '/api/v1/commit');
    assert.equal(adminWrite.status, 403);
    const field = await page.evaluate(async () => {
      const s = await (await fetch('/api/v1/me/session')).json();
      const r = await fetch('/api/v1/me', { method: 'PATCH', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf }, body: JSON.stringify({ name: 'Eve Hacker' }) });
      return r.status;
    });
    assert.equal(field, 403);
    // an upload without the CSRF token is refused
    const noToken = await page.evaluate(async () => (await fetch('/api/v1/me/greetings/busy', { method: 'PUT', headers: { 'Content-Type': 'audio/wav' }, body: new Uint8Array(64) })).status);
    assert.equal(noToken, 403);
    assert.deepEqual(page.problems, []);
    await ctx.close();
  }
});

// after the portal (it restarts SIP): a commit marks SIP "restart
// required" on Network Services, and Restart there clears it
test('network services: restart required after a commit, Restart', async () => {
  const { ctx, page } = await adminPage();
  await page.goto('/#/settings');
  await page.waitForSelector('#settings-sip');
  await page.fill('#f-sip-keepalive-interval', '45');
  await page.click('#settings-sip-save');
  await page.waitForFunction(() => /sip: staged/.test(document.querySelector('#settings-sip-out').textContent));
  await page.goto('/#/commit');
  await page.waitForSelector('#pending-diff [data-key]');
  await page.click('#commit-go');
  await page.waitForFunction(() => /Committed: version \d+/.test(document.querySelector('#commit-out').textContent));
  await page.goto('/#/services');
  const row = page.locator('tr[data-service="sip-udp"]');
  await row.waitFor();
  assert.match(await row.textContent(), /running — restart required/);
  await row.locator('button', { hasText: 'Restart' }).click();
  await page.waitForFunction(() => /sip-udp: restart done/.test(document.querySelector('#svc-out').textContent));
  await page.waitForFunction(() => !/restart required/.test(document.querySelector('tr[data-service="sip-udp"]').textContent));
  assert.match(await row.textContent(), /running/);
  const svc = await inPage(page, 'GET', '/api/v1/services');
  const udp = svc.data.find((x) => x.name === 'sip-udp');
  assert.equal(udp.state, 'running');
  assert.equal(udp.restart_required, false);
  const sip = await inPage(page, 'GET', '/api/v1/settings/sip');
  assert.equal(sip.data.running.keepalive_interval, 45, JSON.stringify(sip.data));
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

// last: it blocks this address from the admin port for 15 minutes
test('a wrong admin password, again and again: counted, then 429', async () => {
  const { ctx, page } = await open();
  await page.goto('/');
  let last = '';
  for (let i = 1; i <= 6; i++) {
    await page.fill('#login-user', 'admin');
    await page.fill('#login-password', `wrong-${i}`);
    const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/session')), page.click('#login-submit')]);
    await page.waitForFunction(() => document.querySelector('.login-out .msg.error'));
    last = await page.textContent('.login-out');
    if (i < 6) assert.equal(resp.status(), 401, last);
    else assert.equal(resp.status(), 429, last);
    if (i === 5) assert.match(last, /refused for \d+ seconds/);
  }
  assert.match(last, /Too many failed admin logins/);
  await shot(page, 'login-throttled');
  // the right password does not help while blocked
  await page.fill('#login-password', ADMIN_PW);
  const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/session')), page.click('#login-submit')]);
  assert.equal(resp.status(), 429);
  await ctx.close();
});

await run();
