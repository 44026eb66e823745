#!/usr/bin/env python3
"""End-to-end test of examples/dpdk_switch on pcap files (net_pcap vdevs).

One host's switch with the Neutron preset: network net1 (VXLAN 1001), a VM
port and an underlay port, both net_pcap vdevs reading and writing files of
a private directory. The switch starts --paused; the test gives the l2pop
entries over the control socket (the flooding entry and vm2's MAC and IP on
10.0.0.2), checks every reply, then resumes it. Input: on the VM port an ARP
request for vm2 and an ICMP echo to vm2; on the underlay a VXLAN frame from
10.0.0.2 carrying vm2's echo reply, one for a VNI nobody has, and an ARP
frame that is no tunnel traffic. The output pcap of each port must equal,
byte for byte, the frames built here independently of the library (outer
headers, checksums and the VXLAN source port included): the ARP reply and
the echo reply to the VM, the echo request encapsulated towards 10.0.0.2 with
the next hop's MAC (and nothing else: no ARP on the underlay). Then `show`
must have counted the drops. The same again with net1 a Geneve network
(VNI 1001): the reply comes in a Geneve frame with options (skipped), frames
with the C bit (critical options) and the O bit (a control packet) are
dropped and counted, and the request leaves in a Geneve frame built here.
Then flows mode (a flows file, plain ports and a
GRE tunnel from the command line) on the same kind of files; SIGTERM ends a
running switch with exit 0, `show` printed and the socket removed; and bad
arguments, a missing port and a failed EAL init each give one error line and
a non-zero exit.

Exit 77 (CTest skip) when not root or when the binary was not built.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ip(s):
    return socket.inet_aton(s)


VM1_MAC, VM2_MAC = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"
VM1_IP, VM2_IP = "192.168.1.1", "192.168.1.2"
LOCAL_IP, REMOTE_IP = "10.0.0.1", "10.0.0.2"
LOCAL_MAC, NEXT_HOP = "02:00:00:00:0a:01", "02:00:00:00:00:fe"
VNI = 1001


def pad(frame):
    return frame + bytes(max(0, 60 - len(frame)))


def arp(op, src_mac, dst_mac, sha, spa, tha, tpa):
    return pad(mac(dst_mac) + mac(src_mac) + b"\x08\x06" +
               struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac(sha) + ip(spa) + mac(tha) + ip(tpa))


def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ttl=64, flags=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, flags, ttl, proto, 0, ip(src), ip(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def icmp_echo(src_mac, dst_mac, src_ip, dst_ip, reply):
    body = struct.pack("!BBHHH", 0 if reply else 8, 0, 0, 0x1234, 1) + b"flowpipe-e2e-ping"
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    return pad(mac(dst_mac) + mac(src_mac) + b"\x08\x00" + ipv4(src_ip, dst_ip, 1, body))


def vxlan_source_port(inner):
    """io/tunnel.hpp's flow hash (FNV-1a over the MACs, IPv4 proto and addresses, L4 ports)."""
    h = 2166136261

    def mix(bs):
        nonlocal h
        for b in bs:
            h = ((h ^ b) * 16777619) & 0xFFFFFFFF

    mix(inner[:12])
    if len(inner) >= 34 and inner[12:14] == b"\x08\x00":
        iph = inner[14:]
        mix(iph[9:10])
        mix(iph[12:20])
        ihl = (iph[0] & 15) * 4
        frag = struct.unpack("!H", iph[6:8])[0] & 0x1FFF
        if frag == 0 and ihl >= 20 and len(inner) >= 14 + ihl + 4:
            mix(iph[ihl:ihl + 4])
    h ^= h >> 16
    return 49152 + (h & 0x3FFF)


def vxlan(outer_src_mac, outer_dst_mac, src, dst, vni, inner, sport=None):
    if sport is None:
        sport = vxlan_source_port(inner)
    udp = struct.pack("!HHHH", sport, 4789, 8 + 8 + len(inner), 0) + struct.pack("!II", 0x08000000, vni << 8) + inner
    return mac(outer_dst_mac) + mac(outer_src_mac) + b"\x08\x00" + ipv4(src, dst, 17, udp, flags=0x4000)


