// Scenarios of the administrator's screens, part two (gui.mjs runs them
// in order): the firewall wizard, bans, the security policy and settings,
// an extension's greetings, every screen at a phone's width.
import assert from 'node:assert/strict';
import { PHONE, adminPage, inPage, noOverflow, shot, shotOf, test } from './harness.mjs';
import { wavTone } from './peers.mjs';

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
    ['name:0', 'unavail:0', 'busy:0', 'temp:0', 'ivr:0']);
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
