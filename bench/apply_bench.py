"""Wall time of whole `certplan apply` processes against a local Pebble.

Same conditions as ../shared/peers (Pebble with PEBBLE_VA_NOSLEEP=1,
PEBBLE_WFE_NONCEREJECT=0, PEBBLE_AUTHZREUSE=0; http-01 webroot; EC P-256; a
fresh account per run), plus one row at Pebble's default 5% nonce rejection.
The webroot is served by nginx (`--server python` uses Python's http.server as
the peers' scripts do: under 8 parallel orders it stalls Pebble's validation
fetches, about +0.8 s for 20 certificates). Printed, not asserted.
Run: `python -m bench.apply_bench [--runs N] [--server nginx|python]`.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tabulate import tabulate

from tests.servers.nginx import start_nginx
from tests.servers.pebble import PebbleServer, start_pebble
from tests.servers.project_config import pebble_config

PEERS = {1: "uacme 0.94 s, certbot 2.74 s, lego 6.13 s, acme.sh 6.06 s",
         20: "uacme 13.9 s, certbot 54.5 s, lego 122 s, acme.sh 119 s (one command each)"}


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(webroot: Path, port: int) -> ThreadingHTTPServer:
    handler = functools.partial(Quiet, directory=str(webroot))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextmanager
def webroot_server(kind: str, base: Path, port: int) -> Iterator[Path]:
    """Serve a webroot on `port`; yields the webroot folder."""
    if kind == "python":
        webroot = base / "www"
        webroot.mkdir(exist_ok=True)
        server = serve(webroot, port)
        try:
            yield webroot
        finally:
            server.shutdown()
        return
    base.chmod(0o755)  # nginx workers run as nobody
    site = start_nginx(base / f"nginx-{port}", http_port=port)
    try:
        yield site.webroot
    finally:
        site.stop()


def project(root: Path, pebble: PebbleServer, webroot: Path, count: int, tag: str) -> None:
    (root / "specs").mkdir(parents=True)
    (root / "certplan.toml").write_text(pebble_config(
        pebble.directory_url, pebble.ca_bundle, pebble.http_port, email="bench@example.test",
        resolvers=[f"127.0.0.1:{pebble.dns_port}"]))
    specs = "".join(f"""
[[certificate]]
name = "c{i}"
domains = ["c{i}-{tag}.example.test"]
[certificate.challenge]
type = "http-01"
webroot = "{webroot}"
""" for i in range(count))
    (root / "specs" / "bench.toml").write_text(specs)


def timed_apply(root: Path, parallel: int) -> float:
    started = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "certplan", "-C", str(root), "apply",
                          "--auto-approve", "--no-refresh", "--parallel", str(parallel)],
                         capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if res.returncode != 0:
        raise SystemExit(f"apply failed:\n{res.stdout}\n{res.stderr}")
    return elapsed


def timed_noop(root: Path) -> float:
    started = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "certplan", "-C", str(root), "apply",
                          "--auto-approve", "--no-refresh"], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stdout + res.stderr)
    return time.perf_counter() - started


def measure(pebble: PebbleServer, webroot: Path, base: Path, count: int, parallel: int,
            runs: int) -> list[float]:
    times = []
    for r in range(runs):
        root = base / f"p{count}-{parallel}-{r}-{time.monotonic_ns()}"
        project(root, pebble, webroot, count, f"{parallel}-{r}-{time.monotonic_ns()}")
        times.append(timed_apply(root, parallel))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", choices=["nginx", "python"], default="nginx")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="certplan-bench-") as tmp:
        base = Path(tmp)
        for reject in (0, None):
            pebble = start_pebble(base / f"pebble-{reject}", nonce_reject=reject, authz_reuse=0)
            label = "0%" if reject == 0 else "5% (default)"
            try:
                with webroot_server(args.server, base, pebble.http_port) as webroot:
                    rows += bench_rows(pebble, webroot, base, label, reject == 0, args.runs)
            finally:
                pebble.stop()
    print(tabulate(rows, headers=["certificates", "--parallel", "nonce reject",
                                  "median s", "min s", "max s", "peers (same Pebble)"]))
    print(f"(webroot served by {args.server}; whole `certplan apply` processes, "
          f"{args.runs} runs each)")


def bench_rows(pebble: PebbleServer, webroot: Path, base: Path, label: str, peers: bool,
               runs: int) -> list[list[object]]:
    rows: list[list[object]] = []
    cases = [(1, 1), (20, 1), (20, 8)] if peers else [(1, 1), (20, 8)]
    for count, parallel in cases:
        times = measure(pebble, webroot, base, count, parallel, runs)
        rows.append([count, parallel, label, f"{statistics.median(times):.2f}",
                     f"{min(times):.2f}", f"{max(times):.2f}",
                     PEERS.get(count, "") if peers else ""])
    last = sorted(base.glob("p20-8-*"))[-1]
    noop = [timed_noop(last) for _ in range(runs)]
    rows.append(["20 (none due)", "-", label, f"{statistics.median(noop):.2f}",
                 f"{min(noop):.2f}", f"{max(noop):.2f}",
                 "nothing-due x20: uacme 0.36 s, certbot 0.83 s" if peers else ""])
    return rows


if __name__ == "__main__":
    main()
