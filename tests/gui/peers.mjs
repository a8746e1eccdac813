// The peers of the browser tests: SIPp phones (tests/gui/sipp/) making
// one real call through bulwarkd, the scripted caller that leaves a
// voicemail (vm_deposit.py), and WAV files made here.
//
// Environment: BULWARK_SIP (the daemon's SIP address), BULWARK_CALLER /
// BULWARK_CALLEE and their _PASSWORD, BULWARK_SIPP_PORTS (four free UDP
// ports: caller SIP, caller media, callee SIP, callee media),
// BULWARK_PYTHON (runs vm_deposit.py).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// SIPp with a deadline: {proc, done: Promise<{code, out}>}; the output's
// tail is kept for the failure message. Killed by its pid at the deadline.
const SIPP_DIR = join(dirname(fileURLToPath(import.meta.url)), 'sipp');
export function sipp(args, seconds) {
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
export async function placeCall(holdMs) {
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
export function deposit(mailbox, greetingHz) {
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
export function wavTone(rate, secs, hz) {
  const n = Math.round(rate * secs);
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + 2 * n, 4); b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * hz * i / rate)), 44 + 2 * i);
  return b;
}
