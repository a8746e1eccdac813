// The user portal's scenario, then those that must come after it: Network
// Services' restart (it restarts SIP) and the throttled login (it blocks
// this address from the admin port). gui.mjs runs them in order.
import assert from 'node:assert/strict';
import { ADMIN_PW, DESKTOP, PHONE, adminPage, inPage, login, noOverflow, open, shot, test } from './harness.mjs';
import { deposit, wavTone } from './peers.mjs';

const PORTAL_USER = process.env.BULWARK_PORTAL_USER;
const PORTAL_PW = process.env.BULWARK_PORTAL_PASSWORD;

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
    // the five recordings, none there yet
    assert.deepEqual(await page.$$eval('.greeting', (els) => els.map((e) => `${e.dataset.which}:${e.dataset.exists}`)),
      ['name:0', 'unavail:0', 'busy:0', 'temp:0', 'ivr:0']);
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
