#!/usr/bin/env python3
"""Sends commands to a dpdk_switch control socket, one per argument, and prints
the replies; exits 1 at the first reply that does not end in OK (the reply's
ERROR line goes to stderr). For scripts and tests that have no socat.

    switch-control.py SOCKET COMMAND [COMMAND...]
"""
import socket
import sys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    for cmd in sys.argv[2:]:
        s.sendall((cmd + "\n").encode())
        buf = b""
        # A reply is lines of output, then "OK" or "ERROR: <sentence>".
        while not (buf.endswith(b"OK\n") or (b"ERROR: " in buf and buf.endswith(b"\n"))):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        text = buf.decode()
        if not text.endswith("OK\n"):
            sys.stdout.write(text[: text.rfind("ERROR: ")] if "ERROR: " in text else text)
            print(f"{cmd}: {text.strip().splitlines()[-1] if text.strip() else 'no reply'}", file=sys.stderr)
            return 1
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
