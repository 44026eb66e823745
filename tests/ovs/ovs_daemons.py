"""Open vSwitch in userspace for the oracle tests (ovs_oracle.py, normal_oracle.py).

`OvsDaemons(d)` runs its own ovsdb-server and ovs-vswitchd under directory d
(--enable-dummy=override --disable-system: dummy datapaths and netdevs, no
kernel module), talks to ovs-vswitchd over one unixctl connection (JSON-RPC,
no process per request) and stops both daemons by pid, SIGTERM then SIGKILL,
whatever happened before. The scripts build their bridges on top.
"""
import json
import os
import signal
import socket
import subprocess
import time


def run(cmd, env, check=True):
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


class OvsDaemons:
    def __init__(self, d):
        self.d = d
        self.env = dict(os.environ, OVS_RUNDIR=d, OVS_LOGDIR=d, OVS_DBDIR=d, OVS_SYSCONFDIR=d, OVS_PKGDATADIR=d)
        self.db = "unix:%s/db.sock" % d
        self.sock = None
        self.next_id = 0
        self.buf = b""

    def vsctl(self, *args):
        return run(["ovs-vsctl", "--db=" + self.db, "--timeout=20"] + list(args), self.env)

    def start_daemons(self, init=()):
        """Starts ovsdb-server and ovs-vswitchd; `init` is more of `ovs-vsctl init`'s
        transaction (settings ovs-vswitchd must see when it starts)."""
        d = self.d
        # A SIGTERM (ctest's timeout, a kill) must still reach the callers'
        # `finally: stop()`: turn it into SystemExit, which unwinds through it.
        signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(SystemExit(1)))
        run(["ovsdb-tool", "create", d + "/conf.db", "/usr/share/openvswitch/vswitch.ovsschema"], self.env)
        run(["ovsdb-server", "--remote=punix:" + d + "/db.sock", "--pidfile=" + d + "/ovsdb.pid", "--detach",
             "--log-file=" + d + "/ovsdb.log", d + "/conf.db"], self.env)
        run(["ovs-vsctl", "--db=" + self.db, "--no-wait", "init"] + list(init), self.env)
        run(["ovs-vswitchd", "--enable-dummy=override", self.db, "--pidfile=" + d + "/vswitchd.pid", "--detach",
             "--log-file=" + d + "/vswitchd.log", "--disable-system"], self.env)
        pid = open(d + "/vswitchd.pid").read().strip()
        self.ctl = "%s/ovs-vswitchd.%s.ctl" % (d, pid)

    def stop(self):
        if self.sock:
            self.sock.close()
        for name in ("vswitchd.pid", "ovsdb.pid"):
            try:
                pid = int(open(os.path.join(self.d, name)).read().strip())
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    try:
                        os.kill(pid, 0)
                        time.sleep(0.05)
                    except ProcessLookupError:
                        break
                else:
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass

    # ---- unixctl JSON-RPC: one connection, many requests ----
    def appctl(self, method, *params):
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(self.ctl)
        self.next_id += 1
        self.sock.sendall(json.dumps({"method": method, "params": list(params), "id": self.next_id}).encode())
        dec = json.JSONDecoder()
        while True:
            try:
                text = self.buf.decode().lstrip()
                obj, end = dec.raw_decode(text)
                self.buf = text[end:].encode()
                break
            except ValueError:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    raise RuntimeError("ovs-vswitchd closed the control connection")
                self.buf += chunk
        if obj.get("error"):
            raise RuntimeError("%s %s: %s" % (method, " ".join(params), obj["error"]))
        return obj["result"]
