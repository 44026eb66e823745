#!/usr/bin/env python3
"""Open vSwitch as the oracle for flowpipe's NORMAL action (action/normal.hpp).

Starts its own ovsdb-server and ovs-vswitchd in userspace under a temporary
directory (--enable-dummy=override --disable-system), bridge br0 with
datapath_type=dummy, fail-mode=secure and `actions=NORMAL` as its only flow,
access ports in VLANs 10, 10, 20 and 0 and trunks (all VLANs, 0/20/30, 10/30),
port numbers fixed with ofport_request, every port's transmissions captured
with the dummy netdev's options:tx_pcap (the bridge's LOCAL port too: Open
vSwitch floods to it). Frames go in with `netdev-dummy/receive`, so the switch
really learns; time is stopped (time/stop) and moved in whole seconds
(time/warp), so MAC aging is exact. After each frame: what every port
transmitted (bytes, VLAN tags included), the MAC table (`fdb/show`: port,
VLAN, MAC and age, least recently used first) and its counters
(`fdb/stats-show`: entries, learned, expired, evicted, moved).
normal_oracle_driver runs the same steps through flowpipe; every step must
agree, nothing is skipped.

Cases: unknown/known unicast, broadcast, multicast, multicast sources,
frames to their own port, MAC moves (access, trunk, VLANs), access<->trunk
tagging, VLANs a port does not carry, VID 0 and priority tags (PCP kept),
Open vSwitch's reserved destinations and near misses, aging at the exact
boundary (15 s and 40 s), the once-a-second refresh and gratuitous ARPs,
full tables (10 and 13 MACs: fair eviction, ties between ports), then
seeded random sequences (12 MACs max, 15 s aging, 28 MACs over 7 ports and
6 VLANs, time moving 0-2 s or past the aging time).

What makes Open vSwitch deterministic here:
- other_config:flow-limit=0: no datapath flow is ever installed, so every
  frame is an upcall through xlate_normal (with megaflows a frame can follow
  a cached path until the revalidators catch up with a MAC move: timing, not
  semantics);
- after `netdev-dummy/receive` we wait until the datapath counted the frame
  (dpctl/show hit+missed+lost); it is switched and transmitted by then;
- time/warp in two halves: the reply then comes from the main loop's
  poll_block, so the next loop's ofproto run (mac_learning_run, which expires
  MACs) sees the new time before the next frame is switched.

Exit status: 0 no differences, 1 differences or an error, 77 skipped (Open
vSwitch not installed).
"""
import argparse
import random
import re
import shutil
import struct
import sys
import tempfile
import time

from ovs_daemons import OvsDaemons, run

SKIP = 77
LOCAL = "LOCAL"

# OpenFlow port -> (vlan_mode, tag or trunks). The bridge's LOCAL port is a
# trunk of every VLAN in Open vSwitch, and in the driver.
PORTS = [
    (1, "access", 10),
    (2, "access", 10),
    (3, "access", 20),
    (4, "access", 0),
    (5, "trunk", []),
    (6, "trunk", [0, 20, 30]),
    (7, "trunk", [10, 30]),
]
PORT_NUMBERS = [p for p, _, _ in PORTS]


# ---- frames --------------------------------------------------------------

def mac_bytes(m):
    return m.to_bytes(6, "big")


def ipv4_udp(src_ip=0x0a000001, dst_ip=0x0a000002, payload=b"flowpipe-normal"):
    udp = struct.pack("!HHHH", 1000, 2000, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src_ip, dst_ip)
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~s & 0xffff) + hdr[12:]
    return 0x0800, hdr + udp


def arp(op, sha, spa, tha, tpa):
    return 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac_bytes(sha) + struct.pack("!I", spa) + \
        mac_bytes(tha) + struct.pack("!I", tpa)


def frame(dst, src, tci=None, body=None):
    """An Ethernet frame; tci: None untagged, else the 802.1Q TCI (PCP<<13 | VID)."""
    eth_type, payload = body if body else ipv4_udp()
    f = mac_bytes(dst) + mac_bytes(src)
    if tci is not None:
        f += struct.pack("!HH", 0x8100, tci)
    return (f + struct.pack("!H", eth_type) + payload).hex()


def gratuitous_arp(src, ip):
    return frame(BCAST, src, body=arp(1, src, ip, 0, ip))


BCAST = 0xffffffffffff
MCAST = 0x01005e000001


# ---- Open vSwitch --------------------------------------------------------

