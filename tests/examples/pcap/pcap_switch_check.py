#!/usr/bin/env python3
"""End-to-end checks of examples/pcap (pcap_switch over pcap_port).

    pcap_switch_check.py SWITCH MODE WORKDIR

MODE is one of
  files   input pcaps -> pcap_switch -> output pcaps: each output holds exactly
          the frames the flows send there, byte for byte and in order
          (forwarding by in_port and dl_dst, a broadcast to two ports, a frame
          captured shorter than it was on the wire, frames no flow wants,
          NORMAL flooding and learning)
  errors  a bad flows file is reported as FILE:LINE:COL: reason, bad arguments
          and a missing interface or input file exit non-zero with a clear
          message, a corrupt input pcap is a read error
  live    two veth pairs in a network namespace made here (fppcap-<pid>,
          deleted at the end, failed or not): frames sent into one pair come
          out of the other, byte-identical, the switch never reads back what
          it injected (PCAP_D_IN), an interface that disappears stops it with
          an error, SIGTERM stops it cleanly

The idea: every frame carries its own sequence number, so "the expected
frames" is a list computed from the flows by hand, compared whole.
Exit 0 pass, 1 fail, 77 skipped (with the reason on stdout).
"""
import ctypes
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

SKIP = 77
TEST_ETHERTYPE = 0x88B5  # IEEE local experimental: nothing else sends it


def mac(n):
    return bytes([0x02, 0, 0, 0, 0, n])


BROADCAST = b"\xff" * 6


def frame(dst, src, seq, length):
    """An Ethernet frame of `length` bytes with the test ethertype and a sequence number."""
    head = dst + src + struct.pack("!HI", TEST_ETHERTYPE, seq)
    body = bytes((seq * 7 + i) & 0xFF for i in range(length - len(head)))
    return head + body


def write_pcap(path, records):
    """records: (captured bytes, length on the wire)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (data, wire_len) in enumerate(records):
            f.write(struct.pack("<IIII", 1000 + i, 0, len(data), wire_len))
            f.write(data)


def read_pcap(path):
    with open(path, "rb") as f:
        blob = f.read()
    magic, = struct.unpack_from("<I", blob, 0)
    if magic != 0xA1B2C3D4:
        raise AssertionError(f"{path}: not a little-endian microsecond pcap (magic {magic:#x})")
    linktype, = struct.unpack_from("<I", blob, 20)
    if linktype != 1:
        raise AssertionError(f"{path}: link type {linktype}, not Ethernet")
    out, at = [], 24
    while at < len(blob):
        _, _, incl, orig = struct.unpack_from("<IIII", blob, at)
        at += 16
        out.append(blob[at:at + incl])
        if incl != orig:
            raise AssertionError(f"{path}: record of {incl} bytes says {orig} on the wire")
        at += incl
    return out


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def expect_frames(got, want, what):
    if got == want:
        return
    check(False, f"{what}: {len(got)} frames, expected {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            print(f"  first difference at frame {i}: got {g[:18].hex()}... expected {w[:18].hex()}...")
            break


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kw)


def counters(stdout):
    """{port: {counter: value}} from pcap_switch's exit report."""
    out = {}
    for m in re.finditer(r"^port (\d+) \([^)]*\): (.*)$", stdout, re.M):
        fields = m.group(2).split()
        out[int(m.group(1))] = {fields[i]: int(fields[i + 1]) for i in range(0, len(fields), 2)}
    return out


FLOWS = """\
# forwarding by in_port and dl_dst (tests/examples/pcap/pcap_switch_check.py)
priority=10,in_port=1,dl_dst=02:00:00:00:00:02 actions=output:2
priority=10,in_port=1,dl_dst=02:00:00:00:00:03 actions=output:3
priority=10,in_port=1,dl_dst=ff:ff:ff:ff:ff:ff actions=output:2,output:3

priority=5,in_port=2 actions=output:1
priority=0 actions=drop
"""


