"""Helpers for calls across network namespaces: the namespaces themselves
(with a masquerading router), headless baresip phones inside them driven
through ctrl_tcp, tone WAVs and a Goertzel tone detector.

A namespace's loopback is its own: every phone's ctrl_tcp listens on
127.0.0.1 of its namespace, and the test connects to it with a socket
made while its thread is inside that namespace (setns), so nothing of a
phone is reachable from the host's network.
"""
import ctypes
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import wave

CLONE_NEWNET = 0x40000000
RATE = 8000


def sh(*args, check=True, timeout=20):
    return subprocess.run(list(args), capture_output=True, text=True,
                          timeout=timeout, check=check)


def ns(name, *args, **kw):
    return sh("ip", "netns", "exec", name, *args, **kw)


def missing_tools(*tools):
    """Why namespace tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (ip netns, nftables)"
    for t in ("ip", "nft", *tools):
        if not shutil.which(t):
            return f"needs {t}"
    probe = f"bwnat_probe_{os.getpid()}"
    r = sh("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"no network namespace support: {r.stderr.strip()}"
    sh("ip", "netns", "del", probe, check=False)
    return None


class Netns:
    """Namespaces created here are deleted by delete_all(), created or
    not, whatever failed in between."""

    def __init__(self):
        self.names = []

    def add(self, name):
        self.names.append(name)
        sh("ip", "netns", "add", name)
        ns(name, "ip", "link", "set", "lo", "up")
        return name

    def link(self, a, dev_a, addr_a, b, dev_b, addr_b):
        """A veth pair a:dev_a (addr_a, "A.B.C.D/N") -- b:dev_b."""
        sh("ip", "-n", a, "link", "add", dev_a, "type", "veth", "peer",
           "name", dev_b, "netns", b)
        for n, dev, addr in ((a, dev_a, addr_a), (b, dev_b, addr_b)):
            ns(n, "ip", "addr", "add", addr, "dev", dev)
            ns(n, "ip", "link", "set", dev, "up")

    def delete_all(self):
        for n in reversed(self.names):
            sh("ip", "netns", "del", n, check=False)
        self.names = []


def sweep_stale(prefix):
    """Delete namespaces PREFIX..._PID left by a run that was killed (its
    pid is gone); other runs' namespaces are left alone."""
    r = sh("ip", "netns", "list", check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(re.escape(prefix) + r"\w+_(\d+)", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            sh("ip", "netns", "del", name, check=False)


class InNetns:
    """`with InNetns(name):` the calling thread is in namespace name;
    sockets made inside stay there after the block."""

    def __init__(self, name):
        self.name = name
        self.libc = ctypes.CDLL(None, use_errno=True)

    def __enter__(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if self.libc.setns(fd, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        try:
            if self.libc.setns(self.home, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(self.home)


# ---- audio -------------------------------------------------------------------

def write_tone(path, freq, seconds, amp=0.4):
    """A mono 16-bit 8 kHz WAV of one sine."""
    n = int(seconds * RATE)
    k = 2 * math.pi * freq / RATE
    a = amp * 32767
    frames = struct.pack(f"<{n}h", *(int(a * math.sin(k * i))
                                     for i in range(n)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    return path


def read_wav(path):
    """(samples of the first channel, rate)."""
    with wave.open(str(path), "rb") as w:
        ch, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    assert width == 2, f"{path}: {width}-byte samples"
    x = struct.unpack(f"<{len(raw) // 2}h", raw)
    return x[::ch], rate


def tone_seconds(path, freq, **kw):
    """Seconds of the WAV at path where freq dominates (tone_in)."""
    x, rate = read_wav(path)
    return tone_in(x, freq, rate, **kw)


def tone_in(x, freq, rate=RATE, window=0.05, min_ratio=0.5, min_rms=300):
    """Seconds of samples x where freq holds at least min_ratio of a
    window's energy (Goertzel power against the window's total) and the
    window is not near-silent."""
    n = int(window * rate)
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    hits = 0
    for s in range(0, len(x) - n + 1, n):
        q1 = q2 = 0.0
        energy = 0.0
        for v in x[s:s + n]:
            q0 = coeff * q1 - q2 + v
            q2, q1 = q1, q0
            energy += v * v
        if energy < n * min_rms * min_rms:
            continue
        power = q1 * q1 + q2 * q2 - coeff * q1 * q2
        if power / (energy * n / 2) >= min_ratio:
            hits += 1
    return hits * n / rate


def ulaw(data):
    """G.711 mu-law bytes to 16-bit samples."""
    out = []
    for b in data:
        b = ~b & 0xff
        mag = ((((b & 0x0f) << 3) + 0x84) << ((b >> 4) & 7)) - 0x84
        out.append(-mag if b & 0x80 else mag)
    return out


class RtpSniffer:
    """The PCMU RTP a namespace's interface receives, seen on the wire
    (AF_PACKET in that namespace): a list of (time, src, payload)."""

    def __init__(self, netns, dev, dst):
        with InNetns(netns):
            self.s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                                   socket.htons(0x0800))
            self.s.bind((dev, 0x0800))
        self.s.settimeout(0.2)
        self.dst = socket.inet_aton(dst)
        self.got = []
        self.stopped = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stopped:
            try:
                pkt = self.s.recv(2048)
            except socket.timeout:
                continue
            except OSError:
                break
            ihl = (pkt[0] & 0x0f) * 4
            if len(pkt) < ihl + 20 or pkt[9] != 17 or pkt[16:20] != self.dst:
                continue
            rtp = pkt[ihl + 8:]
            if rtp[0] >> 6 != 2 or rtp[1] & 0x7f != 0:    # RTP, PCMU
                continue
            hdr = 12 + 4 * (rtp[0] & 0x0f)
            self.got.append((time.time(), socket.inet_ntoa(pkt[12:16]),
                             rtp[hdr:]))

    def samples(self, t0=0, t1=float("inf")):
        """Decoded audio of the packets received between t0 and t1."""
        x = []
        for t, _, payload in list(self.got):
            if t0 <= t < t1:
                x += ulaw(payload)
        return x

    def stop(self):
        self.stopped = True
        self.t.join(2)
        self.s.close()


# ---- baresip in a namespace ----------------------------------------------------

class Ctrl:
    """baresip ctrl_tcp (netstring JSON) on a socket made in its namespace;
    a reader thread keeps events and answers."""

    def __init__(self, netns, port=4444, timeout=10):
        deadline = time.time() + timeout
        while True:
            try:
                with InNetns(netns):
                    self.s = socket.create_connection(("127.0.0.1", port),
                                                      timeout=1)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.s.settimeout(None)
        self.events, self.answers, self.seq = [], {}, 0
        self.cv = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        try:
            while True:
                data = self.s.recv(65536)
                if not data:
                    break
                buf += data
                while (m := re.match(rb"(\d+):", buf)) and \
                        len(buf) > m.end() + int(m.group(1)):
                    end = m.end() + int(m.group(1))
                    msg = json.loads(buf[m.end():end].decode(errors="replace"))
                    buf = buf[end + 1:]
                    with self.cv:
                        if msg.get("event"):
                            self.events.append(msg)
                        elif msg.get("response"):
                            self.answers[msg.get("token")] = msg
                        self.cv.notify_all()
        except (OSError, ValueError):
            pass
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def command(self, cmd, params="", timeout=5):
        with self.cv:
            self.seq += 1
            token = f"t{self.seq}"
        body = json.dumps({"command": cmd, "params": params,
                           "token": token}).encode()
        self.s.sendall(b"%d:%s," % (len(body), body))
        with self.cv:
            if not self.cv.wait_for(lambda: token in self.answers or
                                    self.closed, timeout) or self.closed:
                raise TimeoutError(f"no answer to {cmd} {params}")
            return self.answers.pop(token)

    def wait(self, kind, timeout=10, since=0):
        """Index of the first event of type kind after index since."""
        def find():
            for i, e in enumerate(self.events[since:], since):
                if e.get("type") == kind:
                    return i + 1
            return None
        with self.cv:
            self.cv.wait_for(lambda: find() or self.closed, timeout)
            i = find()
            if not i:
                got = [(e.get("type"), e.get("param")) for e in self.events]
                raise TimeoutError(f"no {kind} in {timeout}s: {got}")
            return i

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Phone:
    """baresip 1.0 in namespace netns, SIP on addr:5060 (its own address,
    no STUN, no public address configured), sending a tone, recording
    what it hears (sndfile) in rec/, SIP trace (-s) in log."""

    def __init__(self, workdir, netns, addr, user, password, registrar,
                 tone_hz, max_s=50):
        self.dir = workdir
        self.rec = workdir / "rec"
        self.rec.mkdir(parents=True)
        self.netns, self.addr, self.user = netns, addr, user
        self.password, self.registrar = password, registrar
        self.max_s = max_s
        self.proc = self.ctrl = self.logf = None
        wav = write_tone(workdir / "tone.wav", tone_hz, max_s + 10)
        (workdir / "config").write_text(
            "poll_method\tepoll\n"
            f"sip_listen\t{addr}:5060\n"
            f"net_interface\t{addr}\n"
            "audio_player\talsa,null\naudio_alert\talsa,null\n"
            f"audio_source\taufile,{wav}\n"
            "ausrc_srate\t8000\nauplay_srate\t8000\n"
            "ausrc_channels\t1\nauplay_channels\t1\n"
            "rtp_ports\t30000-30019\n"
            "module_path\t/usr/lib/baresip/modules\n"
            "module\tg711.so\nmodule\tsndfile.so\nmodule\talsa.so\n"
            "module\taufile.so\n"
            "module_tmp\taccount.so\n"
            "module_app\tmenu.so\nmodule_app\tctrl_tcp.so\n"
            "ctrl_tcp_listen\t127.0.0.1:4444\n"
            f"snd_path\t{self.rec}\n")
        (workdir / "accounts").write_text("")
        (workdir / "contacts").write_text("")

    def start(self):
        self.logf = open(self.dir / "log", "ab")
        # `ip netns exec` execs: the pid is baresip's own
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "baresip", "-s", "-f",
             str(self.dir), "-t", str(self.max_s)],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self.logf,
            stderr=subprocess.STDOUT)
        try:
            self.ctrl = Ctrl(self.netns)
        except OSError:
            raise RuntimeError(f"baresip ctrl_tcp did not open: {self.log()}")
        # the account after connecting: REGISTER_OK is not lost
        ans = self.ctrl.command(
            "uanew",
            f"<sip:{self.user}@{self.registrar};transport=udp>;"
            f"auth_user={self.user};auth_pass={self.password};"
            f"outbound=\"sip:{self.registrar};transport=udp\";"
            "regint=120;answermode=auto;audio_codecs=PCMU/8000/1;ptime=20")
        assert ans.get("ok"), ans
        self.ctrl.wait("REGISTER_OK", 10)
        return self

    def recordings(self, kind="dec"):
        return set(self.rec.glob(f"*-{kind}.wav"))

    def log(self):
        try:
            return (self.dir / "log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.ctrl:
            try:
                self.ctrl.command("quit", timeout=2)
            except (OSError, TimeoutError):
                pass
            self.ctrl.close()
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(3)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
        if self.logf:
            self.logf.close()
            self.logf = None