class Ovs(OvsDaemons):
    def __init__(self, d):
        super().__init__(d)
        self.received = 0
        self.pcap_pos = {}

    def start(self):
        d = self.d
        # flow-limit=0 before ovs-vswitchd starts: its upcall handler takes the limit when created.
        self.start_daemons(["--", "set", "Open_vSwitch", ".", "other_config:flow-limit=0"])
        cmd = ["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=dummy", "fail-mode=secure",
               "--", "set", "interface", "br0", "options:tx_pcap=%s/LOCAL.pcap" % d]
        for n, mode, arg in PORTS:
            cmd += ["--", "add-port", "br0", "p%d" % n]
            if mode == "access":
                cmd += ["tag=%d" % arg]
            elif arg:
                cmd += ["trunks=" + ",".join(str(v) for v in arg)]
            cmd += ["--", "set", "interface", "p%d" % n, "type=dummy", "ofport_request=%d" % n,
                    "options:tx_pcap=%s/%d.pcap" % (d, n)]
        self.vsctl(*cmd)
        run(["ovs-ofctl", "del-flows", "br0"], self.env)
        run(["ovs-ofctl", "add-flow", "br0", "actions=NORMAL"], self.env)
        self.appctl("time/stop")
        for name in [str(n) for n in PORT_NUMBERS] + [LOCAL]:
            self.pcap_pos[name] = 24  # after the file header

    def configure(self, max_entries, idle_s):
        self.vsctl("set", "bridge", "br0", "other_config:mac-table-size=%d" % max_entries,
                   "other_config:mac-aging-time=%d" % idle_s)
        self.appctl("fdb/flush", "br0")
        self.appctl("fdb/stats-clear", "br0")
        stats = self.appctl("fdb/stats-show", "br0")
        if not re.search(r"maximum MAC entries in the table: 0/%d\b" % max_entries, stats):
            raise RuntimeError("mac-table-size not applied: %s" % stats)

    def warp(self, seconds):
        # Two halves: the second is applied, and replied to, from poll_block,
        # so the main loop runs the MAC table's expiry before the next frame.
        if seconds:
            self.appctl("time/warp", str(seconds * 1000), str(seconds * 500))

    def packets_seen(self):
        # With no datapath flow allowed every upcall ends as "lost" (ENOSPC),
        # after the frame was switched and sent.
        m = re.search(r"hit:(\d+) missed:(\d+) lost:(\d+)", self.appctl("dpctl/show"))
        return int(m.group(1)) + int(m.group(2)) + int(m.group(3))

    def receive(self, port, hexframe):
        self.appctl("netdev-dummy/receive", "p%s" % port if port != LOCAL else "br0", hexframe)
        self.received += 1
        deadline = time.time() + 5
        while self.packets_seen() < self.received:
            if time.time() > deadline:
                raise RuntimeError("ovs-vswitchd did not take the frame within 5 s")
            time.sleep(0.0005)

    def transmitted(self):
        out = []
        for name in self.pcap_pos:
            path = "%s/%s.pcap" % (self.d, name)
            with open(path, "rb") as f:
                f.seek(self.pcap_pos[name])
                data = f.read()
            pos = 0
            while pos + 16 <= len(data):
                incl = struct.unpack("<IIII", data[pos:pos + 16])[2]
                if pos + 16 + incl > len(data):
                    break
                out.append((name, data[pos + 16:pos + 16 + incl].hex()))
                pos += 16 + incl
            self.pcap_pos[name] += pos
        return out

    def stats(self):
        t = self.appctl("fdb/stats-show", "br0")
        n = lambda what: re.search(what + r"\s*: (\d+)", t).group(1)
        return "stats %s learned %s expired %s evicted %s moved %s" % (
            re.search(r"table: (\d+)/", t).group(1), n("learned MAC entries"), n("expired MAC entries"),
            n("evicted MAC entries"), n("port moved MAC entries"))

    def fdb(self):
        rows = []
        for line in self.appctl("fdb/show", "br0").splitlines()[1:]:
            port, vlan, mac, age = line.split()
            rows.append("fdb %s %s %s %s" % (port, vlan, mac, age))
        return rows


def sort_key(line):
    # "tx PORT HEX" sorted as the driver sorts: by port number (LOCAL = 0xfffffffe), then bytes.
    _, port, data = line.split(" ", 2)
    return (0xfffffffe if port == LOCAL else int(port), data)