def geneve(outer_src_mac, outer_dst_mac, src, dst, vni, inner, sport=None, options=b"", flags=0):
    """RFC 8926: version 0, options length in 4-byte words, O/C flags, protocol 0x6558, VNI."""
    if sport is None:
        sport = vxlan_source_port(inner)
    payload = struct.pack("!BBHI", len(options) // 4, flags, 0x6558, vni << 8) + options + inner
    udp = struct.pack("!HHHH", sport, 6081, 8 + len(payload), 0) + payload
    return mac(outer_dst_mac) + mac(outer_src_mac) + b"\x08\x00" + ipv4(src, dst, 17, udp, flags=0x4000)


def gre(outer_src_mac, outer_dst_mac, src, dst, key, inner):
    return (mac(outer_dst_mac) + mac(outer_src_mac) + b"\x08\x00" +
            ipv4(src, dst, 47, struct.pack("!HHI", 0x2000, 0x6558, key) + inner, flags=0x4000))


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("=IIII", 1700000000 + i, 0, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    data = open(path, "rb").read()
    magic = struct.unpack("=I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise ValueError(path + ": not a pcap file in host order")
    out, at = [], 24
    while at < len(data):
        _, _, incl, _ = struct.unpack("=IIII", data[at:at + 16])
        out.append(data[at + 16:at + 16 + incl])
        at += 16 + incl
    return out


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, flush=True)


def eal_args(prefix):
    return ["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--file-prefix", prefix,
            "--log-level", "lib.eal:error", "--no-telemetry"]


def run_quick(binary, args, want_rc, want_text, what):
    r = subprocess.run([binary] + args, capture_output=True, text=True, timeout=30)
    lines = [l for l in r.stderr.splitlines() if l.startswith("dpdk_switch:")]
    check(r.returncode == want_rc, "%s: exit %d, expected %d (stderr: %s)" % (what, r.returncode, want_rc, r.stderr))
    check(len(lines) == 1 and want_text in lines[0], "%s: one error line with %r, got %r" % (what, want_text, lines))


def command(sock, line):
    sock.sendall((line + "\n").encode())
    reply = b""
    while not (reply.endswith(b"OK\n") or (b"ERROR: " in reply and reply.endswith(b"\n"))):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply.decode()


def remove_runtime_dirs(prefix):
    """EAL leaves /var/run/dpdk/<file-prefix> behind even with --no-shconf: remove ours."""
    for p in (prefix, prefix + "b", prefix + "c", prefix + "f", prefix + "g", prefix + "s"):
        path = os.path.join("/var/run/dpdk", p)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)


def main():
    binary = sys.argv[1]
    if os.geteuid() != 0:
        print("SKIP: dpdk_switch's pcap test needs root (DPDK's EAL)")
        return SKIP
    if not os.path.exists(binary):
        print("SKIP: %s was not built (libdpdk not found at configure time)" % binary)
        return SKIP

    prefix = "fpsw%d" % os.getpid()
    try:
        return run(binary, prefix)
    finally:
        remove_runtime_dirs(prefix)


def run_neutron(binary, prefix, d, kind):
    """The Neutron preset with net1 of type `kind` (vxlan or geneve), on pcap files in d."""
    vm_in, vm_out = os.path.join(d, kind + "_vm_in.pcap"), os.path.join(d, kind + "_vm_out.pcap")
    un_in, un_out = os.path.join(d, kind + "_under_in.pcap"), os.path.join(d, kind + "_under_out.pcap")
    ctl = os.path.join(d, "ctl.sock")

    arp_request = arp(1, VM1_MAC, "ff:ff:ff:ff:ff:ff", VM1_MAC, VM1_IP, "00:00:00:00:00:00", VM2_IP)
    echo = icmp_echo(VM1_MAC, VM2_MAC, VM1_IP, VM2_IP, False)
    echo_reply = icmp_echo(VM2_MAC, VM1_MAC, VM2_IP, VM1_IP, True)
    underlay_arp = arp(1, "02:00:00:00:0a:02", "ff:ff:ff:ff:ff:ff", "02:00:00:00:0a:02", REMOTE_IP,
                       "00:00:00:00:00:00", LOCAL_IP)
    remote = ("02:00:00:00:0a:02", LOCAL_MAC, REMOTE_IP, LOCAL_IP)
    if kind == "vxlan":
        from_remote = vxlan(*remote, VNI, echo_reply, sport=50000)
        foreign_vni = vxlan(*remote, 4242, echo_reply, sport=50001)
        under_frames = [from_remote, foreign_vni, underlay_arp]
        expected_under = [vxlan(LOCAL_MAC, NEXT_HOP, LOCAL_IP, REMOTE_IP, VNI, echo)]
        counts = [("port.net_pcap1.rx_packets", "3"), ("port.net_pcap1.dropped.not_tunnel", "1"),
                  ("port.net_pcap1.dropped.no_flow", "1"), ("tunnels.decapsulated", "2"),
                  ("tunnels.decap_dropped.not_ipv4", "1")]
    else:
        # Two options (class, type, length in words, data) the switch skips.
        options = bytes.fromhex("0102030111223344") + bytes.fromhex("ffff0002") + bytes(8)
        from_remote = geneve(*remote, VNI, echo_reply, sport=50000, options=options)
        foreign_vni = geneve(*remote, 4242, echo_reply, sport=50001)
        critical = geneve(*remote, VNI, echo_reply, sport=50002, options=options, flags=0x40)
        control = geneve(*remote, VNI, echo_reply, sport=50003, flags=0x80)
        under_frames = [from_remote, foreign_vni, critical, control, underlay_arp]
        expected_under = [geneve(LOCAL_MAC, NEXT_HOP, LOCAL_IP, REMOTE_IP, VNI, echo)]
        counts = [("port.net_pcap1.rx_packets", "5"), ("port.net_pcap1.dropped.not_tunnel", "3"),
                  ("port.net_pcap1.dropped.no_flow", "1"), ("tunnels.decapsulated", "2"),
                  ("tunnels.decap_dropped.not_ipv4", "1"), ("tunnels.decap_dropped.geneve_critical_options", "1"),
                  ("tunnels.decap_dropped.geneve_oam", "1"), ("tunnel.100.kind", "geneve")]
    write_pcap(vm_in, [arp_request, echo])
    write_pcap(un_in, under_frames)
    expected_vm = [arp(2, VM2_MAC, VM1_MAC, VM2_MAC, VM2_IP, VM1_MAC, VM1_IP), echo_reply]

    own = ["--neutron", "--local-ip", LOCAL_IP, "--network", "net1,%s,%d" % (kind, VNI),
           "--vm-port", "net_pcap0,ofport=5,net=net1",
           "--underlay", "net_pcap1,ip=%s,mac=%s,next-hop-mac=%s" % (LOCAL_IP, LOCAL_MAC, NEXT_HOP),
           "--control", ctl, "--paused", "--packets", str(2 + len(under_frames)), "--duration", "15"]
    args = eal_args(prefix) + ["--vdev", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (vm_in, vm_out),
                               "--vdev", "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (un_in, un_out), "--"] + own
    proc = subprocess.Popen([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = "", ""
    try:
        line = proc.stdout.readline()
        check(line.strip() == "ready", "%s: the switch prints ready, got %r (stderr: %s)" %
              (kind, line, proc.stderr.read() if line == "" else ""))
        if line.strip() == "ready":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(ctl)
            for c in ["add-fdb net1 %s 00:00:00:00:00:00 0.0.0.0" % REMOTE_IP,
                      "add-fdb net1 %s %s %s" % (REMOTE_IP, VM2_MAC, VM2_IP)]:
                r = command(s, c)
                check(r == "OK\n", "%s: %s -> %r" % (kind, c, r))
            r = command(s, "add-fdb net7 %s %s %s" % (REMOTE_IP, VM2_MAC, VM2_IP))
            check(r.startswith("ERROR: unknown network"), "%s: a bad add-fdb -> %r" % (kind, r))
            r = command(s, "dump-flows table=20")
            check(("dl_dst=" + VM2_MAC) in r and r.endswith("OK\n"), "%s: dump-flows table=20 -> %r" % (kind, r))
            check(command(s, "resume") == "OK\n", "resume")
            s.close()
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        check(False, "%s: the switch did not stop after --packets (stderr: %s)" % (kind, err))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(proc.returncode == 0, "%s: exit status %s (stderr: %s)" % (kind, proc.returncode, err))
    check(not os.path.exists(ctl), "%s: the control socket is removed at exit" % kind)

    got_vm = read_pcap(vm_out) if os.path.exists(vm_out) else None
    got_under = read_pcap(un_out) if os.path.exists(un_out) else None
    check(got_vm == expected_vm, "%s: VM port output: got %s, expected %s" %
          (kind, [f.hex() for f in got_vm or []], [f.hex() for f in expected_vm]))
    check(got_under == expected_under, "%s: underlay output: got %s, expected %s" %
          (kind, [f.hex() for f in got_under or []], [f.hex() for f in expected_under]))
    show = dict(l.split(" ", 1) for l in out.splitlines()[1:] if " " in l)
    for key, want in counts + [("port.net_pcap0.rx_packets", "2"), ("port.net_pcap0.tx_packets", "2"),
                               ("port.net_pcap1.tx_packets", "1"), ("tunnels.encapsulated", "1"),
                               ("dpdk.mbufs_in_use", "0")]:
        check(show.get(key) == want, "%s: show: %s is %s, expected %s" % (kind, key, show.get(key), want))


def run(binary, prefix):
    with tempfile.TemporaryDirectory(prefix="fp-dpdk-e2e-") as d:
        ctl = os.path.join(d, "ctl.sock")
        run_neutron(binary, prefix, d, "vxlan")
        run_neutron(binary, prefix + "g", d, "geneve")
        arp_request = arp(1, VM1_MAC, "ff:ff:ff:ff:ff:ff", VM1_MAC, VM1_IP, "00:00:00:00:00:00", VM2_IP)
        echo = icmp_echo(VM1_MAC, VM2_MAC, VM1_IP, VM2_IP, False)

        # Flows mode: plain ports and a GRE tunnel given on the command line.
        flows = os.path.join(d, "flows.txt")
        with open(flows, "w") as f:
            f.write("# ARP to ports 2 and 3 (a copy for 2), IPv4 into the tunnel with key 77\n"
                    "in_port=1,arp actions=output:2,output:3\n"
                    "in_port=1,ip actions=set_tunnel:77,output:10\n")
        p1_in, p2_out, p3_out, u_out = (os.path.join(d, n)
                                        for n in ("p1_in.pcap", "p2_out.pcap", "p3_out.pcap", "u2_out.pcap"))
        empty = os.path.join(d, "empty.pcap")
        write_pcap(p1_in, [arp_request, echo])
        write_pcap(empty, [])
        args = eal_args(prefix + "f") + [
            "--vdev", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (p1_in, os.path.join(d, "p1_out.pcap")),
            "--vdev", "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (empty, p2_out),
            "--vdev", "net_pcap2,rx_pcap=%s,tx_pcap=%s" % (empty, u_out),
            "--vdev", "net_pcap3,rx_pcap=%s,tx_pcap=%s" % (empty, p3_out), "--",
            "--flows", flows, "--port", "net_pcap0,ofport=1", "--port", "net_pcap1,ofport=2",
            "--port", "net_pcap3,ofport=3",
            "--underlay", "net_pcap2,ip=%s,mac=%s,next-hop-mac=%s" % (LOCAL_IP, LOCAL_MAC, NEXT_HOP),
            "--tunnel", "10,gre,10.0.0.9", "--tunnel", "11,geneve,10.0.0.8", "--packets", "2", "--duration", "15", "--flow-cache", "256"]
        r = subprocess.run([binary] + args, capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and r.stdout.startswith("ready\n"), "flows mode run: exit %d, stdout %r, stderr %r" %
              (r.returncode, r.stdout[:200], r.stderr))
        for name, path in (("2", p2_out), ("3", p3_out)):
            check(os.path.exists(path) and read_pcap(path) == [arp_request],
                  "flows mode: port %s gets the ARP frame" % name)
        check("\ndpdk.mbufs_in_use 0\n" in r.stdout, "flows mode: every mbuf back in the pool")
        check("\nflow_cache.entries 256\n" in r.stdout, "flows mode: --flow-cache gives a cache")
        check("\ntunnel.11.kind geneve\n" in r.stdout, "flows mode: --tunnel takes geneve")
        want = [gre(LOCAL_MAC, NEXT_HOP, LOCAL_IP, "10.0.0.9", 77, echo)]
        got = read_pcap(u_out) if os.path.exists(u_out) else None
        check(got == want, "flows mode: underlay output %s, expected %s" %
              ([f.hex() for f in got or []], [f.hex() for f in want]))

        # SIGTERM stops the loop cleanly: exit 0, `show` printed, socket gone.
        args = eal_args(prefix + "s") + ["--vdev", "net_null0", "--", "--flows", flows, "--port",
                                         "net_null0,ofport=1", "--control", ctl, "--duration", "15"]
        proc = subprocess.Popen([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = proc.stdout.readline()
            check(ready == "ready\n", "SIGTERM run: ready, got %r" % ready)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=10)
            check(proc.returncode == 0, "SIGTERM: exit %s (stderr %s)" % (proc.returncode, err))
            check("\nport.net_null0.rx_packets " in "\n" + out, "SIGTERM: show printed at exit")
            check(not os.path.exists(ctl), "SIGTERM: control socket removed")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

        # Failures before the loop: one line, non-zero.
        base = eal_args(prefix + "b") + ["--vdev", "net_null0", "--"]
        run_quick(binary, base + ["--neutron", "--network", "n,vxlan,5", "--vm-port", "net_nope9,ofport=3,net=n"],
                  1, 'no DPDK port named "net_nope9"', "a missing port")
        run_quick(binary, base + ["--flows"], 2, "--flows needs a value", "bad arguments")
        run_quick(binary, base + ["--neutron", "--network", "n,stt,5"], 2, "type must be vxlan, geneve or gre",
                  "a bad network type")
        run_quick(binary, base + ["--flows", flows, "--flow-cache", "lots"], 2, "--flow-cache must be", "bad --flow-cache")
        run_quick(binary, base + ["--neutron", "--network", "n,vxlan,5", "--vm-port", "net_null0,ofport=3,net=m"],
                  1, 'unknown network "m"', "a VM port on an unknown network")
        run_quick(binary, ["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--file-prefix",
                           prefix + "c", "--vdev", "net_bogus0", "--", "--neutron", "--network", "n,vxlan,5"],
                  1, "EAL initialisation failed", "a failed EAL init")

    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("dpdk_switch pcap end-to-end: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
