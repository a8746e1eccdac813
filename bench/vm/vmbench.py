"""bench_voicemail.sh's helpers (no third-party module):

  pcap SRC OUT K          K copies of SIPp's g711a.pcap back to back, one
                          continuous stream (sequence numbers, RTP
                          timestamps and capture times go on; the marker
                          bit only on the first packet); prints
                          "PACKETS SAMPLES MS"
  snap PID...             on-CPU ns of every thread: JSON {tid: [comm, ns]}
                          from /proc/PID/task/TID/{comm,schedstat}
  sink PORT OUT           counts UDP datagrams by RTP payload type until
                          SIGTERM, then writes JSON to OUT
  msgs DIR [BEFORE]       the messages in DIR/NUMBER.json (bulwark --json
                          vm list NUMBER), each with its mailbox, less
                          those in BEFORE (an earlier output): JSON list
  phase ARGS...           one phase's figures, a JSON line (see phase())
  summary ROWS RESULT META...  the table and the JSON result file
"""
import json
import os
import signal
import socket
import statistics
import struct
import sys
import time
import wave

FRAME = 240                     # samples per packet of g711a.pcap (30 ms)


def read_pcap(path):
    d = open(path, "rb").read()
    e = "<" if struct.unpack("<I", d[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d) \
        else ">"
    off, out = 24, []
    while off + 16 <= len(d):
        sec, usec, cl, ol = struct.unpack(e + "IIII", d[off:off + 16])
        out.append((sec, usec, bytearray(d[off + 16:off + 16 + cl]), ol))
        off += 16 + cl
    return d[:24], e, out


RTP = 14 + 20 + 8               # Ethernet, IPv4 without options, UDP


def make_pcap(src, dst, k):
    hdr, e, pk = read_pcap(src)
    t0 = pk[0][0] + pk[0][1] / 1e6
    span = pk[-1][0] + pk[-1][1] / 1e6 - t0 + 0.030
    n, out = len(pk), [hdr]
    for c in range(k):
        for i, (sec, usec, b, ol) in enumerate(pk):
            b = bytearray(b)
            seq, ts = struct.unpack("!HI", b[RTP + 2:RTP + 8])
            struct.pack_into("!HI", b, RTP + 2, (seq + c * n) & 0xffff,
                             (ts + c * n * FRAME) & 0xffffffff)
            if c:
                b[RTP + 1] &= 0x7f
            t = sec + usec / 1e6 + c * span
            out.append(struct.pack(e + "IIII", int(t),
                                   int(round((t - int(t)) * 1e6)) % 1000000,
                                   len(b), len(b)) + bytes(b))
    open(dst, "wb").write(b"".join(out))
    return n * k, n * k * FRAME


def alaw(a):
    """ITU-T G.711 A-law to 16-bit linear."""
    a ^= 0x55
    t = (a & 0x0f) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


def reference(pcap):
    """The PCM the caller sent, little-endian 16-bit bytes, and its
    packet count."""
    table = [struct.pack("<h", alaw(i)) for i in range(256)]
    _, _, pk = read_pcap(pcap)
    return b"".join(table[x] for _, _, b, _ in pk for x in b[RTP + 12:]), \
        len(pk)


def compare(wav_path, ref, npk):
    """Packet by packet (30 ms): the recording against what was sent.
    head: packets sent before the recording had started (none matched
    before the first recorded one); ok: bit-exact; silent: replaced by
    silence (a gap filled); differ: other content; tail: missing at the
    end. A message that matches no packet at its start is 'unaligned'."""
    w = wave.open(wav_path)
    data = w.readframes(w.getnframes())
    r = {"samples": w.getnframes(), "rate": w.getframerate(), "head": 0,
         "ok": 0, "silent": 0, "differ": 0, "tail": 0, "aligned": True}
    fb = FRAME * 2
    first = data[:fb]
    j = next((i for i in range(npk) if ref[i * fb:(i + 1) * fb] == first),
             None)
    if j is None:
        r["aligned"] = False
        r["differ"] = npk
        return r
    r["head"] = j
    zero = bytes(fb)
    for i in range(j, npk):
        p = (i - j) * fb
        got = data[p:p + fb]
        if len(got) < fb:
            r["tail"] += 1
        elif got == ref[i * fb:(i + 1) * fb]:
            r["ok"] += 1
        elif got == zero:
            r["silent"] += 1
        else:
            r["differ"] += 1
    return r


def snap(pids):
    out = {}
    for p in pids:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                comm = open(f"/proc/{p}/task/{t}/comm").read().strip()
                ns = int(open(f"/proc/{p}/task/{t}/schedstat").read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            out[f"{p}/{t}"] = [comm, ns]
    return out


def sink(port, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("127.0.0.1", port))
    s.settimeout(0.2)
    counts, stop = {}, []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        try:
            b = s.recv(2048)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        pt = str(b[1] & 0x7f) if len(b) >= 12 else "short"
        counts[pt] = counts.get(pt, 0) + 1
    json.dump(counts, open(out, "w"))


# groups of threads, by the names src/ gives them
GROUPS = {"bw-endpoint": "endpoint", "bw-ep-fin": "ep_fin",
          "bw-relay": "relay", "bw-vmwork": "vmwork", "bw-vmmail": "vmmail",
          "bulwarkd": "loop+unnamed"}


def cpu_delta(a, b):
    g = {}
    for tid, (comm, ns) in b.items():
        if comm == "timeout":           # the wrapper bounding bulwarkd's time
            continue
        d = ns - a.get(tid, [comm, 0])[1]
        k = "api" if comm.startswith("MHD") else GROUPS.get(comm, "other")
        g[k] = g.get(k, 0) + d
    return {k: v / 1e9 for k, v in g.items()}


def concurrency(cdrs):
    ev = sorted([(c["answer_ms"], 1) for c in cdrs] +
                [(c["end_ms"], -1) for c in cdrs])
    cur = peak = 0
    for _, d in ev:
        cur += d
        peak = max(peak, cur)
    return peak


def phase(a):
    """kind n stat.csv sipp-log cpu0 cpu1 t0 t1 cdr.json msgs.json|-
    datadir speech.pcap sink.json|- speech_ms sip0.json sip1.json (GET
    /api/v1/sip/status before and after: the relay's counters)"""
    kind, n = a[0], int(a[1])
    stat, log, c0, c1 = a[2], a[3], a[4], a[5]
    t0, t1 = float(a[6]), float(a[7])
    cdr_f, msgs_f, data, pcap, sink_f = a[8], a[9], a[10], a[11], a[12]
    speech_ms = int(a[13])
    ok = failed = 0
    try:
        rows = [x.split(";") for x in open(stat).read().splitlines()]
        h, last = rows[0], rows[-1]
        ok = int(last[h.index("SuccessfulCall(C)")])
        failed = int(last[h.index("FailedCall(C)")])
    except (OSError, ValueError, IndexError):
        pass
    try:
        lines = open(log).read().splitlines()
    except OSError:
        lines = []
    end_pbx = sum(1 for x in lines if "end pbx" in x)
    end_own = sum(1 for x in lines if "end own" in x)
    cpu = cpu_delta(json.load(open(c0)), json.load(open(c1)))
    total = sum(cpu.values())
    cdrs = [c for c in json.load(open(cdr_f))
            if c.get("start_ms", 0) >= t0 * 1000 - 1000
            and c.get("start_ms", 0) <= t1 * 1000
            and c.get("disposition") == "answered" and c.get("end_ms")]
    call_s = sum((c["end_ms"] - c["answer_ms"]) / 1000 for c in cdrs)
    pk_in = sum(c["packets"]["caller"] for c in cdrs)
    pk_out = sum(c["packets"]["callee"] for c in cdrs)
    lost = sum(c["lost"]["caller"] + c["lost"]["callee"] for c in cdrs)
    r = {"kind": kind, "calls": n, "ok": ok, "failed": failed,
         "answered_pct": round(100.0 * len(cdrs) / n, 2),
         "refused": n - len(cdrs),
         "end_pbx": end_pbx, "end_own": end_own, "cdrs": len(cdrs),
         "peak_concurrent": concurrency(cdrs),
         "call_s": round(call_s, 2), "wall_s": round(t1 - t0, 2),
         "cpu_s": {k: round(v, 4) for k, v in sorted(cpu.items())},
         "cpu_total_s": round(total, 4),
         "cdr_packets_caller": pk_in, "cdr_packets_callee": pk_out,
         "cdr_lost": lost, "speech_ms_sent": speech_ms,
         "load1": float(open("/proc/loadavg").read().split()[0])}
    r["cpu_ms_per_call_s"] = round(total * 1e3 / call_s, 3) if call_s else None

    def relay_counter(k):
        try:
            v = [json.load(open(f))["calls"]["relay"][k] for f in a[14:16]]
            return v[1] - v[0]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None
    r["relay_packets"] = relay_counter("packets_total")
    r["relay_dropped_source"] = relay_counter("dropped_source_total")
    if kind == "voicemail":
        msgs = json.load(open(msgs_f))
        ref, npk = reference(pcap)
        per = []
        for m in msgs:
            f = os.path.join(data, "voicemail", m["mailbox"], f"m-{m['id']}.wav")
            try:
                c = compare(f, ref, npk)
            except (OSError, EOFError, wave.Error) as e:
                c = {"error": str(e)}
            c.update({"mailbox": m["mailbox"], "caller": m["caller"],
                      "duration_ms": m["duration_ms"]})
            per.append(c)
        dur = [m["duration_ms"] for m in msgs]
        ratios = sorted(d / speech_ms for d in dur)
        rec_s = sum(dur) / 1000
        ks = ("head", "ok", "silent", "differ", "tail")
        r.update({"messages": len(msgs), "recorded_s": round(rec_s, 2),
                  "dur_ratio_min": round(ratios[0], 4) if ratios else None,
                  "dur_ratio_median": round(statistics.median(ratios), 4)
                  if ratios else None,
                  "short_gt_1pkt": sum(1 for d in dur if d < speech_ms - 30),
                  "wav_samples_mismatch": sum(
                      1 for c in per if "samples" in c
                      and abs(c["samples"] / 8 - c["duration_ms"]) > 1),
                  "unaligned": sum(1 for c in per if not c.get("aligned", True)),
                  # the answered calls sent audio; a refused one none
                  "packets_sent": npk * len(cdrs),
                  **{f"pkts_{k}": sum(c.get(k, 0) for c in per) for k in ks}})
        r["pkts_not_in_messages"] = r["packets_sent"] - r["pkts_ok"]
        r["cpu_ms_per_rec_s"] = round(total * 1e3 / rec_s, 3) if rec_s else None
        r["per_message"] = per
    else:
        got = json.load(open(sink_f)) if sink_f != "-" else {}
        _, npk = reference(pcap)
        sent = ok * npk
        r.update({"sink_audio": got.get("8", 0), "sink_events": got.get("101", 0),
                  "packets_sent": sent,
                  "relay_lost": sent - got.get("8", 0),
                  "speech_s": round(ok * speech_ms / 1000, 2)})
        r["cpu_ms_per_rec_s"] = round(total * 1e3 / r["speech_s"], 3) \
            if r["speech_s"] else None
    # per leg-second: a voicemail call is the relay's two legs (caller,
    # endpoint) and one endpoint leg; a relayed call is the relay's two
    legs = call_s
    r["leg_s_endpoint"] = round(legs, 2) if kind == "voicemail" else 0
    r["leg_s_relay"] = round(2 * legs, 2)
    ep = cpu.get("endpoint", 0.0)
    rl = cpu.get("relay", 0.0)
    r["endpoint_us_per_leg_s"] = round(ep * 1e6 / legs, 1) \
        if kind == "voicemail" and legs else None
    r["relay_us_per_leg_s"] = round(rl * 1e6 / (2 * legs), 1) if legs else None
    # packets the relay moved (each counted once, at the caller's side
    # and the callee's side the CDR gives); the endpoint receives and
    # sends the B side's
    pk = pk_in + pk_out
    r["pkt_per_s"] = round(pk / call_s, 1) if call_s else None
    r["relay_us_per_pkt"] = round(rl * 1e6 / pk, 2) if pk else None
    r["endpoint_us_per_pkt"] = round(ep * 1e6 / pk, 2) \
        if kind == "voicemail" and pk else None
    print(json.dumps(r))


def summary(a):
    rows = [json.loads(x) for x in open(a[0]) if x.strip()]
    result, meta = a[1], json.loads(a[2])

    def med(kind, n, k):
        v = [r[k] for r in rows if r["kind"] == kind and r["calls"] == n
             and r.get(k) is not None]
        return statistics.median(v) if v else None

    def medg(kind, n, g):
        v = [r["cpu_s"].get(g, 0) for r in rows
             if r["kind"] == kind and r["calls"] == n]
        return statistics.median(v) if v else None

    f = lambda v, p=1: "-" if v is None else f"{v:,.{p}f}"
    sizes = sorted({r["calls"] for r in rows})
    vm_keys = ("answered_pct", "peak_concurrent", "messages", "dur_ratio_min",
               "dur_ratio_median", "short_gt_1pkt", "pkts_not_in_messages",
               "pkts_head", "pkts_silent", "pkts_differ", "pkts_tail",
               "unaligned", "wav_samples_mismatch", "cdr_lost", "end_pbx",
               "cpu_total_s", "cpu_ms_per_rec_s", "cpu_ms_per_call_s",
               "endpoint_us_per_leg_s", "endpoint_us_per_pkt",
               "relay_us_per_leg_s", "relay_us_per_pkt", "recorded_s",
               "packets_sent", "call_s", "load1", "refused", "pkt_per_s")
    rl_keys = ("answered_pct", "peak_concurrent", "relay_lost", "packets_sent",
               "cdr_lost", "cpu_total_s", "cpu_ms_per_rec_s",
               "cpu_ms_per_call_s", "relay_us_per_leg_s", "relay_us_per_pkt",
               "speech_s", "call_s", "load1", "pkt_per_s")
    groups = ("endpoint", "relay", "loop+unnamed", "vmwork", "ep_fin",
              "vmmail", "api", "other")
    out = {"voicemail": {}, "relay": {}, "ratios": {}}
    print("\n== voicemail: N callers leave a message at once (medians) ==")
    print(f"{'N':>4} {'ans %':>6} {'refused':>7} {'peak':>5} {'msgs':>5} "
          f"{'dur min':>8} {'dur med':>8} {'short>30ms':>10} {'audio pkts':>10} "
          f"{'not in msg':>10}")
    for n in sizes:
        m = {k: med("voicemail", n, k) for k in vm_keys}
        m["cpu_groups_s"] = {g: medg("voicemail", n, g) for g in groups}
        out["voicemail"][str(n)] = m
        if m["answered_pct"] is None:
            continue
        print(f"{n:>4} {f(m['answered_pct'], 1):>6} {f(m['refused'], 0):>7} "
              f"{f(m['peak_concurrent'], 0):>5} {f(m['messages'], 0):>5} "
              f"{f(m['dur_ratio_min'], 4):>8} {f(m['dur_ratio_median'], 4):>8} "
              f"{f(m['short_gt_1pkt'], 0):>10} {f(m['packets_sent'], 0):>10} "
              f"{f(m['pkts_not_in_messages'], 0):>10}")
    print("(dur: a message's duration_ms / the speech sent; audio pkts: the 30 ms"
          " packets the answered calls sent; not in msg: those not found bit for"
          " bit in a message — head/silent/differ/tail in the JSON)")
    print("\n== relayed reference: the same callers and audio to a SIPp callee"
          " through the relay (medians) ==")
    print(f"{'N':>4} {'ans %':>6} {'peak':>5} {'audio pkts':>10} {'lost':>6}")
    for n in sizes:
        m = {k: med("relay", n, k) for k in rl_keys}
        m["cpu_groups_s"] = {g: medg("relay", n, g) for g in groups}
        out["relay"][str(n)] = m
        if m["answered_pct"] is None:
            continue
        print(f"{n:>4} {f(m['answered_pct'], 1):>6} {f(m['peak_concurrent'], 0):>5} "
              f"{f(m['packets_sent'], 0):>10} {f(m['relay_lost'], 0):>6}")
    print("\n== bulwarkd CPU (medians): the whole daemon per second of speech"
          " (recorded, or relayed) and per call-second; the endpoint threads and"
          " the relay thread per leg-second and per packet ==")
    print(f"{'phase':>14} {'ms/speech-s':>11} {'ms/call-s':>9} {'ep us/leg-s':>11} "
          f"{'ep us/pkt':>9} {'relay us/leg-s':>14} {'relay us/pkt':>12} {'pkt/s':>7}")
    for n in sizes:
        for kind in ("voicemail", "relay"):
            m = out[kind][str(n)]
            if m["answered_pct"] is None:
                continue
            print(f"{kind + ' ' + str(n):>14} {f(m['cpu_ms_per_rec_s'], 3):>11} "
                  f"{f(m['cpu_ms_per_call_s'], 3):>9} {f(m.get('endpoint_us_per_leg_s'), 1):>11} "
                  f"{f(m.get('endpoint_us_per_pkt'), 2):>9} {f(m['relay_us_per_leg_s'], 1):>14} "
                  f"{f(m['relay_us_per_pkt'], 2):>12} {f(m['pkt_per_s'], 0):>7}")
    print("(a call has two relay legs, the caller's and the callee's — for a"
          " voicemail call the callee is the endpoint — and a voicemail call one"
          " endpoint leg; packets: the CDRs' counts, each forwarded once by the"
          " relay and received or sent once by the endpoint; pkt/s: per"
          " call-second)")
    print("\n== bulwarkd CPU by thread group, seconds over each window (medians) ==")
    print(f"{'phase':>14} " + " ".join(f"{g:>12}" for g in groups))
    for n in sizes:
        for kind in ("voicemail", "relay"):
            g = out[kind][str(n)]["cpu_groups_s"]
            if all(v is None for v in g.values()):
                continue
            print(f"{kind + ' ' + str(n):>14} " +
                  " ".join(f"{f(g[x], 3):>12}" for x in groups))
    print("\n== ratios voicemail / relayed ==")
    for n in sizes:
        v, r = out["voicemail"][str(n)], out["relay"][str(n)]
        def ratio(x, y):
            return round(x / y, 2) if x and y else None
        q = {"cpu_per_speech_s": ratio(v["cpu_ms_per_rec_s"], r["cpu_ms_per_rec_s"]),
             "cpu_per_call_s": ratio(v["cpu_ms_per_call_s"], r["cpu_ms_per_call_s"]),
             "endpoint_leg_s_vs_relay_leg_s": ratio(v["endpoint_us_per_leg_s"],
                                                    r["relay_us_per_leg_s"]),
             "endpoint_pkt_vs_relay_pkt": ratio(v["endpoint_us_per_pkt"],
                                                r["relay_us_per_pkt"])}
        out["ratios"][str(n)] = q
        print(f"  N={n}: whole daemon per second of speech {f(q['cpu_per_speech_s'], 2)},"
              f" per call-second {f(q['cpu_per_call_s'], 2)};"
              f" endpoint per leg-second / relay per leg-second"
              f" {f(q['endpoint_leg_s_vs_relay_leg_s'], 2)};"
              f" per packet {f(q['endpoint_pkt_vs_relay_pkt'], 2)}")
    json.dump({"bench": "voicemail",
               "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               **meta, "runs": rows, **out}, open(result, "w"), indent=1)
    print(f"\nresults: {result}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "pcap":
        pk, smp = make_pcap(args[0], args[1], int(args[2]))
        print(pk, smp, smp // 8)
    elif cmd == "snap":
        print(json.dumps(snap(args)))
    elif cmd == "sink":
        sink(int(args[0]), args[1])
    elif cmd == "msgs":
        seen = set()
        if len(args) > 1:
            seen = {(m["mailbox"], m["id"]) for m in json.load(open(args[1]))}
        out = []
        for f in sorted(os.listdir(args[0])):
            if not f.endswith(".json"):
                continue
            try:
                box = json.load(open(os.path.join(args[0], f)))
            except ValueError:
                continue
            for m in box.get("messages", []):
                m["mailbox"] = str(box.get("number", f[:-5]))
                if (m["mailbox"], m["id"]) not in seen:
                    out.append(m)
        print(json.dumps(out))
    elif cmd == "phase":
        phase(args)
    elif cmd == "summary":
        summary(args)
    else:
        sys.exit(f"unknown command {cmd}")
