// The firewall's commit-confirmed apply in the browser, on a real kernel
// table: test_gui_netns.py runs bulwarkd in a network namespace of its
// own (interfaces gui0, the browser's link, and wan0); Chromium, in the
// host's namespace, reaches its admin port over the veth. The rules the
// page installs are read from the kernel with `nft` inside that namespace.
//
// Environment (besides harness.mjs's): BULWARK_NETNS (the namespace),
// BULWARK_LAN_IF / BULWARK_WAN_IF (its two interfaces).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { adminPage, run, shot, test } from './harness.mjs';

const NETNS = process.env.BULWARK_NETNS;
const LAN_IF = process.env.BULWARK_LAN_IF;
const WAN_IF = process.env.BULWARK_WAN_IF;
if (!NETNS || !LAN_IF || !WAN_IF) {
  console.error('gui: BULWARK_NETNS, BULWARK_LAN_IF and BULWARK_WAN_IF are required (run through test_gui_netns.py)');
  process.exit(2);
}

// The kernel's table inet bulwark in the daemon's namespace ('' if none).
function kernelTable() {
  const r = spawnSync('ip', ['netns', 'exec', NETNS, 'nft', 'list', 'table', 'inet', 'bulwark'],
    { encoding: 'utf8', timeout: 10000 });
  return r.status === 0 ? r.stdout : '';
}
// The firewall's own rules are there: its input chain with a rule of the
// wizard's default inbound services (SIP over UDP, from anywhere).
const fwInstalled = (t) => /chain fw_in \{/.test(t) && /comment "sip-udp"/.test(t);

test('firewall: Commit and apply with a short rollback; unconfirmed it rolls back, then applied again and confirmed it stays', async () => {
  const { ctx, page } = await adminPage();
  await page.goto('/#/firewall');
  await page.waitForSelector('#fw-active');
  assert.equal(await page.textContent('#fw-active'), 'no');
  assert.ok(!fwInstalled(kernelTable()), 'no firewall rules before the first apply');

  // the Configuration Wizard: Single System, the browser's link as LAN
  await page.click('#fw-wizard');
  await page.check('#fw-type-single');
  await page.click('#wiz-next');
  await page.waitForSelector(`#wiz-role-${WAN_IF}`);
  await page.selectOption(`#wiz-role-${LAN_IF}`, 'lan');
  await page.selectOption(`#wiz-role-${WAN_IF}`, 'wan');
  await page.click('#wiz-next');
  await page.waitForSelector('input[data-svc]');
  await page.click('#wiz-next');
  await page.waitForSelector('#wiz-ruleset');
  assert.match(await page.textContent('#wiz-ruleset'), new RegExp(`iifname "${LAN_IF}" accept`));
  // a rollback the server refuses: its sentence and rule under the field,
  // nothing committed or applied
  await page.fill('#f-rollback', '0');
  await page.click('#wiz-apply');
  await page.waitForFunction(() => /rule firewall\.bad_rollback/.test(document.querySelector('#f-rollback-error').textContent));
  assert.ok(!fwInstalled(kernelTable()), 'a refused apply installs nothing');
  await page.fill('#f-rollback', '4');
  const applied = Date.now();
  await page.click('#wiz-apply');

  // (a) the countdown on General, the rules in the kernel; not confirmed
  await page.waitForSelector('#fw-rollback-in');
  const left = Number(await page.textContent('#fw-rollback-in'));
  assert.ok(left >= 1 && left <= 4, `countdown starts at ${left} s`);
  assert.ok(fwInstalled(kernelTable()), `applied: the kernel has the rules\n${kernelTable()}`);
  assert.equal(await page.textContent('#fw-active'), 'yes');
  assert.equal(await page.textContent('#fw-type'), 'single');
  // the countdown goes down as the server counts
  await page.waitForFunction((n) => Number(document.querySelector('#fw-rollback-in')?.textContent) < n, left);
  await page.waitForFunction(() => /Not confirmed in time: the previous rules are back/.test(document.querySelector('#fw-countdown').textContent),
    null, { timeout: 12000 });
  const lapsed = (Date.now() - applied) / 1000;
  assert.ok(lapsed >= 3 && lapsed < 9, `rolled back after ${lapsed} s`);
  assert.equal(await page.textContent('#fw-active'), 'no');
  assert.equal(await page.locator('#fw-confirm').count(), 0);
  assert.ok(!fwInstalled(kernelTable()), `rolled back: the kernel has no firewall rules\n${kernelTable()}`);

  // (b) the committed rules applied again from General, and confirmed
  await page.fill('#f-rollback', '8');
  const again = Date.now();
  await page.click('#fw-apply');
  await page.waitForSelector('#fw-confirm');
  assert.ok(fwInstalled(kernelTable()), 'applied again: the kernel has the rules');
  assert.match(await page.textContent('#fw-out'), /Applied: confirm before the countdown ends/);
  await shot(page, 'firewall-confirm');
  await page.click('#fw-confirm');
  await page.waitForFunction(() => /Confirmed: the new rules stay/.test(document.querySelector('#fw-countdown').textContent));
  await page.waitForFunction(() => document.querySelector('#fw-confirmed').textContent === 'yes');
  // past the deadline the apply had: still there, in the kernel and on the page
  await page.waitForTimeout(Math.max(0, again + 9500 - Date.now()));
  assert.ok(fwInstalled(kernelTable()), `confirmed: the rules stay\n${kernelTable()}`);
  await page.reload();
  await page.waitForSelector('#fw-active');
  assert.equal(await page.textContent('#fw-active'), 'yes');
  assert.equal(await page.textContent('#fw-confirmed'), 'yes');
  assert.equal(await page.locator('#fw-rollback-in').count(), 0);
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

await run();
