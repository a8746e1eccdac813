"""SIP-level helpers for the call tests: a hand-made UAC for INVITE
transactions whose exact answers a test compares (status line, header
names), a REGISTER from a chosen port (so a SIPp UAS can take it over),
and SIPp scenarios generated for one call each (digest values quoted:
SIPp 3.6.1 mis-parses them bare).
"""
import hashlib
import pathlib
import random
import re
import socket
import subprocess
import time

from calls_lib import free_block, free_sip_port, stop_pid


# ---- a raw SIP client (INVITE with proxy digest) ---------------------------

def digest(method, uri, user, pw, chal, header="Proxy-Authenticate", nc=1):
    """An Authorization/Proxy-Authorization value for the first MD5 (else
    SHA-256) challenge in chal."""
    rx = header + r': Digest (.*)'
    offers = re.findall(rx, chal)
    assert offers, chal
    params = {}
    for off in offers:
        p = {k: a or b for k, a, b in
             re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', off)}
        if p.get("algorithm", "MD5").upper() == "MD5":
            params = p
            break
        params = params or p
    alg = params.get("algorithm", "MD5")
    h = (lambda s: hashlib.md5(s.encode()).hexdigest()) if alg.upper() == \
        "MD5" else (lambda s: hashlib.sha256(s.encode()).hexdigest())
    realm, nonce = params["realm"], params["nonce"]
    ha1 = h(f"{user}:{realm}:{pw}")
    ha2 = h(f"{method}:{uri}")
    ncs, cnonce = f"{nc:08x}", f"{random.randrange(1 << 32):08x}"
    if "qop" in params:
        resp = h(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        tail = f', qop=auth, nc={ncs}, cnonce="{cnonce}"'
    else:
        resp = h(f"{ha1}:{nonce}:{ha2}")
        tail = ""
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}", algorithm={alg}{tail}')


def status_of(msg):
    return int(msg.split(" ", 2)[1]) if msg.startswith("SIP/2.0 ") else 0


SDP = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
       "a=fmtp:101 0-15\r\na=sendrecv\r\n")


