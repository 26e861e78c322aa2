"""Planner benchmark: N certificates (specs across files, and state), planned.

Run: .venv/bin/python -m bench.plan_bench [N ...]     (default: 100 1000 10000)

For each N it generates a project in a temp folder (100 certificates per spec
file, one state file each, installed files on disk; 1 in 10 due for renewal, 1
in 20 new, 1 in 50 with an installed file missing), then measures
- in process: load (load_project + the state backend's load()), observe (each
  installed target asked of its installer) and make_plan, best of 3;
- the whole `certplan plan --no-refresh` process (text, and again with
  --format json): wall time and peak RSS (os.wait4's rusage of that child).
It also times `certplan --help` (startup cost of the CLI). Targets on the 2-core
machine: 10,000 certificates in < 2 s wall and < 300 MB peak, linear growth;
`--help` < 0.3 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tabulate import tabulate

AT = datetime(2026, 6, 1, tzinfo=UTC)
CERTPLAN = str(Path(sys.executable).parent / "certplan")
PER_FILE = 100
INSTALLED = b"installed\n"
INSTALLED_SHA = hashlib.sha256(INSTALLED).hexdigest()
CONFIG = """\
[defaults]
ca = "letsencrypt"
email = "ops@example.com"
agree_tos = true
"""


def _spec(i: int, root: Path) -> str:
    return (f'[[certificate]]\nname = "c{i:05d}"\n'
            f'domains = ["c{i}.example.com", "www.c{i}.example.com"]\n\n'
            f'[certificate.challenge]\ntype = "http-01"\nwebroot = "/srv/www/c{i}"\n\n'
            f'[[certificate.install]]\nkey_file = "{root}/out/c{i}.key"\n'
            f'fullchain_file = "{root}/out/c{i}.pem"\n\n')


def _record(i: int, root: Path) -> dict[str, object]:
    from certplan.installers.files import FilesTarget
    from certplan.model.installed import fingerprint_of
    from certplan.model.spec import CertSpec

    age = 70 if i % 10 == 0 else 20  # 1 in 10 past 2/3 of its 90 days: due
    nb = AT - timedelta(days=age)
    target = FilesTarget(key_file=f"{root}/out/c{i}.key", fullchain_file=f"{root}/out/c{i}.pem")
    parts = {path: INSTALLED_SHA for path in target.files().values()}
    spec = CertSpec(name=f"c{i:05d}", domains=[f"c{i}.example.com", f"www.c{i}.example.com"],
                    key="ec-256", challenge={"type": "http-01", "webroot": "/x"})  # type: ignore[arg-type]
    directory = "https://acme-v02.api.letsencrypt.org/directory"

    def ts(value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    return {
        "format_version": 1, "name": spec.name, "domains": spec.domains, "key_type": "ec-256",
        "ca": "letsencrypt", "ca_directory": directory,
        "created_at": ts(nb), "renewals": 0,
        "certificate": {"serial": f"{i:032x}", "not_before": ts(nb),
                        "not_after": ts(nb + timedelta(days=90)), "issuer": "CN=Bench CA",
                        "fingerprint_sha256": "00" * 32, "chain_pem": "-----BEGIN...\n",
                        "issued_at": ts(nb)},
        "installs": [{"installer": "files", "digest": target.digest(), "status": "installed",
                      "fingerprint": fingerprint_of(parts), "parts": parts,
                      "installed_at": ts(nb)}],
    }


def generate(root: Path, n: int) -> None:
    (root / "specs").mkdir(parents=True)
    (root / "state").mkdir()
    (root / "out").mkdir()
    for i in range(n):  # the installed files, as apply left them (1 in 50 missing: install)
        if i % 50 != 7:
            (root / "out" / f"c{i}.key").write_bytes(INSTALLED)
            (root / "out" / f"c{i}.pem").write_bytes(INSTALLED)
    (root / "certplan.toml").write_text(CONFIG)
    for start in range(0, n, PER_FILE):
        text = "".join(_spec(i, root) for i in range(start, min(n, start + PER_FILE)))
        (root / "specs" / f"s{start // PER_FILE:04d}.toml").write_text(text)
    for i in range(n):
        if i % 20 == 5:  # 1 in 20 has no state yet: issue
            continue
        (root / "state" / f"c{i:05d}.json").write_text(
            json.dumps(_record(i, root), indent=2, sort_keys=True))
    (root / "state" / "_state.json").write_text(
        json.dumps({"format_version": 1, "lineage": "bench", "serial": n}))


def in_process(root: Path) -> tuple[float, float, float, int]:
    """Best-of-3 seconds for loading, observing and make_plan; number of changes."""
    from certplan.core.plan import make_plan
    from certplan.load import load_project
    from certplan.observe.gather import observe
    from certplan.store.backends import open_state_backend

    loads, observes, plans, changes = [], [], [], 0
    for _ in range(3):
        t0 = time.perf_counter()
        project = load_project(root)
        state = open_state_backend(project).load()
        t1 = time.perf_counter()
        obs = observe(project, state.records, refresh_ari=False)
        t2 = time.perf_counter()
        plan = make_plan(project.desired, state.records, obs, AT)
        t3 = time.perf_counter()
        loads.append(t1 - t0)
        observes.append(t2 - t1)
        plans.append(t3 - t2)
        changes = len(plan.changes)
    return min(loads), min(observes), min(plans), changes


def child(args: list[str], cwd: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def main(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"certplan-bench-{n}-") as tmp:
            root = Path(tmp)
            generate(root, n)
            load, observe, plan, changes = in_process(root)
            cmd = [CERTPLAN, "-C", str(root), "plan", "--no-refresh", "--at", AT.isoformat(),
                   "--detailed-exitcode"]
            wall, peak, code = min(child(cmd) for _ in range(3))
            assert code == 2, f"plan exited {code}"
            json_wall, json_peak, _ = min(child([*cmd, "--format", "json"]) for _ in range(3))
            rows.append([n, changes, f"{load:.3f}", f"{observe:.3f}", f"{plan:.3f}", f"{wall:.3f}",
                         f"{peak:.0f}", f"{wall / n * 1e6:.0f}", f"{json_wall:.3f}",
                         f"{json_peak:.0f}"])
            print(f"N={n} done", file=sys.stderr, flush=True)
    print(tabulate(rows, headers=["N", "changes", "load s", "observe s", "make_plan s",
                                  "plan wall s", "peak MB", "µs/cert", "json wall s",
                                  "json peak MB"]))
    print("(load, observe, make_plan: in process, best of 3; plan: the whole `certplan plan "
          "--no-refresh` process, text output, best of 3; json: the same with --format json)")
    helps = [child([CERTPLAN, "--help"])[0] for _ in range(7)]
    print(f"\ncertplan --help: median {statistics.median(helps):.3f} s, "
          f"best {min(helps):.3f} s (7 runs)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000, 10000])
