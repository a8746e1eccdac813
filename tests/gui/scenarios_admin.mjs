// Scenarios of the administrator's screens, part one (gui.mjs runs them
// in order): the login and its headers, the Calls screen with a real
// call, the extension list, Add Multiple Extensions, Add a New Phone,
// Commit (with Discard), the CSV import.
import assert from 'node:assert/strict';
import { ADMIN_PW, adminPage, inPage, login, open, shot, test } from './harness.mjs';
import { placeCall } from './peers.mjs';

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