class SipUac:
    """INVITE transactions from one UDP socket, by hand: every answer is
    returned as text so a test can compare status lines and headers."""

    def __init__(self, server, user, addr="127.0.0.1", from_user=None):
        self.server = server                # (host, port)
        self.user = user
        self.from_user = from_user or user
        self.addr = addr
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((addr, 0))
        self.s.settimeout(0.5)
        self.port = self.s.getsockname()[1]
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind((addr, 0))

    def close(self):
        self.s.close()
        self.rtp.close()

    def invite(self, target, cseq=1, auth=None, sdp=True, call_id=None,
               tag=None, branch=None, method="INVITE"):
        """An out-of-dialog request, INVITE unless method says
        otherwise (MESSAGE, SUBSCRIBE: no SDP then)."""
        host = f"{self.server[0]}:{self.server[1]}"
        uri = f"sip:{target}@{host}"
        self.call_id = call_id or f"u{random.randrange(1 << 48):x}"
        self.tag = tag or f"f{random.randrange(1 << 32):x}"
        self.branch = branch or f"z9hG4bK{random.randrange(1 << 48):x}"
        self.uri = uri
        self.method = method
        sdp = sdp and method == "INVITE"
        body = SDP.format(ip=self.addr, port=self.rtp.getsockname()[1]) \
            if sdp else ""
        m = (f"{method} {uri} SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP {self.addr}:{self.port};branch={self.branch};rport\r\n"
             "Max-Forwards: 70\r\n"
             f"From: <sip:{self.from_user}@{self.server[0]}>;tag={self.tag}\r\n"
             f"To: <sip:{target}@{self.server[0]}>\r\n"
             f"Call-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\n"
             f"Contact: <sip:{self.user}@{self.addr}:{self.port}>\r\n")
        if auth:
            m += f"Proxy-Authorization: {auth}\r\n"
        if method == "SUBSCRIBE":
            m += "Event: message-summary\r\nExpires: 600\r\n"
        if sdp:
            m += "Content-Type: application/sdp\r\n"
        m += f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        self.last_invite = m
        self.cseq = cseq
        self.s.sendto(m.encode(), self.server)

    def recv_final(self, timeout=5):
        """The final answer to the last INVITE (provisionals skipped);
        ACKs a non-2xx final like a transaction layer would."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                data = self.s.recv(65535).decode(errors="replace")
            except socket.timeout:
                continue
            st = status_of(data)
            if st >= 200 and f"Call-ID: {self.call_id}" in data:
                if st >= 300 and self.method == "INVITE":
                    self.ack(data)
                return data
        raise TimeoutError("no final answer to INVITE")

    def ack(self, resp):
        to = re.search(r"^To: (.*)$", resp, re.M).group(1).strip()
        m = (f"ACK {self.uri} SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP {self.addr}:{self.port};branch={self.branch};rport\r\n"
             "Max-Forwards: 70\r\n"
             f"From: <sip:{self.from_user}@{self.server[0]}>;tag={self.tag}\r\n"
             f"To: {to}\r\nCall-ID: {self.call_id}\r\n"
             f"CSeq: {self.cseq} ACK\r\nContent-Length: 0\r\n\r\n")
        self.s.sendto(m.encode(), self.server)

    def bye(self, resp, timeout=5):
        """ACK a 200 to the last INVITE and end that dialog with a BYE:
        the status of the BYE's answer."""
        self.ack(resp)
        to = re.search(r"^To: (.*)$", resp, re.M).group(1).strip()
        ct = re.search(r"^Contact: *<([^>]*)>", resp, re.M)
        ruri = ct.group(1) if ct else self.uri
        branch = f"z9hG4bK{random.randrange(1 << 48):x}"
        m = (f"BYE {ruri} SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP {self.addr}:{self.port};branch={branch};rport\r\n"
             "Max-Forwards: 70\r\n"
             f"From: <sip:{self.from_user}@{self.server[0]}>;tag={self.tag}\r\n"
             f"To: {to}\r\nCall-ID: {self.call_id}\r\n"
             f"CSeq: {self.cseq + 1} BYE\r\nContent-Length: 0\r\n\r\n")
        self.s.sendto(m.encode(), self.server)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                data = self.s.recv(65535).decode(errors="replace")
            except socket.timeout:
                continue
            if f"CSeq: {self.cseq + 1} BYE" in data and status_of(data):
                return status_of(data)
        raise TimeoutError("no answer to BYE")

    def call(self, target, pw, sdp=True, timeout=5, method="INVITE"):
        """INVITE, 407, INVITE with credentials: (challenge, final)."""
        self.invite(target, sdp=sdp, method=method)
        chal = self.recv_final(timeout)
        if status_of(chal) != 407:
            return chal, chal
        auth = digest(method, self.uri, self.user, pw, chal)
        self.invite(target, cseq=2, auth=auth, sdp=sdp, call_id=self.call_id,
                    tag=self.tag, method=method)
        return chal, self.recv_final(timeout)


def header_names(msg):
    """The header names of a SIP message in order (for comparing answers)."""
    head = msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    return [h.split(":", 1)[0].strip().lower() for h in head if ":" in h]


