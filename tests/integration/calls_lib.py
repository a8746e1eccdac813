"""Helpers for call tests with real phones: tone WAVs, a tone detector for
what the other side recorded, and headless baresip and linphonec driven by
their control interfaces (SIP-level helpers: calls_sip.py; RTP and the tap:
calls_rtp.py; bulwarkd set up for calls: calls_pbx.py).

Audio is proven by the recordings, never by a 200 OK: each side sends a
tone of its own and the test looks for it in what the other side heard.
baresip 1.0's recording (sndfile) stops at the first re-INVITE: after a
hold, the RTP tap of calls_rtp.py is the evidence. Every process started
here is bounded in time and stopped by its pid.
"""
import json
import math
import os
import pathlib
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import wave

from conftest import free_port

RATE = 8000
TONE_A, TONE_B, TONE_SPRAY = 440, 1000, 2600
PROBES = (300, 440, 697, 1000, 1336, 1633, 2100, 2600, 3200)


# ---- tones ---------------------------------------------------------------

def write_tone(path, freq, seconds, amp=0.4):
    """A sine of freq Hz: S16LE, 8 kHz, mono."""
    n = int(seconds * RATE)
    peak = int(amp * 32767)
    step = 2 * math.pi * freq / RATE
    frames = struct.pack(f"<{n}h", *(int(peak * math.sin(step * i))
                                     for i in range(n)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    return path


def read_wav(path):
    """(samples of the first channel, rate) of a 16-bit WAV."""
    with wave.open(str(path), "rb") as w:
        ch, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    assert width == 2, f"{path}: {width * 8}-bit samples"
    s = struct.unpack(f"<{len(raw) // 2}h", raw)
    return list(s[::ch]), rate


def _bin_power(x, cos_t, sin_t):
    """|X(f)|^2 of one window: the single DFT bin Goertzel computes, as two
    dot products (C-speed sum/map instead of a Python loop)."""
    re_ = sum(map(float.__mul__, x, cos_t))
    im_ = sum(map(float.__mul__, x, sin_t))
    return re_ * re_ + im_ * im_


def tone_windows(path, freqs, window=0.05):
    """Per window of `window` seconds: (rms, {freq: fraction}) where
    fraction = the share of the window's energy at freq (1.0 for a pure
    tone on the bin; Parseval: 2|X|^2 / (N * sum x^2))."""
    samples, rate = read_wav(path)
    n = int(rate * window)
    tables = {}
    for f in freqs:
        w = 2 * math.pi * f / rate
        tables[f] = ([math.cos(w * i) for i in range(n)],
                     [math.sin(w * i) for i in range(n)])
    out = []
    for off in range(0, len(samples) - n + 1, n):
        x = [float(v) for v in samples[off:off + n]]
        energy = sum(map(float.__mul__, x, x))
        rms = math.sqrt(energy / n)
        if energy <= 0:
            out.append((0.0, {f: 0.0 for f in freqs}))
            continue
        out.append((rms, {f: 2 * _bin_power(x, *tables[f]) / (n * energy)
                          for f in freqs}))
    return out


def tone_seconds(path, freq, probes=PROBES, window=0.05, min_fraction=0.5,
                 min_ratio=20.0, min_rms=300.0):
    """Seconds of `path` in which freq dominates: the window is loud enough
    (rms >= min_rms of 32767), at least min_fraction of its energy is at
    freq and freq has min_ratio times the energy of every other probe."""
    freqs = sorted(set(probes) | {freq})
    secs = 0.0
    for rms, frac in tone_windows(path, freqs, window):
        if rms < min_rms or frac[freq] < min_fraction:
            continue
        if all(frac[freq] >= min_ratio * frac[f] for f in freqs if f != freq):
            secs += window
    return round(secs, 3)


def tone_trace_seconds(path, freq, window=0.05, min_fraction=0.05,
                       min_rms=100.0):
    """Seconds in which freq is merely present (>= 5 % of the energy of an
    audible window): to prove that something did NOT get through."""
    secs = 0.0
    for rms, frac in tone_windows(path, [freq], window):
        if rms >= min_rms and frac[freq] >= min_fraction:
            secs += window
    return round(secs, 3)


def heard(paths, freq, **kw):
    """tone_seconds summed over several recordings (a re-INVITE may open a
    new dump file)."""
    return round(sum(tone_seconds(p, freq, **kw) for p in paths), 3)


def traces(paths, freq, **kw):
    return round(sum(tone_trace_seconds(p, freq, **kw) for p in paths), 3)


# ---- processes -------------------------------------------------------------

def stop_pid(proc, timeout=5):
    """SIGTERM, then SIGKILL, to one process we started."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    except ProcessLookupError:
        pass


def free_block(n, addr="127.0.0.1", lo=20000, hi=60000, tries=200):
    """A run of n consecutive ports free for UDP on addr right now."""
    for _ in range(tries):
        base = random.randrange(lo, hi - n) & ~1
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((addr, p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


def free_sip_port(addr="127.0.0.1"):
    """A port P with P and P+1 free (baresip binds TLS on sip_listen+1)."""
    for _ in range(100):
        p = free_port(addr=addr)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind((addr, p + 1))
            return p
        except OSError:
            continue
    raise RuntimeError("no free SIP port pair")


# ---- baresip -----------------------------------------------------------------

class CtrlTcp:
    """baresip's ctrl_tcp: netstring-framed JSON. Commands are
    {"command", "params", "token"}; answers carry "response": true and the
    token; events carry "event": true and a "type". A reader thread queues
    everything; events are also kept in self.events."""

    def __init__(self, port, addr="127.0.0.1", timeout=10):
        deadline = time.time() + timeout
        while True:
            try:
                self.s = socket.create_connection((addr, port), timeout=1)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.s.settimeout(None)
        self.events = []
        self.answers = {}
        self.lock = threading.Condition()
        self.seq = 0
        self.closed = False
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        buf = b""
        try:
            while True:
                data = self.s.recv(65536)
                if not data:
                    break
                buf += data
                while True:
                    m = re.match(rb"(\d+):", buf)
                    if not m:
                        break
                    n = int(m.group(1))
                    end = m.end() + n
                    if len(buf) < end + 1:
                        break
                    msg = json.loads(buf[m.end():end].decode(errors="replace"))
                    buf = buf[end + 1:]
                    with self.lock:
                        if msg.get("event"):
                            msg["t"] = time.time()
                            self.events.append(msg)
                        elif msg.get("response"):
                            self.answers[msg.get("token")] = msg
                        self.lock.notify_all()
        except OSError:
            pass
        with self.lock:
            self.closed = True
            self.lock.notify_all()

    def command(self, cmd, params="", timeout=5):
        """Send a long command; return its answer ({"ok", "data"})."""
        with self.lock:
            self.seq += 1
            token = f"t{self.seq}"
        body = json.dumps({"command": cmd, "params": params,
                           "token": token}).encode()
        self.s.sendall(str(len(body)).encode() + b":" + body + b",")
        deadline = time.time() + timeout
        with self.lock:
            while token not in self.answers:
                left = deadline - time.time()
                if left <= 0 or self.closed:
                    raise TimeoutError(f"no answer to {cmd} {params}")
                self.lock.wait(left)
            return self.answers.pop(token)

    def wait_event(self, kind, timeout=10, since=0, pred=None):
        """The first event of type kind (after index since) matching pred;
        raises TimeoutError listing what did arrive."""
        deadline = time.time() + timeout
        with self.lock:
            while True:
                for e in self.events[since:]:
                    if e.get("type") == kind and (pred is None or pred(e)):
                        return e
                left = deadline - time.time()
                if left <= 0 or self.closed:
                    got = [(e.get("type"), e.get("param")) for e in self.events]
                    raise TimeoutError(f"no {kind} within {timeout}s; "
                                       f"events: {got}")
                self.lock.wait(left)

    def types(self):
        with self.lock:
            return [e.get("type") for e in self.events]

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Baresip:
    """A headless baresip 1.0 with a private config directory: it sends
    tone_wav (a WAV longer than the call), records what it hears in
    rec/ (sndfile: dump-*-dec.wav) and is driven through ctrl_tcp.

    transport "tls": registrar is the PBX's TLS "HOST:PORT", cafile the
    certificate to trust (sip_cafile; baresip 1.0 does not check it).
    mediaenc "srtp-mand" (or "srtp"): SDES SRTP with module srtp.so."""

    def __init__(self, workdir, user, password, registrar, tone_hz,
                 answer="auto", addr="127.0.0.1", max_s=60, codecs="PCMU",
                 tone_s=None, transport="udp", mediaenc=None, cafile=None):
        self.dir = pathlib.Path(workdir)
        self.rec = self.dir / "rec"
        self.rec.mkdir(parents=True, exist_ok=True)
        self.user, self.password = user, password
        self.registrar = registrar          # "HOST:PORT"
        self.addr = addr
        self.answer = answer
        self.max_s = max_s
        self.codecs = codecs
        assert transport in ("udp", "tls"), transport
        self.transport = transport
        self.mediaenc = mediaenc
        self.cafile = cafile
        self.wav = write_tone(self.dir / "tone.wav", tone_hz,
                              tone_s or max_s + 10)
        self.proc = None
        self.ctrl = None
        self._configure()
        # The account is added over ctrl_tcp (uanew) once connected, so the
        # REGISTER_OK event is not lost before the client is there.
        (self.dir / "accounts").write_text("")
        (self.dir / "contacts").write_text("")

    def _configure(self):
        """Pick the ports and write the config. The ports are free when
        picked, yet another process may take one before baresip binds it
        (seen once in CI: "SIP Transport failed: Address already in use"),
        so start() picks again when that happens."""
        addr = self.addr
        self.port = free_sip_port(addr)
        self.ctrl_port = free_port(socket.SOCK_STREAM, addr)
        rtp = free_block(20, addr, lo=30000, hi=39990)
        self.rtp_ports = range(rtp, rtp + 20)
        (self.dir / "config").write_text(
            "poll_method\tepoll\n"
            f"sip_listen\t{addr}:{self.port}\n"
            f"net_interface\t{addr}\n"
            "audio_player\talsa,null\n"
            f"audio_source\taufile,{self.wav}\n"
            "audio_alert\talsa,null\n"
            "ausrc_srate\t8000\nauplay_srate\t8000\n"
            "ausrc_channels\t1\nauplay_channels\t1\n"
            f"rtp_ports\t{rtp}-{rtp + 19}\n"
            "rtcp_mux\tno\n"
            "module_path\t/usr/lib/baresip/modules\n"
            "module\tg711.so\nmodule\tsndfile.so\nmodule\talsa.so\n"
            "module\taufile.so\n"
            "module_tmp\taccount.so\n"
            "module_app\tmenu.so\nmodule_app\tctrl_tcp.so\n"
            f"ctrl_tcp_listen\t{addr}:{self.ctrl_port}\n"
            f"snd_path\t{self.rec}\n"
            "ringback_disabled\tyes\n"
            + (f"sip_cafile\t{self.cafile}\n" if self.cafile else "")
            + ("module\tsrtp.so\n" if self.mediaenc else ""))

    @property
    def aor(self):
        return f"sip:{self.user}@{self.registrar.split(':')[0]}"

    def account_line(self):
        codec = {"PCMU": "PCMU/8000/1", "PCMA": "PCMA/8000/1"}.get(
            self.codecs, self.codecs)
        tp = self.transport
        return (f"<sip:{self.user}@{self.registrar};transport={tp}>;"
                f"auth_user={self.user};auth_pass={self.password};"
                f"outbound=\"sip:{self.registrar};transport={tp}\";"
                f"regint=120;answermode={self.answer};"
                f"audio_codecs={codec};ptime=20"
                + (f";mediaenc={self.mediaenc}" if self.mediaenc else ""))

    def start(self, register=True, timeout=10):
        for attempt in range(3):
            self.logf = open(self.dir / "log", "ab")
            mark = self.logf.tell()
            self.proc = subprocess.Popen(
                ["baresip", "-f", str(self.dir), "-t", str(self.max_s)],
                cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self.logf,
                stderr=subprocess.STDOUT)
            try:
                self.ctrl = CtrlTcp(self.ctrl_port, self.addr,
                                    timeout=timeout)
                break
            except OSError:
                self.stop()
                with open(self.dir / "log", "rb") as f:
                    f.seek(mark)
                    tail = f.read().decode(errors="replace")
                if "Address already in use" in tail and attempt < 2:
                    self._configure()
                    continue
                raise RuntimeError(
                    f"baresip ctrl_tcp did not open: {self.log()}")
        if register:
            self.register(timeout)
        return self

    def register(self, timeout=10):
        ans = self.ctrl.command("uanew", self.account_line())
        assert ans.get("ok"), ans
        self.ctrl.wait_event("REGISTER_OK", timeout)

    def cmd(self, cmd, params="", timeout=5):
        return self.ctrl.command(cmd, params, timeout)

    def dial(self, number, host=None):
        host = host or self.registrar
        return self.cmd("dial", f"sip:{number}@{host}")

    def wait(self, kind, timeout=10, **kw):
        return self.ctrl.wait_event(kind, timeout, **kw)

    def recordings(self, kind="dec"):
        return sorted(self.rec.glob(f"*-{kind}.wav"))

    def log(self):
        try:
            return (self.dir / "log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.ctrl:
            self.ctrl.close()
        stop_pid(self.proc)
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None


# ---- linphonec -------------------------------------------------------------

class Linphonec:
    """linphonec 5.1 with a private HOME, commands on stdin (a pipe),
    sound from/to files ("soundcard use files", play, record); auto-answer
    with auto_answer=True (-a). transport "tls": registrar is the PBX's
    TLS "HOST:PORT", cafile the certificate it checks the server with."""

    def __init__(self, workdir, user, password, registrar, tone_hz,
                 auto_answer=False, addr="127.0.0.1", max_s=60,
                 transport="udp", cafile=None):
        self.dir = pathlib.Path(workdir)
        self.home = self.dir / "home"
        (self.home / ".local" / "share" / "linphone").mkdir(parents=True,
                                                             exist_ok=True)
        self.user, self.password, self.registrar = user, password, registrar
        self.addr = addr
        self.port = free_sip_port(addr)
        self.auto_answer = auto_answer
        self.max_s = max_s
        assert transport in ("udp", "tls"), transport
        self.transport = transport
        tls_port = free_port(socket.SOCK_STREAM, addr) if transport == "tls" \
            else -1
        self.wav = write_tone(self.dir / "tone.wav", tone_hz, max_s + 10)
        self.rec_wav = self.dir / "heard.wav"
        rtp = free_block(4, addr, lo=40000, hi=49990)
        self.rtp_ports = range(rtp, rtp + 2)
        self.rc = self.dir / "rc"
        self.rc.write_text(
            "[sip]\n"
            f"sip_port={self.port}\nsip_tcp_port=-1\n"
            f"sip_tls_port={tls_port}\n"
            f"bind_address={addr}\n"
            # mbedTLS 2 (belle-sip) matches no IP subjectAltName: the
            # chain is checked, the name is not
            + (f"root_ca={cafile}\nverify_server_certs=1\n"
               "verify_server_cn=0\n" if cafile else "") +
            "use_info=0\nuse_rfc2833=1\n"
            "[rtp]\n"
            f"audio_rtp_port={rtp}\n"
            "audio_jitt_comp=60\n"
            "[sound]\necho_cancellation=0\n"
            "[video]\nenabled=0\ncapture=0\ndisplay=0\n")
        self.proc = None
        self.lines = []
        self.lock = threading.Condition()

    def start(self, register=True, timeout=10):
        args = ["linphonec", "-c", str(self.rc)]
        if self.auto_answer:
            args.append("-a")
        env = dict(os.environ, HOME=str(self.home))
        self.proc = subprocess.Popen(
            args, cwd=self.dir, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._bound, daemon=True).start()
        time.sleep(0.5)
        self.send("soundcard use files")
        self.send(f"play {self.wav}")
        self.send(f"record {self.rec_wav}")
        if register:
            tp = ";transport=tls" if self.transport == "tls" else ""
            self.send(f"register sip:{self.user}@{self.registrar.split(':')[0]}"
                      f" sip:{self.registrar}{tp} {self.password}")
            self.wait_registered(timeout)
        return self

    def wait_registered(self, timeout=10):
        """linphonec reports the state when asked: ask once a second."""
        deadline = time.time() + timeout
        while True:
            n = len(self.lines)
            self.send("status register")
            try:
                return self.wait_line(r"registered, identity=", 1, since=n)
            except TimeoutError:
                if time.time() > deadline:
                    raise

    def _bound(self):
        try:
            self.proc.wait(self.max_s)
        except subprocess.TimeoutExpired:
            stop_pid(self.proc)

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))
                self.lock.notify_all()
        with self.lock:
            self.lines.append("<eof>")
            self.lock.notify_all()

    def send(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def wait_line(self, pattern, timeout=10, since=0):
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        with self.lock:
            while True:
                for line in self.lines[since:]:
                    if rx.search(line):
                        return line
                left = deadline - time.time()
                if left <= 0 or (self.lines and self.lines[-1] == "<eof>"):
                    raise TimeoutError(f"no /{pattern}/ within {timeout}s: "
                                       + "\n".join(self.lines[-30:]))
                self.lock.wait(left)

    def output(self):
        with self.lock:
            return "\n".join(self.lines)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.send("terminate")
            self.send("quit")
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                pass
        stop_pid(self.proc)
