"""One certificate installed to 20 SSH targets: wall time of whole `certplan apply`
processes against 20 real sshd "hosts" on loopback (tests/servers/sshd.py).

First row: the first apply (issue from a local Pebble, then install everywhere).
Then, for each --parallel, the installed files are deleted on every host and
`apply` puts them back (observe: one look per host; install: look, then one
round trip for write + rename + check + reload), each host over one connection.
Printed, not asserted. Run: `python -m bench.ssh_fleet [--hosts 20] [--runs 3]`.

Each remote command runs through the login shell of the remote user: on a host
whose shell start-up is slow (a heavy ~/.bashrc), every round trip pays for it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from tests.servers.pebble import PebbleServer, start_pebble
from tests.servers.project_config import pebble_config
from tests.servers.sshd import SshClient, SshServer, start_sshd


def write_project(root: Path, pebble: PebbleServer, client: SshClient,
                  hosts: list[SshServer], base: Path) -> None:
    (root / "specs").mkdir(parents=True)
    http_port = pebble.http_port
    (root / "certplan.toml").write_text(pebble_config(
        pebble.directory_url, pebble.ca_bundle, http_port, email="bench@example.test",
        resolvers=[f"127.0.0.1:{pebble.dns_port}"]))
    lines = ["[[certificate]]", 'name = "fleet"', 'domains = ["fleet.example.test"]',
             "[certificate.challenge]", 'type = "http-01"', "standalone = true",
             f'listen = "127.0.0.1:{http_port}"']
    for i, host in enumerate(hosts):
        folder = base / f"host{i}"
        lines += ["[[certificate.install]]", 'type = "ssh"', 'host = "127.0.0.1"',
                  f"port = {host.port}", 'user = "root"',
                  f"identity_file = {{ file = {json.dumps(str(client.identity))} }}",
                  f"known_hosts = {json.dumps(str(client.known_hosts))}",
                  f'key_file = "{folder}/tls/site.key"',
                  f'fullchain_file = "{folder}/tls/site.pem"',
                  f'check = "test -s {folder}/tls/site.pem"',
                  f'reload = "touch {folder}/reloaded"']
    (root / "specs" / "fleet.toml").write_text("\n".join(lines) + "\n")


def timed_apply(root: Path, parallel: int) -> float:
    started = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "certplan", "-C", str(root), "apply",
                          "--auto-approve", "--no-refresh", "--parallel", str(parallel)],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if res.returncode != 0:
        raise SystemExit(f"apply failed:\n{res.stdout}\n{res.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="certplan-bench-ssh-") as tmp:
        base = Path(tmp)
        client = SshClient.create(base / "client")
        hosts: list[SshServer] = []
        pebble = start_pebble(base / "pebble", nonce_reject=0, authz_reuse=0)
        try:
            hosts = [start_sshd(base / f"sshd{i}", client) for i in range(args.hosts)]
            root = base / "ops"
            write_project(root, pebble, client, hosts, base)
            first = timed_apply(root, 8)
            rows.append(["issue + install", 8, f"{first:.2f}", "", "", _logins(hosts)])
            for parallel in (1, 4, 8, 20):
                before = _logins(hosts)
                times = []
                for _ in range(args.runs):
                    for i in range(args.hosts):
                        for name in ("site.key", "site.pem"):
                            (base / f"host{i}" / "tls" / name).unlink()
                    times.append(timed_apply(root, parallel))
                rows.append(["reinstall (files gone)", parallel,
                             f"{statistics.median(times):.2f}", f"{min(times):.2f}",
                             f"{max(times):.2f}", (_logins(hosts) - before) // args.runs])
        finally:
            for host in hosts:
                host.stop()
            pebble.stop()
    print(tabulate(rows, headers=["apply", "--parallel", "median s", "min s", "max s",
                                  "ssh logins per run"]))
    print(f"(one certificate, {args.hosts} ssh targets on {args.hosts} sshd; whole "
          f"`certplan apply` processes, {args.runs} runs each)")


def _logins(hosts: list[SshServer]) -> int:
    return sum(h.logins() for h in hosts)


if __name__ == "__main__":
    main()
