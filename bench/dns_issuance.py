"""Benchmark: a whole wildcard issuance (`*.example.test` + `example.test`) by dns-01,
timed as the wall time of the `certplan apply` process, against a local BIND 9
(RFC 2136 with TSIG) and Pebble resolving through it (real validation, default
nonce rejection, no authorization reuse, PEBBLE_VA_NOSLEEP=1).

The first run creates the ACME account and issues; the others are
`apply --replace wild`. Phases come from the apply's own log lines, stamped as
they arrive: start -> order created, -> every TXT on every authoritative server
("challenge(s) in place"), -> issued, -> process exit (install, state).

    .venv/bin/python -m bench.dns_issuance [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from tests.integration.apply_project import CertplanProject
from tests.servers.bind import BindServer, start_bind
from tests.servers.pebble import start_pebble
from tests.servers.project_config import pebble_config

PHASES = (("order", ": order https://"), ("dns ready", "challenge(s) in place"),
          ("issued", ": issued serial "))

# What the peers wait for DNS alone, before the CA is even asked (issue 4).
PEERS = [
    ["certbot (dns-rfc2136)", "fixed sleep, --dns-rfc2136-propagation-seconds", "60"],
    ["acme.sh", "fixed sleep before its first DoH check", "20"],
    ["lego", "polls every 2 s (first check at once)", "0 to 2 per miss"],
]


def write_project(root: Path, ns1: BindServer, pebble_dir: str, pebble_bundle: str,
                  http_port: int) -> None:
    (root / "specs").mkdir(parents=True)
    (root / "tsig.key").write_text(ns1.tsig_secret + "\n")
    (root / "certplan.toml").write_text(pebble_config(
        pebble_dir, pebble_bundle, http_port, email="bench@example.test",
        resolvers=[ns1.server], authoritative_port=ns1.port,
        extra=f"""[providers.bind]
type = "rfc2136"
server = "{ns1.server}"
tsig_name = "{ns1.tsig_name}"
tsig_secret = {{ file = "{root / 'tsig.key'}" }}
"""))
    (root / "specs" / "wild.toml").write_text("""
[[certificate]]
name = "wild"
domains = ["*.example.test", "example.test"]
[certificate.challenge]
type = "dns-01"
provider = "bind"
""")


def one_run(project: CertplanProject, replace: bool) -> dict[str, float]:
    args = ["apply", "--auto-approve"] + (["--replace", "wild"] if replace else [])
    start = time.monotonic()
    proc = project.popen(*args)
    assert proc.stderr is not None
    marks: dict[str, float] = {}
    for line in proc.stderr:
        for phase, needle in PHASES:
            if needle in line and phase not in marks:
                marks[phase] = time.monotonic() - start
    proc.wait()
    total = time.monotonic() - start
    if proc.returncode != 0 or len(marks) != len(PHASES):
        out = proc.stdout.read() if proc.stdout else ""
        raise SystemExit(f"apply failed (exit {proc.returncode}):\n{out}")
    marks["exit"] = total
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="issuances (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="certplan-bench-") as tmp:
        ns1 = start_bind(Path(tmp) / "ns1")
        pebble = start_pebble(Path(tmp) / "pebble", dns_server=ns1.server, authz_reuse=0)
        try:
            project = CertplanProject(Path(tmp) / "ops", pebble)
            write_project(project.root, ns1, pebble.directory_url, pebble.ca_bundle,
                          pebble.http_port)
            runs = [one_run(project, replace=i > 0) for i in range(args.runs)]
        finally:
            pebble.stop()
            ns1.stop()
    rows = []
    for i, m in enumerate(runs):
        rows.append([i + 1, "issue (new account)" if i == 0 else "renew (--replace)",
                     f"{m['order']:.2f}", f"{m['dns ready'] - m['order']:.2f}",
                     f"{m['issued'] - m['dns ready']:.2f}", f"{m['exit']:.2f}"])
    median = statistics.median(m["exit"] for m in runs)
    dns_median = statistics.median(m["dns ready"] - m["order"] for m in runs)
    print(tabulate(rows, headers=["run", "kind", "start -> order (s)",
                                  "order -> TXT on every NS (s)", "-> issued (s)",
                                  "apply wall time (s)"], tablefmt="github"))
    print(f"\nmedian apply wall time: {median:.2f} s; median dns-01 present + "
          f"propagation check: {dns_median:.2f} s\n")
    print(tabulate([["certplan", "polls every authoritative NS, 0.05 s first, back-off",
                     f"{dns_median:.2f} (measured)"], *PEERS],
                   headers=["client", "DNS wait", "seconds"], tablefmt="github"))


if __name__ == "__main__":
    main()
