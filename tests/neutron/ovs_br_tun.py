#!/usr/bin/env python3
"""Open vSwitch check of the Neutron preset: the agent-built br-tun's flows
(printed by flowpipe) are loaded into ovs-vswitchd and a few hundred packets
are traced (with -generate, so table 10 learns) on both sides. Reuses
tests/ovs/ovs_oracle.py as a library (its Ovs class and run_case); exit 77
when Open vSwitch is not installed."""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ovs"))
import ovs_oracle  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not shutil.which("ovs-vswitchd") or not shutil.which("ovsdb-server"):
        print("SKIP: ovs-vswitchd is not installed (Debian: apt-get install openvswitch-switch)")
        return ovs_oracle.SKIP
    tmp = tempfile.mkdtemp(prefix="flowpipe-neutron-ovs-")
    ovs = ovs_oracle.Ovs(tmp)
    ok = False
    try:
        ovs.start()
        d = os.path.join(tmp, "br-tun-agent")
        os.mkdir(d)
        ovs_oracle.run([a.driver, "gen", d], ovs.env)
        ok = ovs_oracle.run_case(ovs, a.driver, d)
    except Exception as e:
        print("ERROR: %s" % e)
    finally:
        ovs.stop()
        if a.keep or not ok:
            print("files kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