# ---- cases ---------------------------------------------------------------

def A(n):
    return 0x020000000000 | n  # locally administered unicast


def case_basics():
    s = []
    s.append((0, 1, frame(A(2), A(1))))                 # unknown unicast in VLAN 10: flood 2, 5, 7, LOCAL
    s.append((0, 2, frame(A(1), A(2))))                 # known: only port 1
    s.append((0, 1, frame(A(2), A(1))))
    s.append((1, 5, frame(A(1), A(3), 0x000a)))        # trunk, VLAN 10, to A1: port 1 untagged
    s.append((0, 1, frame(A(3), A(1))))                 # back: to trunk 5 tagged 10
    s.append((0, 3, frame(BCAST, A(4))))                # broadcast in VLAN 20: 5, 6 tagged, LOCAL
    s.append((0, 6, frame(MCAST, A(5), 0x0014)))        # multicast from trunk 6, VLAN 20: 3, 5, LOCAL
    s.append((0, 1, frame(A(1), A(1))))                 # to itself: learned on the input port, dropped
    s.append((0, 2, frame(A(1), MCAST)))                # multicast source: not learned, forwarded
    s.append((1, 4, frame(BCAST, A(6))))                # access VLAN 0: untagged everywhere
    s.append((0, 5, frame(A(6), A(7))))                 # untagged on trunk 5 = VLAN 0: to port 4
    s.append((0, 6, frame(A(7), A(6), 0x0014)))         # A6 in VLAN 20 is another MAC: flood VLAN 20
    s.append((0, 7, frame(A(2), A(8), 0x000a)))         # trunk 7 VLAN 10 to A2: port 2
    s.append((0, 7, frame(BCAST, A(8), 0x001e)))        # VLAN 30: 6, 5, LOCAL
    s.append((0, LOCAL, frame(A(8), A(11), 0x001e)))    # from the bridge's own port, to A8 on 7
    s.append((0, 7, frame(A(11), A(8), 0x001e)))        # and back to LOCAL
    return s


def case_move():
    s = []
    s.append((0, 1, frame(BCAST, A(1))))
    s.append((0, 2, frame(A(1), A(2))))                 # to port 1
    s.append((0, 2, frame(BCAST, A(1))))                # A1 moves to port 2 (same second)
    s.append((0, 1, frame(A(1), A(3))))                 # A1 now on port 2
    s.append((1, 5, frame(BCAST, A(1), 0x000a)))        # and behind the trunk
    s.append((0, 2, frame(A(1), A(2))))                 # to 5, tagged 10
    s.append((1, 7, frame(BCAST, A(1), 0x000a)))        # trunk to trunk
    s.append((0, 1, frame(A(1), A(3))))
    s.append((0, 7, frame(BCAST, A(1), 0x001e)))        # A1 in VLAN 30 too: a separate entry
    s.append((1, 2, frame(A(1), A(2))))
    return s


def case_vlans():
    s = []
    s.append((0, 1, frame(BCAST, A(1), 0x000a)))        # VID 10 tagged on an access port: dropped
    s.append((0, 1, frame(BCAST, A(1), 0x0014)))        # VID 20 too
    s.append((0, 1, frame(BCAST, A(1), 0x0000)))        # priority tag, PCP 0: VLAN 10, untagged / tagged 10
    s.append((0, 1, frame(BCAST, A(1), 0xa000)))        # priority tag, PCP 5: trunks get PCP 5, VID 10
    s.append((0, 3, frame(BCAST, A(2), 0x6000)))        # VLAN 20, PCP 3
    s.append((0, 4, frame(BCAST, A(3), 0x8000)))        # access VLAN 0, PCP 4: trunks get a priority tag
    s.append((0, 4, frame(BCAST, A(3), 0x0000)))        # PCP 0: untagged everywhere
    s.append((0, 5, frame(BCAST, A(4), 0x2000)))        # priority tag on a trunk: VLAN 0, PCP 1 kept
    s.append((0, 5, frame(BCAST, A(4), 0xe00a)))        # VLAN 10 with PCP 7 from the trunk
    s.append((0, 6, frame(BCAST, A(5), 0x000a)))        # trunk 6 does not carry 10: dropped
    s.append((0, 6, frame(BCAST, A(5))))                # untagged on 6: VLAN 0 (listed)
    s.append((0, 7, frame(BCAST, A(6))))                # untagged on 7: VLAN 0 not listed: dropped
    s.append((0, 7, frame(BCAST, A(6), 0x0000)))        # priority-tagged on 7: VLAN 0 too: dropped
    s.append((0, 7, frame(BCAST, A(6), 0x001e)))        # VLAN 30 on 7: 5, 6, LOCAL
    s.append((0, 5, frame(BCAST, A(7), 0x0fff)))        # VLAN 4095 on the all-VLAN trunk: LOCAL only
    s.append((0, 5, frame(A(5), A(8))))                 # VLAN 0 unicast to A5 (on 6)
    s.append((0, 6, frame(A(8), A(5), 0x4000)))         # priority tag back: to 5 with PCP 2, VID 0
    s.append((0, 3, frame(A(4), A(2))))                 # A4 is VLAN 0/10, not 20: flood VLAN 20
    s.append((0, 5, frame(BCAST, A(9), 0x100a)))        # DEI set, VLAN 10 (see DEI below)
    s.append((0, 7, frame(BCAST, A(9), 0xb01e)))        # DEI set, PCP 5, VLAN 30
    s.append((0, 1, frame(BCAST, A(10), 0x1000)))       # DEI set on a priority tag: VLAN 10
    return s