def mode_files(switch, work):
    flows = os.path.join(work, "forward.flows")
    with open(flows, "w") as f:
        f.write(FLOWS)
    in1, in2 = os.path.join(work, "in1.pcap"), os.path.join(work, "in2.pcap")
    outs = {n: os.path.join(work, f"out{n}.pcap") for n in (1, 2, 3)}
    for p in outs.values():
        if os.path.exists(p):
            os.remove(p)

    to2, to3, to1 = [], [], []
    records1 = []
    dsts = [mac(2), mac(3), BROADCAST, mac(9)]  # 02 -> port 2, 03 -> port 3, broadcast -> both, 09 -> dropped
    # More frames than pcap_switch has buffers: a buffer not given back shows.
    for seq in range(3000):
        dst = dsts[seq % len(dsts)]
        f = frame(dst, mac(1), seq, 60 + (seq * 37) % 1400)
        wire = len(f)
        if seq == 50:  # captured shorter than it was on the wire: forwarded as captured, counted
            wire = len(f) + 100
        records1.append((f, wire))
        if dst in (mac(2), BROADCAST):
            to2.append(f)
        if dst in (mac(3), BROADCAST):
            to3.append(f)
    records2 = []
    for seq in range(1000, 1070):
        f = frame(mac(1), mac(2), seq, 64 + seq % 500)
        records2.append((f, len(f)))
        to1.append(f)
    write_pcap(in1, records1)
    write_pcap(in2, records2)

    r = run([switch, "--flows", flows, "--port", f"1={in1}:{outs[1]}", "--port", f"2={in2}:{outs[2]}",
             "--port", f"3=:{outs[3]}"])
    print(r.stdout, end="")
    check(r.returncode == 0, f"pcap_switch exit status {r.returncode}: {r.stderr.strip()}")
    expect_frames(read_pcap(outs[1]), to1, "out1.pcap")
    expect_frames(read_pcap(outs[2]), to2, "out2.pcap")
    expect_frames(read_pcap(outs[3]), to3, "out3.pcap")
    c = counters(r.stdout)
    check(c.get(1, {}).get("rx") == 3000 and c.get(2, {}).get("rx") == 70, f"rx counters {c}")
    check(c.get(1, {}).get("truncated") == 1, f"port 1 counts one truncated frame: {c.get(1)}")
    check(c.get(1, {}).get("tx") == len(to1) and c.get(2, {}).get("tx") == len(to2) and
          c.get(3, {}).get("tx") == len(to3), f"tx counters {c}")
    check(re.search(r"^pipeline: received 3070 transmitted %d dropped 750 " % (len(to1) + len(to2) + len(to3)),
                    r.stdout, re.M) is not None, "pipeline counters: 3070 received, 750 dropped")

    # --packets stops after that many frames received.
    r = run([switch, "--flows", flows, "--port", f"1={in1}:{outs[1]}", "--port", f"2=:{outs[2]}",
             "--port", f"3=:{outs[3]}", "--packets", "8"])
    check(r.returncode == 0, f"--packets 8: exit status {r.returncode}: {r.stderr.strip()}")
    check(counters(r.stdout).get(1, {}).get("rx") == 8, f"--packets 8 receives 8 frames: {r.stdout}")
    expect_frames(read_pcap(outs[2]), [f for f in to2 if struct.unpack_from("!I", f, 14)[0] < 8], "out2.pcap after 8")


    # NORMAL runs on an L2 switch over the --port numbers: an unknown
    # destination floods, a learned one goes to its port only. Port 1's burst
    # runs before port 2's, so A (01 -> 02) floods and teaches 01, then B
    # (02 -> 01) goes to port 1 alone.
    normal = os.path.join(work, "normal.flows")
    with open(normal, "w") as f:
        f.write("actions=NORMAL\n")
    a, b = frame(mac(2), mac(1), 1, 80), frame(mac(1), mac(2), 2, 90)
    write_pcap(in1, [(a, len(a))])
    write_pcap(in2, [(b, len(b))])
    r = run([switch, "--flows", normal, "--port", f"1={in1}:{outs[1]}", "--port", f"2={in2}:{outs[2]}",
             "--port", f"3=:{outs[3]}"])
    check(r.returncode == 0, f"NORMAL: exit status {r.returncode}: {r.stderr.strip()}")
    expect_frames(read_pcap(outs[1]), [b], "NORMAL: out1.pcap (learned)")
    expect_frames(read_pcap(outs[2]), [a], "NORMAL: out2.pcap (flooded)")
    expect_frames(read_pcap(outs[3]), [a], "NORMAL: out3.pcap (flooded)")


