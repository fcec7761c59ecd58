#!/usr/bin/python3
"""Bounded load test of `mien serve` over loopback: a fixed number of POST /v1/analyze
requests of one photo at 1, 4 and 16 concurrent clients (each client one keep-alive
connection), reporting requests/s and p50/p99 latency as a Markdown table. Not a ctest
entry: the numbers depend on the machine and its load.

usage: bench/serve_load.py [--mien build/mien] [--photo tests/data/scenes/faceapi_sample1.jpg]
                           [--requests 64] [--clients 1,4,16] [--threads N] [--fast]
Starts its own server on a free loopback port (--port 0) with --max-requests at least the
largest client count, so no request is refused; the clients run on the same machine.
"""
import argparse
import http.client
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "serve"))
from serve_util import Server  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def run_level(srv, photo, clients, total):
    latencies, errors = [], []
    lock = threading.Lock()
    counter = iter(range(total))

    def client():
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=300)
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/analyze", body=photo,
                             headers={"Content-Type": "image/jpeg"})
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                status = str(e)
                conn.close()
                conn = http.client.HTTPConnection(srv.host, srv.port, timeout=300)
            dt = time.perf_counter() - t0
            with lock:
                if status == 200:
                    latencies.append(dt)
                else:
                    errors.append(status)
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"clients": clients, "ok": len(latencies), "errors": len(errors),
            "rps": len(latencies) / wall if wall > 0 else 0.0,
            "p50": percentile(latencies, 50) * 1000, "p99": percentile(latencies, 99) * 1000,
            "wall": wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mien", default=os.path.join(ROOT, "build", "mien"))
    ap.add_argument("--photo", default=os.path.join(ROOT, "tests", "data", "scenes",
                                                    "faceapi_sample1.jpg"))
    ap.add_argument("--requests", type=int, default=64, help="requests per level")
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="mien serve --threads")
    ap.add_argument("--fast", action="store_true", help="mien serve --fast")
    a = ap.parse_args()
    levels = [int(c) for c in a.clients.split(",")]
    with open(a.photo, "rb") as f:
        photo = f.read()
    options = ["--threads", str(a.threads), "--max-requests", str(max(levels + [a.threads])),
               "--quiet"] + (["--fast"] if a.fast else [])
    srv = Server(a.mien, *options)
    try:
        run_level(srv, photo, 1, 2)  # warm-up: first-use allocations, page cache
        rows = [run_level(srv, photo, c, a.requests) for c in levels]
    finally:
        srv.stop()
    print("mien serve %s, %s (%d bytes), %d requests per level, %d cores\n" %
          (" ".join(options), os.path.basename(a.photo), len(photo), a.requests,
           os.cpu_count() or 0))
    print("| clients | requests/s | p50 ms | p99 ms | errors |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %d | %.2f | %.0f | %.0f | %d |" % (r["clients"], r["rps"], r["p50"], r["p99"],
                                                   r["errors"]))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
