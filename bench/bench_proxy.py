"""How many small request/response exchanges per second the link proxy forwards.

Three processes, so that the figure is the proxy's and not the GIL's: an echo
server (subprocess), a load generator (subprocess, T threads each doing
request/response of 64 bytes for D seconds), and the proxy (this process, one
``ProxyHub`` thread, as inside a run). Two connection patterns: one long-lived
connection per thread ("keep-alive", like a pooled peer client) and a new
connection per request ("connect", like ``http.client`` without pooling).
Each is measured direct (no proxy) and through the proxy.

Run: ``python bench/bench_proxy.py [--seconds 2] [--threads 4]``. The machine
is shared, so figures are noisy; compare direct vs proxied in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.backends.proxy import ProxyHub  # noqa: E402
from harness.cluster import Address  # noqa: E402

ECHO = r"""
import selectors, socket, sys
sel = selectors.DefaultSelector()
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0)); ls.listen(1024); ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ)
print(ls.getsockname()[1], flush=True)
while True:
    for key, _ in sel.select():
        if key.fileobj is ls:
            try:
                c, _ = ls.accept()
            except BlockingIOError:
                continue
            c.setblocking(False); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sel.register(c, selectors.EVENT_READ)
        else:
            c = key.fileobj
            try:
                d = c.recv(65536)
            except OSError:
                d = b""
            if d:
                c.sendall(d)
            else:
                sel.unregister(c); c.close()
"""

LOAD = r"""
import socket, sys, threading, time, json
port, mode, threads, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
msg = b"x" * 64
counts = [0] * threads
def worker(i):
    end = time.monotonic() + seconds
    s = None
    while time.monotonic() < end:
        if s is None:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(msg)
        got = 0
        while got < len(msg):
            got += len(s.recv(65536))
        counts[i] += 1
        if mode == "connect":
            s.close(); s = None
    if s is not None:
        s.close()
ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
t0 = time.monotonic()
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps({"requests": sum(counts), "seconds": time.monotonic() - t0}))
"""


def measure(port: int, mode: str, threads: int, seconds: float) -> float:
    out = subprocess.run([sys.executable, "-c", LOAD, str(port), mode, str(threads), str(seconds)],
                         check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    r = json.loads(out)
    return r["requests"] / r["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    echo = subprocess.Popen([sys.executable, "-c", ECHO], stdout=subprocess.PIPE, text=True)
    try:
        assert echo.stdout is not None
        port = int(echo.stdout.readline())
        with ProxyHub() as hub:
            proxied = hub.add_link(("a", "b"), Address(host="127.0.0.1", port=port)).port
            print(f"64-byte request/response, {args.threads} client threads, {args.seconds:g} s each")
            for mode in ("keep-alive", "connect"):
                direct = measure(port, mode, args.threads, args.seconds)
                via = measure(proxied, mode, args.threads, args.seconds)
                print(f"  {mode:10s}  direct {direct:8.0f} req/s   through proxy {via:8.0f} req/s")
    finally:
        echo.kill()
        echo.wait()


if __name__ == "__main__":
    main()