def mode_errors(switch, work):
    good = os.path.join(work, "good.flows")
    with open(good, "w") as f:
        f.write(FLOWS)
    bad = os.path.join(work, "bad.flows")
    with open(bad, "w") as f:
        f.write("# a typo on line 3\npriority=1,in_port=1 actions=output:2\nin_port=1,dl_dstt=02:00:00:00:00:01 "
                "actions=output:2\n")
    out = ":" + os.path.join(work, "unused.pcap")

    r = run([switch, "--flows", bad, "--port", "1=" + out])
    check(r.returncode == 1, f"bad flows file: exit status {r.returncode}, expected 1")
    check(r.stderr.startswith(bad + ':3:11: unknown field "dl_dstt"'), f"bad flows file message: {r.stderr!r}")

    r = run([switch, "--flows", os.path.join(work, "missing.flows"), "--port", "1=" + out])
    check(r.returncode == 1 and "missing.flows: cannot read" in r.stderr, f"missing flows file: {r.stderr!r}")

    for args, message in [
        ([], "--flows FILE is required"),
        (["--flows", good], "at least one --port is required"),
        (["--flows", good, "--port", "0=eth0"], "--port takes N=IFACE or N=RX.pcap:TX.pcap"),
        (["--flows", good, "--port", "x=eth0"], "--port takes N=IFACE or N=RX.pcap:TX.pcap"),
        (["--flows", good, "--port", "1=" + out, "--port", "1=" + out], "port 1 given twice"),
        (["--flows", good, "--port", "1=:"], "give an input file, an output file or both"),
        (["--flows", good, "--port", "1=" + out, "--duration", "-1"], "--duration takes a positive number"),
        (["--flows", good, "--port", "1=" + out, "--packets", "many"], "--packets takes a positive count"),
        (["--flows", good, "--port", "1=" + out, "--frobnicate"], "unknown argument '--frobnicate'"),
        (["--flows"], "--flows needs a value"),
    ]:
        r = run([switch] + args)
        check(r.returncode == 2 and message in r.stderr and "usage:" in r.stderr,
              f"{args}: exit {r.returncode}, stderr {r.stderr!r}, expected 2 and {message!r}")

    r = run([switch, "--flows", good, "--port", "1=fpnosuch0"])
    check(r.returncode == 1 and r.stderr.startswith("pcap_switch: port 1: pcap: fpnosuch0: "),
          f"missing interface: exit {r.returncode}, stderr {r.stderr!r}")
    if os.geteuid() == 0:
        check("no such interface" in r.stderr, f"missing interface says so: {r.stderr!r}")

    r = run([switch, "--flows", good, "--port", "1=" + os.path.join(work, "nosuch.pcap") + ":"])
    check(r.returncode == 1 and "nosuch.pcap" in r.stderr, f"missing input file: {r.stderr!r}")

    corrupt = os.path.join(work, "corrupt.pcap")
    write_pcap(corrupt, [(frame(mac(2), mac(1), 1, 100), 100)] * 3)
    with open(corrupt, "r+b") as f:  # the last record runs past the end of the file
        f.truncate(os.path.getsize(corrupt) - 10)
    r = run([switch, "--flows", good, "--port", f"1={corrupt}:", "--port", "2=" + out])
    check(r.returncode == 1 and "read error" in r.stderr, f"corrupt pcap: exit {r.returncode}, {r.stderr!r}")
    check(counters(r.stdout).get(1, {}).get("rx") == 2, f"corrupt pcap: the two whole records are read: {r.stdout}")


# ---- live mode --------------------------------------------------------------

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + path)
    finally:
        os.close(fd)