RESERVED = [0x0180c2000000, 0x0180c2000001, 0x0180c2000002, 0x0180c200000e, 0x0180c200000f,
            0x00e02b000000, 0x00e02b000004, 0x00e02b000006, 0x01000c000000, 0x01000ccccccc,
            0x01000ccccccd, 0x01000ccdcdcd, 0x01000cccccc0, 0x01000cccccc7]
NOT_RESERVED = [0x0180c2000010, 0x0180c2000020, 0x00e02b000001, 0x01000cccccc8, 0x01000c000001]


def case_reserved():
    s = []
    for i, d in enumerate(RESERVED):
        s.append((0, 1 + i % 2, frame(d, A(10 + i))))   # dropped: not learned either
    for i, d in enumerate(NOT_RESERVED):
        s.append((0, 5, frame(d, A(40 + i), 0x000a)))
    return s


def case_aging(idle):
    s = []
    s.append((0, 1, frame(BCAST, A(1))))
    s.append((0, 2, frame(BCAST, A(2))))
    s.append((idle - 1, 2, frame(A(1), A(2))))          # A1 aged idle-1 s: still known
    s.append((0, 1, frame(BCAST, A(1))))                # refreshed
    s.append((1, 2, frame(A(1), A(3))))                 # A2 reached idle s exactly: expired
    s.append((0, 1, frame(BCAST, A(1))))                # within the second of the refresh: age 1
    s.append((idle - 1, 2, frame(A(1), A(3))))          # A1 at idle-1 s: known
    s.append((1, 2, frame(A(1), A(3))))                 # at idle s: flooded, not learned on port 1
    s.append((0, 5, frame(BCAST, A(4), 0x000a)))
    s.append((0, 5, frame(BCAST, A(4), 0x000a)))        # same second: no refresh
    s.append((1, 1, frame(BCAST, A(5))))
    s.append((0, 5, frame(BCAST, A(4), 0x000a)))        # a second later: A4 goes behind A5 in the LRU
    s.append((idle, 2, frame(BCAST, A(6))))             # everything else expires at once
    return s


def case_gratuitous_arp():
    # Within one second Open vSwitch leaves a known MAC's age alone, except
    # for a gratuitous ARP (a request for the sender's own address, or a
    # broadcast reply): that one moves the MAC to the back of the LRU list.
    ip = 0x0a000105
    s = []
    s.append((1, 1, frame(BCAST, A(1))))
    s.append((0, 2, frame(BCAST, A(2))))
    s.append((0, 1, frame(BCAST, A(1))))                             # same second: A1 stays oldest
    s.append((0, 1, frame(BCAST, A(1), body=arp(1, A(1), ip, 0, ip + 1))))  # an ARP request, not gratuitous
    s.append((0, 1, gratuitous_arp(A(1), ip)))                       # gratuitous: A1 now newest
    s.append((0, 2, frame(BCAST, A(2), body=arp(2, A(2), ip + 2, 0, ip))))  # a broadcast reply: A2 newest
    s.append((0, 2, frame(A(1), A(2), body=arp(2, A(2), ip + 2, A(1), ip))))  # a unicast reply: not
    s.append((0, 5, gratuitous_arp(A(1), ip)))                       # moved by a gratuitous ARP, VLAN 0
    s.append((0, 7, frame(BCAST, A(1), 0x000a, arp(1, A(1), ip, 0, ip))))  # tagged 10 on trunk 7: a move
    return s


