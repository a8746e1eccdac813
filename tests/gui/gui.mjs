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
//
// The scenarios are in scenarios_admin.mjs, scenarios_more.mjs and
// scenarios_portal.mjs (each registers its own with harness.mjs's test(),
// in the order imported here); peers.mjs has the SIP peers.
import './scenarios_admin.mjs';
import './scenarios_more.mjs';
import './scenarios_portal.mjs';
import { run } from './harness.mjs';

await run();