def register_udp(server, user, pw, port, addr="127.0.0.1", expires=300):
    """REGISTER user from addr:port (closed afterwards, so that a SIPp UAS
    can take the same port): True on 200."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.settimeout(3)
    uri = f"sip:{server[0]}:{server[1]}"
    cid = f"r{random.randrange(1 << 48):x}"

    def msg(cseq, auth=None):
        m = (f"REGISTER {uri} SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP {addr}:{port};branch=z9hG4bK{random.randrange(1 << 48):x};rport\r\n"
             "Max-Forwards: 70\r\n"
             f"From: <sip:{user}@{server[0]}>;tag=r1\r\n"
             f"To: <sip:{user}@{server[0]}>\r\nCall-ID: {cid}\r\n"
             f"CSeq: {cseq} REGISTER\r\n"
             f"Contact: <sip:{user}@{addr}:{port}>\r\nExpires: {expires}\r\n")
        if auth:
            m += f"Authorization: {auth}\r\n"
        return (m + "Content-Length: 0\r\n\r\n").encode()

    try:
        s.sendto(msg(1), server)
        chal = s.recv(65535).decode(errors="replace")
        if status_of(chal) != 401:
            return False
        s.sendto(msg(2, digest("REGISTER", uri, user, pw, chal,
                                header="WWW-Authenticate")), server)
        while True:
            r = s.recv(65535).decode(errors="replace")
            if status_of(r) >= 200:
                return status_of(r) == 200
    finally:
        s.close()




# ---- SIPp --------------------------------------------------------------------

PCAP = "/usr/share/sip-tester/g711a.pcap"

SDP_LINES = ["v=0",
             "o=sipp 1 [cseq] IN IP[local_ip_type] [local_ip]",
             "s=-",
             "c=IN IP[media_ip_type] [media_ip]",
             "t=0 0",
             "m=audio [media_port] RTP/AVP 8 101",
             "a=rtpmap:8 PCMA/8000",
             "a=rtpmap:101 telephone-event/8000",
             "a=fmtp:101 0-15",
             "a=ptime:30"]


def _msg(lines, body=False, retrans=False):
    """A <send> of the given start line and headers (no blank line may
    appear among them: SIPp would end the headers there)."""
    lines = [x for x in lines if x]
    if body:
        lines += ["Content-Type: application/sdp", "Content-Length: [len]",
                  ""] + SDP_LINES
    else:
        lines += ["Content-Length: 0"]
    text = "\n".join("      " + x if x else "" for x in lines)
    attr = ' retrans="500"' if retrans else ""
    return f"  <send{attr}>\n    <![CDATA[\n{text}\n\n    ]]>\n  </send>"


def _reply(code, text, body=False, totag=True, cseq="[last_CSeq:]"):
    return _msg([f"SIP/2.0 {code} {text}", "[last_Via:]", "[last_From:]",
                 "[last_To:]" + (";tag=[pid]uas[call_number]" if totag
                                 else ""),
                 "[last_Call-ID:]", cseq, "[last_Record-Route:]",
                 "Contact: <sip:[local_ip]:[local_port];transport=[transport]>"],
                body=body, retrans=code == 200 and body)


def _scenario(parts):
    return "\n".join(['<?xml version="1.0" encoding="ISO-8859-1" ?>',
                      '<scenario name="bulwark">', *parts,
                      '  <timewait milliseconds="500"/>', '</scenario>', ''])


def uas_xml(answer=True, pcap=True):
    """A UAS for one call. answer: 180, 200 with SDP (PCMA), plays the pcap
    after the ACK, waits for the BYE. Not answer: 180 and nothing else
    until a CANCEL (200 to it, 487 to the INVITE, waits for the ACK)."""
    # SIPp aborts on a variable never used: $cs only when the 487 uses it
    grab = ('\n    <action><ereg regexp="[0-9]+" search_in="hdr" '
            'header="CSeq:" assign_to="cs"/></action>\n  </recv>'
            if not answer else "/>")
    x = ['  <recv request="INVITE" crlf="true" rrs="true"' +
         (">" + grab if not answer else grab),
         _reply(180, "Ringing")]
    if answer:
        x += [_reply(200, "OK", body=True),
              '  <recv request="ACK" crlf="true"/>']
        if pcap:
            x.append(f'  <nop><action><exec play_pcap_audio="{PCAP}"/>'
                     '</action></nop>')
        x += ['  <recv request="BYE"/>',
              _reply(200, "OK", totag=False)]
    else:
        x += ['  <recv request="CANCEL"/>',
              _reply(200, "OK", totag=False),
              _msg(["SIP/2.0 487 Request Terminated", "[last_Via:]",
                    "[last_From:]", "[last_To:];tag=[pid]uas[call_number]",
                    "[last_Call-ID:]", "CSeq: [$cs] INVITE"]),
              '  <recv request="ACK"/>']
    return _scenario(x)


def _invite(cseq, frm, auth=None, body=True):
    return _msg(["INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
                 "Via: SIP/2.0/[transport] [local_ip]:[local_port];"
                 "branch=[branch]",
                 f"From: <sip:{frm}@[remote_ip]>;tag=[pid]uac[call_number]",
                 "To: <sip:[service]@[remote_ip]>",
                 "Call-ID: [call_id]", f"CSeq: {cseq} INVITE",
                 f"Contact: <sip:{frm}@[local_ip]:[local_port]>",
                 auth and f'[authentication username="{auth[0]}" '
                          f'password="{auth[1]}"]',
                 "Max-Forwards: 70"], body=body, retrans=True)


def _ack(cseq, frm, branch="[branch]", in_dialog=False):
    return _msg([("ACK [next_url] SIP/2.0" if in_dialog else
                  "ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0"),
                 "Via: SIP/2.0/[transport] [local_ip]:[local_port];"
                 f"branch={branch}",
                 "[routes]" if in_dialog else "",
                 f"From: <sip:{frm}@[remote_ip]>;tag=[pid]uac[call_number]",
                 "To: <sip:[service]@[remote_ip]>[peer_tag_param]",
                 "Call-ID: [call_id]", f"CSeq: {cseq} ACK",
                 "Max-Forwards: 70"])


def uac_xml(user, pw, from_user=None, mode="call", hold_ms=8000,
            expect=None, body=True):
    """A UAC for one call: INVITE, 407, ACK, INVITE with credentials, then
    by mode — "call": 200, ACK, plays the pcap (7 s), BYE after hold_ms;
    "cancel": after the 180, CANCEL, expecting 200 for it and 487 for the
    INVITE; "expect": the final answer must be `expect` (ACKed).

    The ACK of a non-2xx answer and the CANCEL carry the INVITE's branch
    (RFC 3261 17.1.1.3, 9.1): SIPp's [branch-N] is the branch of the
    scenario element N places back, so N is counted here."""
    frm = from_user or user
    x = [_invite(1, frm, body=body),
         '  <recv response="100" optional="true"/>',
         '  <recv response="407" auth="true"/>']
    x.append(_ack(1, frm, branch=f"[branch-{len(x)}]"))
    inv = len(x)
    x += [_invite(2, frm, auth=(user, pw), body=body),
          '  <recv response="100" optional="true"/>']
    back = lambda: f"[branch-{len(x) - inv}]"
    if mode == "call":
        x += ['  <recv response="180" optional="true"/>',
              '  <recv response="183" optional="true"/>',
              '  <recv response="200" rrs="true"/>',
              _ack(2, frm, in_dialog=True),
              f'  <nop><action><exec play_pcap_audio="{PCAP}"/>'
              '</action></nop>',
              f'  <pause milliseconds="{hold_ms}"/>',
              _msg(["BYE [next_url] SIP/2.0",
                    "Via: SIP/2.0/[transport] [local_ip]:[local_port];"
                    "branch=[branch]", "[routes]",
                    f"From: <sip:{frm}@[remote_ip]>;tag=[pid]uac[call_number]",
                    "To: <sip:[service]@[remote_ip]>[peer_tag_param]",
                    "Call-ID: [call_id]", "CSeq: 3 BYE", "Max-Forwards: 70"],
                   retrans=True),
              '  <recv response="200"/>']
    elif mode == "info-bye":
        # an INFO whose body is SDP (it would carry our address to the
        # callee unrewritten): 415; then BYE, 200, and the same BYE again
        # (its 200 "lost"): 200 again from the transaction, not 481
        hdr = ["Via: SIP/2.0/[transport] [local_ip]:[local_port];"
               "branch=z9hG4bK-{b}-[call_number]", "[routes]",
               f"From: <sip:{frm}@[remote_ip]>;tag=[pid]uac[call_number]",
               "To: <sip:[service]@[remote_ip]>[peer_tag_param]",
               "Call-ID: [call_id]", "Max-Forwards: 70"]
        bye = _msg(["BYE [next_url] SIP/2.0"] +
                   [h.format(b="bye") for h in hdr] + ["CSeq: 4 BYE"],
                   retrans=True)
        x += ['  <recv response="180" optional="true"/>',
              '  <recv response="183" optional="true"/>',
              '  <recv response="200" rrs="true"/>',
              _ack(2, frm, in_dialog=True),
              _msg(["INFO [next_url] SIP/2.0"] +
                   [h.format(b="info") for h in hdr] + ["CSeq: 3 INFO"],
                   body=True, retrans=True),
              '  <recv response="415"/>',
              bye, '  <recv response="200"/>',
              # SIPp takes an identical 200 for a retransmission it has
              # seen: the test reads the answer in the message trace
              bye.replace(' retrans="500"', ''),
              '  <pause milliseconds="500"/>']
    elif mode == "cancel":
        x += ['  <recv response="180"/>',
              '  <pause milliseconds="500"/>']
        x += [_msg(["CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
                    "Via: SIP/2.0/[transport] [local_ip]:[local_port];"
                    f"branch={back()}",
                    f"From: <sip:{frm}@[remote_ip]>;tag=[pid]uac[call_number]",
                    "To: <sip:[service]@[remote_ip]>",
                    "Call-ID: [call_id]", "CSeq: 2 CANCEL",
                    "Max-Forwards: 70"], retrans=True),
              '  <recv response="200"/>',
              '  <recv response="487"/>']
        x.append(_ack(2, frm, branch=back()))
    else:
        x += ['  <recv response="180" optional="true"/>',
              f'  <recv response="{expect}"/>']
        x.append(_ack(2, frm, branch=back()))
    return _scenario(x)


class Sipp:
    """One SIPp run (one call) in a directory of its own, bounded in
    time; its message trace is kept for assertions and diagnostics."""

    def __init__(self, workdir, name, xml, addr="127.0.0.1", port=None):
        self.dir = pathlib.Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "s.xml").write_text(xml)
        self.addr = addr
        self.port = port or free_sip_port(addr)
        self.media_port = free_block(4, addr, lo=50000, hi=59990)
        self.proc = None
        self.logf = None

    def start(self, target=None, service=None, timeout_s=30):
        args = ["sipp"] + ([target] if target else []) + [
            "-sf", "s.xml", "-i", self.addr, "-p", str(self.port),
            "-mi", self.addr, "-mp", str(self.media_port), "-m", "1",
            "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
            "-trace_err", "-trace_msg", "-buff_size", "4194304"]
        if service:
            args += ["-s", str(service)]
        self.logf = open(self.dir / "out", "ab")
        self.proc = subprocess.Popen(args, cwd=self.dir,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        return self

    def wait(self, timeout=40):
        """SIPp's exit code (0: every call succeeded), None on timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop_pid(self.proc)
            return None
        finally:
            if self.logf:
                self.logf.close()
                self.logf = None

    def messages(self):
        return "\n".join(p.read_text(errors="replace")
                         for p in sorted(self.dir.glob("*_messages.log")))

    def errors(self):
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.dir.glob("*_errors.log")))

    def report(self):
        return (f"sipp {self.dir.name}: {self.errors()[-2000:]}\n"
                f"{self.messages()[-3000:]}")

    def stop(self):
        stop_pid(self.proc)
        if self.logf:
            self.logf.close()
            self.logf = None