def case_full(size):
    s = []
    # Port 1 gets the most MACs, port 2 a few, the trunk some; then more MACs
    # from every port, in the same second and in later ones: ties between
    # ports with equal counts are broken as Open vSwitch's heap breaks them.
    for i in range(size - 3):
        s.append((0, 1, frame(BCAST, A(0x100 + i))))
    for i in range(3):
        s.append((0, 2, frame(BCAST, A(0x200 + i))))
    s.append((1, 1, frame(BCAST, A(0x100))))            # refreshed: port 1's oldest is now 0x101
    s.append((0, 2, frame(BCAST, A(0x200 + 3))))        # full: evicts port 1's 0x101
    s.append((0, 5, frame(BCAST, A(0x300), 0x000a)))
    for i in range(8):
        s.append((i % 2, 5, frame(BCAST, A(0x301 + i), 0x000a)))
    for i in range(6):
        s.append((0, 1 + i % 3, frame(BCAST, A(0x400 + i))))
    s.append((0, 2, frame(A(0x100), A(0x200))))         # 0x100 evicted? flooded then
    s.append((1, 1, frame(BCAST, A(0x200))))            # a move in a full table
    for i in range(size + 2):
        s.append((0, 1 + i % 7, frame(BCAST, A(0x500 + i))))  # ties all over
    return s


def case_random(seed, n):
    rng = random.Random(seed)
    macs = [A(0x1000 + i) for i in range(28)]
    ips = [0x0a000100 + i for i in range(28)]
    ports = PORT_NUMBERS + [LOCAL]
    modes = dict((p, m) for p, m, _ in PORTS)
    modes[LOCAL] = "trunk"
    s = []
    for _ in range(n):
        r = rng.random()
        dt = 0 if r < 0.55 else 1 if r < 0.85 else 2 if r < 0.97 else rng.choice([14, 15, 16])
        port = rng.choice(ports)
        mode = modes[port]
        k = rng.random()
        if k < 0.45:
            dst = rng.choice(macs)
        elif k < 0.6:
            dst = BCAST
        elif k < 0.7:
            dst = rng.choice([MCAST, 0x333300000001])
        elif k < 0.75:
            dst = rng.choice(RESERVED + NOT_RESERVED)
        else:
            dst = rng.choice(macs)
        src = rng.choice(macs) if rng.random() < 0.97 else MCAST
        v = rng.random()
        if mode == "access":
            tci = None if v < 0.8 else rng.choice([0x0000, 0x6000, 0x000a, 0x0014])
        else:
            tci = None if v < 0.2 else rng.choice([0x0000, 0xa000]) if v < 0.3 else \
                (rng.choice([0, 0, 0, 5]) << 13) | rng.choice([10, 10, 20, 20, 30, 40])
        if tci is not None and rng.random() < 0.05:
            tci |= 0x1000  # DEI
        if rng.random() < 0.05:
            i = macs.index(src) if src in macs else 0
            body = arp(1, src, ips[i], 0, ips[i])           # gratuitous ARP (request, spa == tpa)
            s.append((dt, port, frame(BCAST, src, tci, body)))
        else:
            s.append((dt, port, frame(dst, src, tci)))
    return s


def cases(seeds, n):
    out = [("basics", 2048, 300, case_basics()),
           ("move", 2048, 300, case_move()),
           ("vlans", 2048, 300, case_vlans()),
           ("reserved", 2048, 300, case_reserved()),
           ("aging", 2048, 15, case_aging(15)),
           ("aging-40", 64, 40, case_aging(40)),
           ("gratuitous-arp", 2048, 300, case_gratuitous_arp()),
           ("full", 10, 300, case_full(10)),
           ("full-13", 13, 20, case_full(13))]
    for seed in seeds:
        out.append(("random-%d" % seed, 12, 15, case_random(seed, n)))
    return out


# ---- the comparison ------------------------------------------------------

# The one aspect not compared, as action/normal.hpp says: the DEI bit of a
# received 802.1Q tag. flowpipe's flow key has no DEI (0x1000 of vlan_tci
# means "tagged"), so a tag that leaves as it came keeps the bit; Open
# vSwitch writes every tag NORMAL outputs anew, without it. For frames that
# came in with DEI set, the bit is cleared in both sides' output tags before
# they are compared; everything else about those frames is compared.
def has_dei(hexframe):
    return hexframe[24:28] == "8100" and int(hexframe[28], 16) & 1


