#!/usr/bin/env python3
"""Open vSwitch as the oracle for flowpipe's flows, traces and outputs.

Starts its own ovsdb-server and ovs-vswitchd in userspace under a temporary
directory (--enable-dummy=override --disable-system, bridge br0 with
datapath_type=dummy fail-mode=secure, one dummy port per OpenFlow port the
flows and packets use, ofport_request=N), loads each case's flows with
ovs-ofctl add-flows, traces every packet with ofproto/trace over one unixctl
connection (JSON-RPC, no process per packet), maps datapath ports to OpenFlow
ports with dpif/show, and hands the results to ovs_oracle_driver, which traces
the same packets through flowpipe and compares them. Cases with learns are
traced with -generate and their tables dumped after the first packet list and
at the end (after DIR/delete's strict deletes), for the driver to compare;
gen-random-learn makes random ones (--learn-seeds, and --own-learn-seeds
where packets look up what they learn). Both daemons are stopped
by pid at the end, on failure too.

Exit status: 0 no differences, 1 differences or an error, 77 skipped (Open
vSwitch not installed).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from ovs_daemons import OvsDaemons, run

SKIP = 77


class Ovs(OvsDaemons):
    def start(self):
        self.start_daemons()
        run(["ovs-vsctl", "--db=" + self.db, "add-br", "br0", "--", "set", "bridge", "br0",
             "datapath_type=dummy", "fail-mode=secure"], self.env)
        self.ports = set()

    def add_ports(self, numbers):
        cmd = ["ovs-vsctl", "--db=" + self.db]
        for n in sorted(set(numbers) - self.ports):
            cmd += ["--", "add-port", "br0", "p%d" % n, "--", "set", "interface", "p%d" % n, "type=dummy",
                    "ofport_request=%d" % n]
            self.ports.add(n)
        if len(cmd) > 2:
            run(cmd, self.env)

    def dp_to_of(self):
        out = self.appctl("dpif/show")
        m = {}
        for line in out.splitlines():
            g = re.match(r"\s+(\S+) (\d+)/(\d+):", line)
            if g:
                m[int(g.group(3))] = int(g.group(2))
        return m


def ports_used(flows, packets):
    nums = set()
    for text in flows + packets:
        for m in re.finditer(r"(?:in_port=|output:|resubmit\()(\d+)", text):
            nums.add(int(m.group(1)))
        for m in re.finditer(r"actions=(.*)", text):
            for tok in m.group(1).split(","):
                if tok.isdigit():
                    nums.add(int(tok))
    return {n for n in nums if 0 < n < 0xff00}


def top_level(actions):
    out, depth, cur = [], 0, ""
    for c in actions:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    if cur:
        out.append(cur)
    return out


def lines(path):
    if not os.path.exists(path):
        return []
    return [l for l in open(path).read().splitlines() if l.strip()]


def run_case(ovs, driver, d):
    flows = lines(d + "/flows")
    packets = lines(d + "/packets")
    # Learning cases: every packet traced with -generate (learn side effects
    # happen), the whole bridge dumped after DIR/packets (DIR/ovs-tables1),
    # then DIR/packets2 traced, DIR/delete's strict deletes done and the
    # bridge dumped again (DIR/ovs-tables2); the driver compares the tables
    # DIR/table names. DIR/ports: more ports than the flows name (learned
    # outputs).
    generate = bool(lines(d + "/generate"))
    packets2 = lines(d + "/packets2")
    extra = {int(x) for l in lines(d + "/ports") for x in l.split(",")}
    ovs.add_ports(ports_used(flows, packets + packets2) | extra)
    run(["ovs-ofctl", "del-flows", "br0"], ovs.env)
    run(["ovs-ofctl", "add-flows", "br0", d + "/flows"], ovs.env)
    dp = ovs.dp_to_of()
    with open(d + "/ovs-ports", "w") as f:
        f.write(",".join(str(n) for n in sorted(ovs.ports)) + "\n")
    t0 = time.time()
    res = []
    for i, p in enumerate(packets + packets2):
        if generate and i == len(packets):
            with open(d + "/ovs-tables1", "w") as f:
                f.write(run(["ovs-ofctl", "dump-flows", "br0"], ovs.env))
        args = ["br0", p] + (["-generate"] if generate else [])
        out = ovs.appctl("ofproto/trace", *args)
        flow = re.search(r"^Flow: (.*)$", out, re.M).group(1)
        final = re.search(r"^Final flow: (.*)$", out, re.M).group(1)
        if final == "unchanged":
            final = flow
        acts = re.search(r"^Datapath actions: (.*)$", out, re.M).group(1)
        ports = [str(dp.get(int(t), "dp%s" % t)) for t in top_level(acts) if t.isdigit()]
        res.append("Final flow: " + final)
        res.append("Output: " + (",".join(ports) if ports else "drop"))
    if generate:
        for spec in lines(d + "/delete"):
            run(["ovs-ofctl", "--strict", "del-flows", "br0", spec], ovs.env)
        with open(d + "/ovs-tables2", "w") as f:
            f.write(run(["ovs-ofctl", "dump-flows", "br0"], ovs.env))
    dt = time.time() - t0
    with open(d + "/ovs", "w") as f:
        f.write("\n".join(res) + "\n")
    print("%s: %d packets traced by Open vSwitch in %.1fs%s" % (d, len(packets) + len(packets2), dt,
                                                              " (with -generate)" if generate else ""), flush=True)
    r = subprocess.run([driver, "compare", d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout, end="", flush=True)
    return r.returncode == 0


def run_syntax(ovs, driver, d):
    """Learn texts through ovs-ofctl parse-flow: each as written, then as flowpipe printed it."""
    run([driver, "gen-learn-syntax", d], ovs.env)
    res = []
    for flow, printed in zip(lines(d + "/syntax"), open(d + "/printed").read().splitlines()):
        for text in (flow, printed):
            if text == "-":
                res.append("-")
                continue
            r = subprocess.run(["ovs-ofctl", "parse-flow", text], env=ovs.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
            res.append("ok" if r.returncode == 0 else "error")
    with open(d + "/ovs-syntax", "w") as f:
        f.write("\n".join(res) + "\n")
    r = subprocess.run([driver, "compare-syntax", d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout, end="", flush=True)
    return r.returncode == 0


def run_known(ovs, driver, d):
    """The reported differences: each small case must still differ (else its mark goes);
    the fixed ones (DIR/agree) must agree."""
    run([driver, "gen-learn-known", d], ovs.env)
    ok = True
    for name in lines(d + "/agree"):
        if not run_case(ovs, driver, os.path.join(d, name)):
            print("LEARN CASE DIFFERS (fixed before, must agree): %s" % name)
            ok = False
    for name in lines(d + "/cases"):
        c = os.path.join(d, name)
        reason = lines(c + "/known")[0]
        if run_case(ovs, driver, c):
            print("KNOWN DIFFERENCE GONE (drop its mark here and in gen-random-learn): %s: %s" % (name, reason))
            ok = False
        else:
            print("KNOWN DIFFERENCE (reported) %s: %s" % (name, reason), flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--seeds", default="1,2,3,4,5,6,7,8,9,10")
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--packets", type=int, default=2000)
    # Random tables with learns (gen-random-learn): seeds whose learns add 4-60
    # flows, modify 11-671 and rewrite static flows (all of them), and hit
    # their limits (7, 9, 10); DIR/packets2 has half as many packets as
    # DIR/packets.
    ap.add_argument("--learn-seeds", default="2,7,9,10,11,16")
    ap.add_argument("--learn-flows", type=int, default=120)
    ap.add_argument("--learn-packets", type=int, default=1000)
    # The same with `own-lookups`: packets also look up the tables they learn
    # into, and must not see their own learns (OVS's table versions).
    ap.add_argument("--own-learn-seeds", default="1,3,5,8")
    ap.add_argument("--only-learn", action="store_true", help="only the random learn cases")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    if not shutil.which("ovs-vswitchd") or not shutil.which("ovsdb-server"):
        print("SKIP: ovs-vswitchd is not installed (Debian: apt-get install openvswitch-switch)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="flowpipe-ovs-")
    ovs = Ovs(tmp)
    ok = True
    try:
        ovs.start()
        cases = []
        seeds = [(x, []) for x in a.learn_seeds.split(",") if x]
        seeds += [(x, ["own-lookups"]) for x in a.own_learn_seeds.split(",") if x]
        for s, opts in seeds:
            c = os.path.join(tmp, "random-learn-%s%s" % (s, "-own" if opts else ""))
            os.mkdir(c)
            print(run([a.driver, "gen-random-learn", s, str(a.learn_flows), str(a.learn_packets), c] + opts, ovs.env),
                  end="")
            cases.append(c)
        if not a.only_learn:
            b = os.path.join(tmp, "brtun")
            os.mkdir(b)
            run([a.driver, "gen-brtun", b], ovs.env)
            cases.append(b)
            for variant in ("nodvr", "dvr"):
                c = os.path.join(tmp, "brtun-learn-" + variant)
                os.mkdir(c)
                run([a.driver, "gen-brtun-learn", c, variant], ovs.env)
                cases.append(c)
            c = os.path.join(tmp, "learn-options")
            os.mkdir(c)
            run([a.driver, "gen-learn-options", c], ovs.env)
            cases.append(c)
            for s in [x for x in a.seeds.split(",") if x]:
                c = os.path.join(tmp, "random-%s" % s)
                os.mkdir(c)
                run([a.driver, "gen-random", s, str(a.flows), str(a.packets), c], ovs.env)
                cases.append(c)
        for c in cases:
            ok = run_case(ovs, a.driver, c) and ok
        if not a.only_learn:
            c = os.path.join(tmp, "learn-syntax")
            os.mkdir(c)
            ok = run_syntax(ovs, a.driver, c) and ok
            c = os.path.join(tmp, "learn-known")
            os.mkdir(c)
            ok = run_known(ovs, a.driver, c) and ok
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
