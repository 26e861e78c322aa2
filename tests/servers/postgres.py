"""A throwaway PostgreSQL cluster for the postgres state backend's tests.

Debian's `postgresql` package provides the binaries (/usr/lib/postgresql/N/bin);
the fixture runs `initdb` into a temp folder and `postgres -D` on a free loopback
port, as the unprivileged `postgres` system user when the tests run as root (the
server refuses to run as root), and stops it by PID. Durability is switched off:
the cluster lives for one test session.

`pg_database` gives each test a fresh database with two roles: a writer (may
create the schema; what apply uses) and a reader that the writer's future schemas
and tables are granted to (USAGE and SELECT: what CI gets for plan).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.ports import free_port

ADMIN = "certplan_admin"


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make deps` installs Debian's "
                           "postgresql package")
    return found[-1]


def _as_server_user() -> tuple[Callable[[], None] | None, int, int]:
    """preexec_fn, uid and gid for the server: the `postgres` user when root."""
    if os.geteuid() != 0:
        return None, os.geteuid(), os.getegid()
    user = pwd.getpwnam("postgres")

    def drop() -> None:
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return drop, user.pw_uid, user.pw_gid


@dataclass
class PgDatabase:
    server: PostgresServer
    name: str
    writer_dsn: str
    reader_dsn: str
    reader: str


@dataclass
class PostgresServer:
    workdir: Path
    port: int
    password: str
    proc: subprocess.Popen[bytes]

    def dsn(self, user: str, password: str, dbname: str = "postgres") -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    @property
    def admin_dsn(self) -> str:
        return self.dsn(ADMIN, self.password)

    def admin(self, *statements: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.dsn(ADMIN, self.password, dbname), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    def create_database(self, name: str) -> PgDatabase:
        writer, reader = f"{name}_writer", f"{name}_reader"
        wpw, rpw = secrets.token_hex(12), secrets.token_hex(12)
        self.admin(
            f"CREATE ROLE {writer} LOGIN PASSWORD '{wpw}'",
            f"CREATE ROLE {reader} LOGIN PASSWORD '{rpw}'",
            f"CREATE DATABASE {name} OWNER {writer}",
        )
        self.admin(  # default privileges belong to a database
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {writer} GRANT USAGE ON SCHEMAS TO {reader}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {writer} GRANT SELECT ON TABLES TO {reader}",
            dbname=name)
        return PgDatabase(self, name, self.dsn(writer, wpw, name), self.dsn(reader, rpw, name),
                          reader)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_postgres() -> PostgresServer:
    # not under pytest's tmp folders: their parents are 0700 root, and the server
    # runs as the postgres user
    workdir = Path(tempfile.mkdtemp(prefix="certplan-pg-"))
    drop, uid, gid = _as_server_user()
    password = secrets.token_hex(16)
    (workdir / "pw").write_text(password + "\n")
    (workdir / "sock").mkdir()
    for path in (workdir, workdir / "pw", workdir / "sock"):
        os.chown(path, uid, gid)
    log = workdir / "postgres.log"
    subprocess.run([pg_bin("initdb"), "-D", str(workdir / "data"), "-U", ADMIN,
                    "--pwfile", str(workdir / "pw"), "--auth", "scram-sha-256",
                    "--no-sync", "-E", "UTF8", "--locale", "C"],
                   preexec_fn=drop, check=True, capture_output=True, cwd=workdir, timeout=120)
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [pg_bin("postgres"), "-D", str(workdir / "data"), "-p", str(port),
             "-h", "127.0.0.1", "-k", str(workdir / "sock"), "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            preexec_fn=drop, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    server = PostgresServer(workdir, port, password, proc)
    _wait_ready(server, log)
    return server


def _wait_ready(server: PostgresServer, log: Path, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"postgres exited: {log.read_text(errors='replace')}")
        try:
            psycopg.connect(server.admin_dsn, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.05)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


_numbers = itertools.count(1)


@pytest.fixture
def pg_database(postgres: PostgresServer) -> PgDatabase:
    """A fresh database (and its writer and reader roles) for one test."""
    return postgres.create_database(f"t{os.getpid()}_{next(_numbers)}")
