"""Benchmark: how long the dns-01 check waits beyond the record's actual visibility.

Two real BIND servers play a zone's two nameservers (ns1 at 127.0.0.1, ns2 at ::1,
one port). The record is sent to ns1 at once and to ns2 after a delay, from a
second thread; "visible" is when ns2 acknowledged the update (both servers then
answer it), "passed" is when Dns01Validator.check() returned. The difference is
the waiting certplan adds. Target: under 0.5 s. Peers: certbot's rfc2136 plugin
sleeps 60 s, acme.sh 20 s before its first check, lego polls every 2 s.

    .venv/bin/python -m bench.dns_propagation [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from tabulate import tabulate

from certplan.model.dns import DnsSettings
from certplan.providers import PROVIDERS
from certplan.providers.base import Provider
from certplan.validators.base import Challenge
from certplan.validators.dns01.validator import Dns01Validator
from tests.servers.bind import BindServer, Zone, port_free_on, start_bind

DELAYS = (0.0, 0.3, 1.0, 2.5)


def provider_for(server: BindServer, label: str) -> Provider:
    import os

    os.environ["BENCH_TSIG_SECRET"] = server.tsig_secret
    return PROVIDERS.get("rfc2136")(label, {
        "server": server.server, "tsig_name": server.tsig_name,
        "tsig_secret": {"env": "BENCH_TSIG_SECRET"}})


def one_run(ns1: BindServer, ns2: BindServer, delay: float, run: int) -> dict[str, float]:
    settings = DnsSettings(resolvers=[ns1.server], authoritative_port=ns1.port)
    validator = Dns01Validator(provider_for(ns1, "ns1"), settings)
    late = provider_for(ns2, "ns2")
    ch = Challenge(identifier=f"run{run}.example.test", wildcard=False, type="dns-01",
                   token=f"token-{run}", key_authorization=f"token-{run}.thumb")
    visible: list[float] = []

    def add_late() -> None:
        time.sleep(delay)
        late.add_txt(f"_acme-challenge.{ch.identifier}", ch.dns_value)
        visible.append(time.monotonic())

    validator.present([ch])
    start = time.monotonic()
    worker = threading.Thread(target=add_late)
    worker.start()
    try:
        validator.check([ch], time.monotonic() + 30)
        passed = time.monotonic()
    finally:
        worker.join()
        validator.cleanup([ch])
        late.delete_txt(f"_acme-challenge.{ch.identifier}", ch.dns_value)
    return {"visible": visible[0] - start, "passed": passed - start,
            "lag": max(0.0, passed - visible[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per delay")
    args = parser.parse_args()
    zone = Zone("example.test", {"ns1.example.test": "127.0.0.1", "ns2.example.test": "::1"})
    with tempfile.TemporaryDirectory(prefix="certplan-bench-") as tmp:
        port = port_free_on(["127.0.0.1", "::1"])
        ns1 = start_bind(Path(tmp) / "ns1", [zone], ["127.0.0.1"], port)
        ns2 = start_bind(Path(tmp) / "ns2", [zone], ["::1"], port, tsig_secret=ns1.tsig_secret)
        rows = []
        try:
            run = 0
            for delay in DELAYS:
                lags, passes = [], []
                for _ in range(args.runs):
                    run += 1
                    result = one_run(ns1, ns2, delay, run)
                    lags.append(result["lag"])
                    passes.append(result["passed"])
                rows.append([f"{delay:.1f}", f"{statistics.mean(passes):.3f}",
                             f"{statistics.median(lags):.3f}", f"{max(lags):.3f}"])
        finally:
            ns2.stop()
            ns1.stop()
    print(tabulate(rows, headers=["ns2 gets record after (s)", "check passed after (s)",
                                  "lag median (s)", "lag max (s)"], tablefmt="github"))
    worst = max(float(r[3]) for r in rows)
    print(f"\nworst wait beyond visibility: {worst:.3f} s (target < 0.5 s)")


if __name__ == "__main__":
    main()
