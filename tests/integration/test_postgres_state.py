"""The postgres state backend through the command line, against a real PostgreSQL:
`state migrate` / `pull` / `push` keep lineage and serial and refuse another
lineage; a read-only role plans, lists and shows but writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from certplan.model.errors import StateError
from certplan.model.secrets import SecretRef
from certplan.store.files import FilesBackend
from certplan.store.postgres import PostgresBackend
from tests.servers.postgres import PgDatabase
from tests.unit.test_plan import desired, record
from tests.unit.test_state import full_record

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ENV = "CERTPLAN_PG_DSN"


def make_project(root: Path, backend: str) -> Path:
    (root / "specs").mkdir(parents=True)
    (root / "certplan.toml").write_text(
        f'[state]\nbackend = "{backend}"\ndsn = {{ env = "{ENV}" }}\n')
    return root


def certplan(root: Path, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **{ENV: dsn})
    return subprocess.run([sys.executable, "-m", "certplan", "-C", str(root), *args],
                          text=True, capture_output=True, env=env, cwd=REPO, timeout=60,
                          stdin=subprocess.DEVNULL)


def files_state(folder: Path, names: list[str]) -> None:
    store = FilesBackend(folder)
    for i, name in enumerate(names):
        rec = full_record(name) if i % 2 == 0 else \
            record(desired(name, [f"{name}.example.com"]), cert=False)
        store.write(rec, i)


def json_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.json"))}


def backend(dsn: str) -> PostgresBackend:
    os.environ["CERTPLAN_TEST_DSN"] = dsn
    return PostgresBackend(SecretRef(env="CERTPLAN_TEST_DSN"))


def test_migrate_round_trips_files_to_postgres_to_files(tmp_path: Path,
                                                        pg_database: PgDatabase) -> None:
    dsn = pg_database.writer_dsn
    first = make_project(tmp_path / "first", "files")
    files_state(first / "state", ["www", "api", "mail", "wild"])
    before = json_files(first / "state")
    res = certplan(first, dsn, "state", "migrate", "--to", "postgres")
    assert res.returncode == 0, res.stderr
    assert "Copied 4 record(s)" in res.stdout and "serial 4" in res.stdout
    assert 'backend = "postgres"' in res.stdout
    stored = backend(dsn).load()
    assert stored.serial == 4 and stored.lineage == FilesBackend(first / "state").load().lineage

    # a second host: backend = postgres, an empty state folder, migrated back
    second = make_project(tmp_path / "second", "postgres")
    res = certplan(second, dsn, "state", "migrate", "--to", "files")
    assert res.returncode == 0, res.stderr
    assert json_files(second / "state") == before  # byte for byte, _state.json too
    # and `state pull DIR` writes the same bytes anywhere
    res = certplan(second, dsn, "state", "pull", str(tmp_path / "review"))
    assert res.returncode == 0, res.stderr
    assert json_files(tmp_path / "review") == before
    # again: nothing to do, nothing changed
    res = certplan(second, dsn, "state", "pull", str(tmp_path / "review"))
    assert res.returncode == 0 and "already holds this state" in res.stdout


def test_push_and_pull_refuse_another_lineage_or_an_older_copy(
        tmp_path: Path, pg_database: PgDatabase) -> None:
    dsn = pg_database.writer_dsn
    project = make_project(tmp_path / "ops", "postgres")
    files_state(project / "state", ["www", "api"])
    assert certplan(project, dsn, "state", "push").returncode == 0

    other = make_project(tmp_path / "other", "postgres")
    files_state(other / "state", ["www"])  # a state of its own: another lineage
    other_before = json_files(other / "state")
    res = certplan(other, dsn, "state", "push")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "holds another state (lineage" in res.stderr and "refusing to overwrite" in res.stderr
    res = certplan(other, dsn, "state", "pull")
    assert res.returncode == 1 and "holds another state (lineage" in res.stderr
    assert json_files(other / "state") == other_before
    assert backend(dsn).load().lineage == FilesBackend(project / "state").load().lineage

    # the database moves on (an apply elsewhere); the old folder may not push back
    store = backend(dsn)
    store.write(full_record("new"), store.load().serial)
    res = certplan(project, dsn, "state", "push")
    assert res.returncode == 1 and "is at serial 3, ahead of" in res.stderr
    assert backend(dsn).load().serial == 3
    res = certplan(project, dsn, "state", "pull")  # pulling catches the folder up
    assert res.returncode == 0, res.stderr
    assert (project / "state" / "new.json").exists()
    assert FilesBackend(project / "state").load().serial == 3


def test_read_only_role_plans_lists_and_shows_but_never_writes(
        tmp_path: Path, pg_database: PgDatabase) -> None:
    writer, reader = pg_database.writer_dsn, pg_database.reader_dsn
    project = make_project(tmp_path / "ops", "postgres")
    files_state(project / "state", ["www", "api"])
    assert certplan(project, writer, "state", "push").returncode == 0
    ci = make_project(tmp_path / "ci", "postgres")  # a CI checkout: no state folder
    (ci / "specs" / "www.toml").write_text(
        '[[certificate]]\nname = "api"\ndomains = ["api.example.com"]\n'
        '[certificate.challenge]\ntype = "http-01"\nwebroot = "/srv/www"\n')
    for args in (["plan", "--no-refresh", "--at", "2026-01-01T00:00:00Z"],
                 ["list", "--at", "2026-01-01T00:00:00Z"], ["show", "www"], ["validate"]):
        res = certplan(ci, reader, *args)
        assert res.returncode == 0, (args, res.stderr)
    assert "www" in certplan(ci, reader, "show", "www").stdout
    assert "api" in certplan(ci, reader, "list").stdout

    res = certplan(ci, reader, "apply", "--auto-approve", "--no-refresh")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "this role may read but not write the state" in res.stderr
    res = certplan(project, reader, "state", "push")
    assert res.returncode == 1 and "may read but not write" in res.stderr
    with pytest.raises(StateError, match="may read but not write"):
        store = backend(reader)
        store.write(full_record("x"), store.load().serial)
    state = backend(writer).load()
    assert state.serial == 2 and set(state.records) == {"www", "api"}


def test_read_only_role_without_the_schema_is_told_so(tmp_path: Path,
                                                     pg_database: PgDatabase) -> None:
    db = pg_database
    ci = make_project(tmp_path / "ci", "postgres")
    res = certplan(ci, db.reader_dsn, "plan", "--no-refresh")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert 'schema "certplan"' in res.stderr
    assert "the schema does not exist and this role may not create it" in res.stderr
    assert db.reader_dsn.split(":")[2].split("@")[0] not in res.stderr  # no password shown
    # the writer's first use creates it
    assert certplan(ci, db.writer_dsn, "plan", "--no-refresh").returncode == 0
    assert certplan(ci, db.reader_dsn, "plan", "--no-refresh").returncode == 0


def test_missing_dsn_and_unreachable_server_are_one_clear_line(tmp_path: Path) -> None:
    ci = make_project(tmp_path / "ci", "postgres")
    env = {k: v for k, v in os.environ.items() if k != ENV}
    res = subprocess.run([sys.executable, "-m", "certplan", "-C", str(ci), "plan"],
                         text=True, capture_output=True, env=env, cwd=REPO, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"[state] dsn: environment variable {ENV} is not set" in res.stderr
    res = certplan(ci, "postgresql://u:secret-pw@127.0.0.1:1/x", "plan")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "cannot connect" in res.stderr and "secret-pw" not in res.stderr


def test_pull_writes_no_file_outside_the_folder_whatever_a_row_is_called(
        tmp_path: Path, pg_database: PgDatabase) -> None:
    """The database is shared: a row named like a path must not become one."""
    import psycopg

    dsn = pg_database.writer_dsn
    project = make_project(tmp_path / "ops", "postgres")
    files_state(project / "state", ["www"])
    assert certplan(project, dsn, "state", "push").returncode == 0
    evil = full_record("www").model_copy(update={"name": "../evil"})
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO certplan.records VALUES (%s, %s, 1)",
                     ("../evil", evil.model_dump_json()))
    res = certplan(project, dsn, "state", "pull", str(tmp_path / "review" / "state"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "'../evil' is not a certificate name" in res.stderr
    assert not (tmp_path / "review" / "evil.json").exists()
    assert list((tmp_path / "review" / "state").glob("*.json")) == []


def test_a_row_that_does_not_parse_is_reported_by_name_and_never_overwritten(
        tmp_path: Path, pg_database: PgDatabase) -> None:
    import psycopg

    dsn = pg_database.writer_dsn
    project = make_project(tmp_path / "ops", "postgres")
    files_state(project / "state", ["www"])
    assert certplan(project, dsn, "state", "push").returncode == 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO certplan.records VALUES ('broken', '{\"name\": 1', 1)")
    res = certplan(project, dsn, "validate")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert 'PostgreSQL schema "certplan" (database ' in res.stderr
    assert "record 'broken'" in res.stderr
    res = certplan(project, dsn, "state", "pull", str(tmp_path / "review"))
    assert res.returncode == 1 and "record 'broken'" in res.stderr