def raw_socket(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((iface, 0))
    s.settimeout(0.05)
    return s


def receive_test_frames(sock, count, seconds):
    got, until = [], time.time() + seconds
    while len(got) < count and time.time() < until:
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING or len(data) < 14:
            continue
        if struct.unpack_from("!H", data, 12)[0] == TEST_ETHERTYPE:
            got.append(data)
    return got


def mode_live(switch, work):
    if os.geteuid() != 0:
        print("pcap live test skipped: needs root (network namespaces, veth, raw sockets)")
        return SKIP
    ns = f"fppcap-{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        print(f"pcap live test skipped: cannot create a network namespace ({ns})")
        return SKIP
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    proc = None
    try:
        setns(f"/run/netns/{ns}")
        for conf in ("all", "default"):  # no IPv6 chatter on the wires
            with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as f:
                f.write("1")
        for a, b in (("h1", "sw1"), ("h2", "sw2")):
            subprocess.run(["ip", "link", "add", "name", a, "type", "veth", "peer", "name", b], check=True)
            subprocess.run(["ip", "link", "set", a, "up"], check=True)
            subprocess.run(["ip", "link", "set", b, "up"], check=True)
        flows = os.path.join(work, "live.flows")
        with open(flows, "w") as f:
            f.write("in_port=1 actions=output:2\nin_port=2 actions=output:1\n")
        h1, h2 = raw_socket("h1"), raw_socket("h2")
        proc = subprocess.Popen([switch, "--flows", flows, "--port", "1=sw1", "--port", "2=sw2", "--duration", "20"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The switch is up when a probe crosses it. Probes sent before it
        # was up are lost on the wire; those that crossed it are counted.
        sent, probes = 0, 0
        until = time.time() + 5
        while probes == 0 and time.time() < until and proc.poll() is None:
            h1.send(frame(BROADCAST, mac(1), 0xFFFF0000 + sent, 60))
            sent += 1
            probes = len(receive_test_frames(h2, 1, 0.1))
        check(probes != 0, "a probe frame crosses the switch within 5 s")
        probes += len(receive_test_frames(h2, sent, 0.3))  # late ones
        one_to_two = [frame(mac(2), mac(1), i, 60 + i * 61) for i in range(20)]
        two_to_one = [frame(mac(1), mac(2), 100 + i, 1514 - i * 50) for i in range(20)]
        for f in one_to_two:
            h1.send(f)
        expect_frames(receive_test_frames(h2, 20, 3), one_to_two, "h1 -> sw1 -> switch -> sw2 -> h2")
        for f in two_to_one:
            h2.send(f)
        expect_frames(receive_test_frames(h1, 20, 3), two_to_one, "h2 -> sw2 -> switch -> sw1 -> h1")
        # An interface that disappears stops the switch with an error.
        subprocess.run(["ip", "link", "del", "h1"], check=True)
        stdout, stderr = proc.communicate(timeout=10)
        status, proc = proc.returncode, None
        print(stdout, end="")
        check(status == 1 and stderr.startswith("pcap_switch: port 1 (sw1): read error: "),
              f"a vanished interface: exit status {status}, stderr {stderr!r}")
        c = counters(stdout)
        check(c.get(1, {}).get("rx") == probes + 20, f"port 1 receives the probes and 20 frames: {c.get(1)}")
        check(c.get(2, {}).get("rx") == 20, f"port 2 receives 20 frames and not its own transmissions: {c.get(2)}")
        check(c.get(2, {}).get("tx") == probes + 20 and c.get(1, {}).get("tx") == 20, f"tx counters: {c}")
        check(c.get(1, {}).get("tx_errors") == 0 and c.get(2, {}).get("tx_errors") == 0, f"no tx errors: {c}")
        check(c.get(2, {}).get("rx_errors") == 0, f"no read error on port 2: {c}")

        # SIGTERM stops it cleanly, with its report.
        proc = subprocess.Popen([switch, "--flows", flows, "--port", "2=sw2"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
        status, proc = proc.returncode, None
        check(status == 0 and stderr == "" and stdout.startswith("port 2 (sw2): rx 0 "),
              f"SIGTERM: exit status {status}, stdout {stdout!r}, stderr {stderr!r}")
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        libc.setns(home, CLONE_NEWNET)
        os.close(home)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    return 0


def main():
    if len(sys.argv) != 4 or sys.argv[2] not in ("files", "errors", "live"):
        print(__doc__)
        return 2
    switch, mode, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    # CTest's timeout sends SIGTERM: unwind so that `finally` cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    status = {"files": mode_files, "errors": mode_errors, "live": mode_live}[mode](switch, work)
    if status == SKIP:
        return SKIP
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print(f"pcap_switch {mode}: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