def clear_dei(line):
    if not line.startswith("tx "):
        return line
    tx, port, data = line.split(" ", 2)
    if data[24:28] == "8100":
        data = data[:28] + "%x" % (int(data[28], 16) & ~1) + data[29:]
    return "%s %s %s" % (tx, port, data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--frames", type=int, default=250, help="frames per random case")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--show", type=int, default=10, help="differing steps to print")
    a = ap.parse_args()
    if not shutil.which("ovs-vswitchd") or not shutil.which("ovsdb-server"):
        print("SKIP: ovs-vswitchd is not installed (Debian: apt-get install openvswitch-switch)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="flowpipe-normal-")
    ovs = Ovs(tmp)
    ok = True
    t0 = time.time()
    try:
        ovs.start()
        all_cases = cases([int(x) for x in a.seeds.split(",") if x], a.frames)
        scenario = ["port %d %s %s" % (n, m, arg if m == "access" else ",".join(str(v) for v in arg))
                    for n, m, arg in PORTS] + ["port local trunk"]
        expected = []  # Open vSwitch's lines, step by step
        where = []     # (case, index in case) per step
        for name, size, idle, steps in all_cases:
            scenario.append("case %s %d %d" % (name, size, idle))
            ovs.configure(size, idle)
            for i, (dt, port, hexframe) in enumerate(steps):
                scenario.append("step %d %s %s" % (dt, port, hexframe))
                ovs.warp(dt)
                ovs.receive(port, hexframe)
                tx = sorted(("tx %s %s" % t for t in ovs.transmitted()), key=sort_key)
                expected.append(["step %d" % len(where)] + tx + ovs.fdb() + [ovs.stats()])
                where.append((name, i, dt, port, hexframe))
        n_steps = len(where)
        t_ovs = time.time() - t0
        with open(tmp + "/scenario", "w") as f:
            f.write("\n".join(scenario) + "\n")
        with open(tmp + "/ovs", "w") as f:
            f.write("\n".join(l for e in expected for l in e) + "\n")
        run([a.driver, tmp + "/scenario", tmp + "/flowpipe"], ovs.env)
        got = {}
        cur = None
        for line in open(tmp + "/flowpipe").read().splitlines():
            if line.startswith("step "):
                cur = int(line.split()[1])
                got[cur] = [line]
            else:
                got[cur].append(line)
        differences = 0
        dei = 0
        for i in range(n_steps):
            want, have = expected[i], got.get(i, [])
            if has_dei(where[i][4]):
                dei += 1
                want, have = [clear_dei(l) for l in want], [clear_dei(l) for l in have]
            if want != have:
                differences += 1
                if differences <= a.show:
                    name, j, dt, port, hexframe = where[i]
                    print("DIFFERENCE at step %d (case %s, frame %d: +%d s, in_port %s, %s)" %
                          (i, name, j, dt, port, hexframe))
                    for line in want:
                        if line not in have:
                            print("  only Open vSwitch: %s" % line)
                    for line in have:
                        if line not in want:
                            print("  only flowpipe:     %s" % line)
                    if sorted(want) == sorted(have):
                        print("  same lines, other order (MAC table LRU order):")
                        print("    Open vSwitch: %s" % " | ".join(l for l in want if l.startswith("fdb")))
                        print("    flowpipe:     %s" % " | ".join(l for l in have if l.startswith("fdb")))
        if dei:
            print("not compared: the DEI bit of the output tags of the %d frames that came in with DEI set "
                  "(flowpipe's flow key has no DEI, Open vSwitch clears it; see action/normal.hpp)" % dei)
        n_tx = sum(1 for e in expected for l in e if l.startswith("tx "))
        print("%d cases, %d frames in, %d frames out, MAC table compared after every frame; "
              "Open vSwitch %.1fs, total %.1fs" % (len(all_cases), n_steps, n_tx, t_ovs, time.time() - t0))
        if differences:
            print("%d of %d steps differ" % (differences, n_steps))
            ok = False
        else:
            print("flowpipe's NORMAL agrees with Open vSwitch on every step")
    except Exception as e:  # report, then clean up
        print("ERROR: %s" % e)
        ok = False
    finally:
        ovs.stop()
        if a.keep or not ok:
            print("files kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
