"""The postgres state backend: planning from it, and several runners sharing it.

Run: .venv/bin/python -m bench.pg_bench [--certs N] [--apply-certs M] [--runs R]

Both parts start a throwaway PostgreSQL cluster (tests/servers/postgres.py).

1. Plan: the planner bench's project of N certificates (default 10,000; see
   bench/plan_bench.py), its state once in state/ files and once pushed into
   PostgreSQL (`certplan state push`); `certplan plan --no-refresh` wall time and
   peak RSS for each, best of R (the two interleaved), and the backend's load() in
   process (connection included). Target: postgres within 1.5x of files.
2. Apply: M certificates (default 40) against Pebble (no nonce rejection, no
   authorization reuse, webroot served by nginx), `apply --parallel 4`: one
   runner with the files backend, one runner with postgres, and two runners
   (two project folders, their own keystores: two hosts) started together on
   one postgres database. Wall time until every runner has finished, R runs each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tabulate import tabulate

from bench.apply_bench import project as apply_project
from bench.apply_bench import webroot_server
from bench.plan_bench import generate
from tests.servers.pebble import PebbleServer, start_pebble
from tests.servers.postgres import PostgresServer, start_postgres

AT = datetime(2026, 6, 1, tzinfo=UTC)
CERTPLAN = str(Path(sys.executable).parent / "certplan")
ENV = "CERTPLAN_PG_DSN"
POSTGRES_STATE = f'\n[state]\nbackend = "postgres"\ndsn = {{ env = "{ENV}" }}\n'


def to_postgres(root: Path, dsn: str) -> None:
    """Switch the project in `root` to postgres and push its state there."""
    with open(root / "certplan.toml", "a") as config:
        config.write(POSTGRES_STATE)
    res = subprocess.run([CERTPLAN, "-C", str(root), "state", "push"], capture_output=True,
                         text=True, env=dict(os.environ, **{ENV: dsn}))
    if res.returncode != 0:
        raise SystemExit(f"state push failed: {res.stderr}")


def child(args: list[str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MB and exit code of one
    child process. CPU time is what a busy machine changes least."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, \
        os.waitstatus_to_exitcode(status)


def load_seconds(root: Path, runs: int) -> float:
    from certplan.load import load_project
    from certplan.store.backends import open_state_backend

    best = float("inf")
    for _ in range(runs):
        project = load_project(root)
        store = open_state_backend(project)
        t0 = time.perf_counter()
        store.load()
        best = min(best, time.perf_counter() - t0)
    return best


def plan_part(server: PostgresServer, n: int, runs: int, base: Path) -> None:
    files_root, pg_root = base / "plan-files", base / "plan-postgres"
    generate(files_root, n)
    shutil.copytree(files_root, pg_root)
    db = server.create_database("bench_plan")
    to_postgres(pg_root, db.writer_dsn)
    os.environ[ENV] = db.reader_dsn  # what CI would use: read-only
    backends = {"files": files_root, "postgres (read-only role)": pg_root}
    measured: dict[str, list[tuple[float, float, float, int]]] = {k: [] for k in backends}
    for _ in range(runs):  # interleaved, so that a busy moment hits both alike
        for label, root in backends.items():
            measured[label].append(child([CERTPLAN, "-C", str(root), "plan", "--no-refresh",
                                          "--at", AT.isoformat(), "--detailed-exitcode"]))
    rows = []
    best: dict[str, tuple[float, float]] = {}
    for label, root in backends.items():
        if any(code != 2 for *_, code in measured[label]):
            raise SystemExit(f"plan ({label}) did not exit 2")
        wall = min(m[0] for m in measured[label])
        cpu = min(m[1] for m in measured[label])
        peak = max(m[2] for m in measured[label])
        best[label] = (wall, cpu)
        rows.append([label, n, f"{load_seconds(root, runs):.3f}", f"{wall:.3f}", f"{cpu:.3f}",
                     f"{peak:.0f}"])
    pg, files = best["postgres (read-only role)"], best["files"]
    print(tabulate(rows, headers=["state backend", "certificates", "load() s", "plan wall s",
                                  "plan CPU s", "peak MB"]))
    print(f"postgres / files: wall {pg[0] / files[0]:.2f}x, CPU {pg[1] / files[1]:.2f}x "
          f"(target: within 1.5x); best of {runs}, interleaved\n")


def start_apply(root: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([CERTPLAN, "-C", str(root), "apply", "--auto-approve",
                             "--no-refresh", "--parallel", "4"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def timed_runners(roots: list[Path], env: dict[str, str]) -> float:
    started = time.perf_counter()
    procs = [start_apply(root, env) for root in roots]
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"apply failed:\n{out}\n{err}")
    return time.perf_counter() - started


def apply_part(server: PostgresServer, m: int, runs: int, base: Path) -> None:
    pebble: PebbleServer = start_pebble(base / "pebble", nonce_reject=0, authz_reuse=0)
    rows = []
    try:
        with webroot_server("nginx", base, pebble.http_port) as webroot:
            for label, runners, backend in (("one runner, files", 1, "files"),
                                            ("one runner, postgres", 1, "postgres"),
                                            ("two runners, one postgres", 2, "postgres")):
                times = []
                for r in range(runs):
                    tag = f"{backend}{runners}-{r}-{time.monotonic_ns()}"
                    db = server.create_database(f"bench_{tag.replace('-', '_')}")
                    env = dict(os.environ, **{ENV: db.writer_dsn})
                    roots = []
                    for i in range(runners):
                        root = base / f"{tag}-host{i}"
                        apply_project(root, pebble, webroot, m, tag)  # same names: one fleet
                        if backend == "postgres":
                            with open(root / "certplan.toml", "a") as config:
                                config.write(POSTGRES_STATE)
                        roots.append(root)
                    times.append(timed_runners(roots, env))
                rows.append([label, m, f"{statistics.median(times):.2f}",
                             f"{min(times):.2f}", f"{max(times):.2f}"])
                print(f"{label} done", file=sys.stderr, flush=True)
    finally:
        pebble.stop()
    print(tabulate(rows, headers=["runners", "certificates", "median s", "min s", "max s"]))
    print(f"(whole `certplan apply --parallel 4` processes until all have finished; "
          f"{runs} runs each; Pebble without nonce rejection or authorization reuse)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--certs", type=int, default=10_000)
    parser.add_argument("--apply-certs", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="certplan-pg-bench-") as tmp:
            plan_part(server, args.certs, args.runs, Path(tmp))
            apply_part(server, args.apply_certs, args.runs, Path(tmp))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
