"""RTP for the call tests: G.711 both ways, RTP packets to forge (spray),
and a tap that records what the network actually delivered to a phone's
RTP ports (AF_PACKET on lo, root only) as a WAV the tone detector reads.

The tap is the evidence that does not depend on the phone: baresip 1.0's
sndfile stops recording after a re-INVITE (hold), and a spray that reached
a phone would show in its tap even if its jitter buffer threw it away.
"""
import ctypes
import math
import socket
import struct
import threading
import time
import wave

RATE = 8000


def ulaw(sample):
    """One 16-bit linear sample to G.711 mu-law."""
    sign = 0x80 if sample < 0 else 0
    sample = min(abs(sample), 32635) + 0x84
    exp, mask = 7, 0x4000
    while exp > 0 and not sample & mask:
        exp -= 1
        mask >>= 1
    mant = (sample >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def ulaw_dec(u):
    u = ~u & 0xFF
    exp, mant = (u >> 4) & 7, u & 0x0F
    s = (((mant << 3) + 0x84) << exp) - 0x84
    return -s if u & 0x80 else s


def alaw_dec(a):
    a ^= 0x55
    exp, mant = (a >> 4) & 7, a & 0x0F
    s = (mant << 4) + 8 if exp == 0 else ((mant << 4) + 0x108) << (exp - 1)
    return s if a & 0x80 else -s


ULAW = [ulaw_dec(i) for i in range(256)]
ALAW = [alaw_dec(i) for i in range(256)]


def ulaw_tone(freq, ms=20, amp=0.5, phase=0):
    """ms of a freq Hz sine as PCMU payload, from sample `phase`."""
    n = RATE * ms // 1000
    step = 2 * math.pi * freq / RATE
    return bytes(ulaw(int(amp * 32767 * math.sin(step * (phase + i))))
                 for i in range(n))


def rtp_packet(seq, ts, ssrc, payload, pt=0, marker=False):
    """An RTP v2 header (RFC 3550) + payload."""
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt,
                       seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def spray(target_ip, ports, seconds, freq=2600, src=("127.0.0.9", 0),
          pps_per_port=50):
    """Send RTP-looking packets (v2, PT 0, a freq Hz PCMU payload) from src
    to every port in ports for `seconds`: returns how many were sent."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(src)
    sent, seq, ts = 0, 1000, 0
    payloads = [ulaw_tone(freq, phase=i * 160) for i in range(5)]
    ssrc = 0x5EED0001
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.time()
        p = payloads[seq % 5]
        for port in ports:
            try:
                s.sendto(rtp_packet(seq, ts, ssrc, p), (target_ip, port))
                sent += 1
            except OSError:
                pass
        seq += 1
        ts += 160
        time.sleep(max(0.0, 1.0 / pps_per_port - (time.time() - t0)))
    s.close()
    return sent


SO_ATTACH_FILTER, SO_RCVBUFFORCE = 26, 33


def _udp_dport_filter(lo, hi):
    """A classic BPF program for frames on lo: IPv4, UDP, not a later
    fragment, destination port in [lo, hi]. The kernel then queues only
    those to the tap, so other tests' loopback floods cannot overflow it."""
    prog = [(0x28, 0, 0, 12),          # ldh [12]: ethertype
            (0x15, 0, 9, 0x0800),      # IPv4, else drop
            (0x30, 0, 0, 23),          # ldb [23]: protocol
            (0x15, 0, 7, 17),          # UDP, else drop
            (0x28, 0, 0, 20),          # ldh [20]: flags + fragment offset
            (0x45, 5, 0, 0x1FFF),      # a later fragment: drop
            (0xB1, 0, 0, 14),          # ldxb 4*([14]&0xf): IP header length
            (0x48, 0, 0, 16),          # ldh [x+16]: UDP destination port
            (0x35, 0, 2, lo),          # >= lo, else drop
            (0x25, 1, 0, hi),          # > hi: drop
            (0x06, 0, 0, 0x40000),     # accept
            (0x06, 0, 0, 0)]           # drop
    return b"".join(struct.pack("HBBI", *ins) for ins in prog), len(prog)


class RtpTap:
    """Records every UDP datagram delivered on lo to addr:ports (one
    copy: lo shows each frame twice, outgoing and incoming)."""

    def __init__(self, addr, ports):
        self.addr = socket.inet_aton(addr)
        self.ports = set(ports)
        self.pkts = []          # (time, (src ip, src port), dport, payload)
        self.lock = threading.Lock()
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                               socket.htons(0x0800))
        code, n = _udp_dport_filter(min(self.ports), max(self.ports))
        self._prog = ctypes.create_string_buffer(code)   # kept alive
        self.s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack(
            "HL", n, ctypes.addressof(self._prog)))
        self.s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        self.s.bind(("lo", 0))
        self.s.settimeout(0.1)
        self.frames = 0         # frames the kernel queued to us
        self.running = True
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while self.running:
            try:
                frame, sa = self.s.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                break
            self.frames += 1
            if sa[2] == socket.PACKET_OUTGOING:
                continue
            ip = frame[14:]
            if len(ip) < 28 or ip[9] != 17 or ip[16:20] != self.addr:
                continue
            ihl = (ip[0] & 0x0F) * 4
            sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
            if dport not in self.ports:
                continue
            src = (socket.inet_ntoa(ip[12:16]), sport)
            with self.lock:
                self.pkts.append((time.time(), src, dport, ip[ihl + 8:]))

    def stop(self):
        self.running = False
        self.t.join(2)
        self.s.close()

    def packets(self, since=0.0, until=None):
        with self.lock:
            return [p for p in self.pkts
                    if p[0] >= since and (until is None or p[0] < until)]

    def sources(self):
        return sorted({p[1] for p in self.packets()})

    def wav(self, path, since=0.0, until=None):
        """The G.711 (PT 0/8) payloads delivered in [since, until), decoded
        and concatenated in arrival order; other payload types skipped."""
        out = []
        for _, _, _, data in self.packets(since, until):
            if len(data) < 12 or data[0] >> 6 != 2:
                continue
            cc, pt = data[0] & 0x0F, data[1] & 0x7F
            body = data[12 + 4 * cc:]
            table = ULAW if pt == 0 else ALAW if pt == 8 else None
            if table:
                out.extend(table[b] for b in body)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(struct.pack(f"<{len(out)}h", *out))
        return path
