"""The CLI through small fixture projects on disk: validate, plan (formats, exit codes,
--out, --at, --replace, --target), list, show, init, schema, --version, -C."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from certplan.cli import app
from certplan.load import load_project
from certplan.model.errors import StalePlanError
from certplan.model.installed import fingerprint_of
from certplan.model.records import InstallRecord
from certplan.ops.planfiles import load_plan
from tests.unit.stateutil import save_record, state_of
from tests.unit.test_plan import record
from tests.unit.test_project import write_project

AT = "2026-06-01T00:00:00Z"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CERTPLAN = str(Path(sys.executable).parent / "certplan")


def run(root: Path, *args: str) -> Result:
    """In process; `-C` changes the working folder (like `git -C`), so restore it."""
    here = os.getcwd()
    try:
        return CliRunner().invoke(app, ["-C", str(root), *args])
    finally:
        os.chdir(here)


def settled(root: Path, now: datetime = NOW) -> Path:
    """A project whose state matches its specs at `now` (AT by default): nothing to do."""
    write_project(root)
    project = load_project(root)
    for d in project.desired:
        installs = []
        for target in d.spec.install:
            files = {}
            for path in target.files().values():
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_bytes(f"{d.spec.name}\n".encode())
                files[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            installs.append(InstallRecord(installer="files", digest=target.digest(),
                                          fingerprint=fingerprint_of(files), parts=files,
                                          installed_at=now))
        save_record(project, record(d, not_before=now - timedelta(days=10), installs=installs))
    return root


def test_validate_ok(tmp_path: Path) -> None:
    result = run(settled(tmp_path), "validate")
    assert result.exit_code == 0
    assert result.stdout == "OK: 2 certificate(s) in 2 spec file(s); 2 recorded in state.\n"


def test_plan_nothing_to_do_exit_0(tmp_path: Path) -> None:
    result = run(settled(tmp_path), "plan", "--no-refresh", "--at", AT, "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No changes.")
    assert "Plan: 0 to issue, 0 to renew, 0 to install, 0 to remove." in result.stdout


def test_plan_changes_exit_2_and_0_without_flag(tmp_path: Path) -> None:
    write_project(tmp_path)
    result = run(tmp_path, "plan", "--no-refresh", "--detailed-exitcode")
    assert result.exit_code == 2
    assert "Plan: 2 to issue, 0 to renew, 0 to install, 0 to remove." in result.stdout
    assert run(tmp_path, "plan", "--no-refresh").exit_code == 0


def test_plan_error_exit_1(tmp_path: Path) -> None:
    write_project(tmp_path, {"a.toml": "[[certificate]]\nname = 1\n"})
    result = run(tmp_path, "plan", "--no-refresh", "--detailed-exitcode")
    assert result.exit_code == 1 and result.stdout == ""
    assert "specs/a.toml: certificate[0].name: input should be a valid string" in result.stderr


def test_plan_json(tmp_path: Path) -> None:
    root = settled(tmp_path)
    (root / "specs" / "api.toml").unlink()
    result = run(root, "plan", "--no-refresh", "--at", "2026-07-21T00:00:00Z",
                 "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1
    assert [(c["certificate"], c["action"]) for c in doc["changes"]] == [
        ("www", "renew"), ("api", "remove")]
    for c in doc["changes"]:
        assert isinstance(c["reason"], str) and c["reason"]
        assert isinstance(c["domains"], list) and c["domains"]
    assert doc["generated_at"] == "2026-07-21T00:00:00Z"


def test_plan_markdown(tmp_path: Path) -> None:
    result = run(write_project(tmp_path), "plan", "--no-refresh", "--format", "markdown")
    assert result.stdout.startswith("### certplan plan\n")
    assert "| `+` | **api** | issue |" in result.stdout


def test_plan_bad_format(tmp_path: Path) -> None:
    result = run(write_project(tmp_path), "plan", "--format", "yaml")
    assert result.exit_code == 1 and "choose one of text, markdown, json" in result.stderr


def test_plan_at_and_verbose(tmp_path: Path) -> None:
    root = settled(tmp_path)  # issued 2026-05-22 for 90 days: www renews 2026-07-21 (1/3),
    # api on 2026-08-10 (renew_before_days = 20)
    quiet = run(root, "plan", "--no-refresh", "--at", "2026-07-20T23:59:59Z")
    assert quiet.stdout.startswith("No changes.")
    verbose = run(root, "plan", "--no-refresh", "--at", "2026-07-20T23:59:59Z", "--verbose")
    assert "next renewal 2026-07-21 00:00 UTC" in verbose.stdout
    due = run(root, "plan", "--no-refresh", "--at", "2026-07-21T00:00:00Z",
              "--detailed-exitcode")
    assert due.exit_code == 2 and "Plan: 0 to issue, 1 to renew" in due.stdout
    both = run(root, "plan", "--no-refresh", "--at", "2026-08-10T00:00:00Z")
    assert "Plan: 0 to issue, 2 to renew" in both.stdout
    naive = run(root, "plan", "--no-refresh", "--at", "2026-07-21T00:00:00", "--format", "json")
    assert json.loads(naive.stdout)["generated_at"] == "2026-07-21T00:00:00Z"


def test_plan_bad_at(tmp_path: Path) -> None:
    result = run(settled(tmp_path), "plan", "--no-refresh", "--at", "christmas")
    assert result.exit_code == 1 and "--at 'christmas': expected an ISO 8601" in result.stderr


def test_plan_replace_and_target(tmp_path: Path) -> None:
    root = settled(tmp_path)
    one = run(root, "plan", "--no-refresh", "--at", AT, "--replace", "api", "--format", "json")
    assert [(c["certificate"], c["reason"]) for c in json.loads(one.stdout)["changes"]] == [
        ("api", "forced (--replace)")]
    every = run(root, "plan", "--no-refresh", "--at", AT, "--replace-all", "--target", "www",
                "--format", "json")
    assert [c["certificate"] for c in json.loads(every.stdout)["changes"]] == ["www"]


@pytest.mark.parametrize("option", ["--target", "--replace"])
def test_unknown_name(tmp_path: Path, option: str) -> None:
    result = run(settled(tmp_path), "plan", "--no-refresh", option, "nope")
    assert result.exit_code == 1
    assert "no certificate named 'nope' (known: api, www)" in result.stderr


def test_plan_out_then_stale(tmp_path: Path) -> None:
    root = write_project(tmp_path)
    out = root / "saved.plan.json"
    result = run(root, "plan", "--no-refresh", "--out", str(out))
    assert result.exit_code == 0 and "Saved the plan to" in result.stderr
    project = load_project(root)
    assert len(load_plan(out, state_of(project), project).changes) == 2
    save_record(project, record(project.desired[0]))
    with pytest.raises(StalePlanError):
        load_plan(out, state_of(project), project)


def test_list_and_show(tmp_path: Path) -> None:
    root = settled(tmp_path)  # statuses as of AT, whatever the wall clock says
    table = run(root, "list", "--at", AT)
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split()[:4] == ["name", "main", "domain", "key"]
    rows = json.loads(run(root, "list", "--format", "json", "--at", AT).stdout)
    assert [(r["name"], r["main_domain"], r["sans"], r["status"]) for r in rows] == [
        ("api", "api.example.com", ["*.api.example.com"], "ok"),
        ("www", "example.com", ["www.example.com"], "ok")]
    shown = run(root, "show", "www", "--format", "json")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["certificate"]["serial"] == "0a1b2c"
    missing = run(root, "show", "nope")
    assert missing.exit_code == 1 and "recorded: api, www" in missing.stderr


def test_init_then_validate_and_refuse_overwrite(tmp_path: Path) -> None:
    result = run(tmp_path, "init", "repo")
    assert result.exit_code == 0
    repo = tmp_path / "repo"
    assert {p.name for p in repo.iterdir()} == {"certplan.toml", "specs", "state", ".gitignore"}
    assert ".certplan/" in (repo / ".gitignore").read_text()
    assert run(repo, "validate").exit_code == 0
    again = run(tmp_path, "init", "repo")
    assert again.exit_code == 1 and "refusing to overwrite" in again.stderr


def test_version_and_chdir_through_the_console_script(tmp_path: Path) -> None:
    import certplan

    version = subprocess.run([CERTPLAN, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout == f"certplan {certplan.__version__}\n"
    root = write_project(tmp_path / "ops" / "certs")
    proc = subprocess.run([CERTPLAN, "-C", "ops/certs", "validate"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("OK: 2 certificate(s)")
    module = subprocess.run([sys.executable, "-m", "certplan", "-C", str(root), "plan",
                             "--no-refresh"], capture_output=True, text=True,
                            env=os.environ | {"PYTHONPATH": str(Path.cwd())})
    assert module.returncode == 0 and "Plan: 2 to issue" in module.stdout
    bad = subprocess.run([CERTPLAN, "-C", "nowhere", "validate"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "-C nowhere: no such folder" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_unreadable_ca_bundle_is_named_not_a_traceback(tmp_path: Path) -> None:
    write_project(tmp_path, {"a.toml": '[[certificate]]\nname = "www"\ndomains = ["a.test"]\n'
                                       'ca = "internal"\n[certificate.challenge]\n'
                                       'type = "http-01"\nwebroot = "www"\n'})
    config = tmp_path / "certplan.toml"
    config.write_text(config.read_text().replace(
        'directory = "https://acme.internal.example/directory"',
        'directory = "https://127.0.0.1:1/directory"\nca_bundle = "missing.pem"'))
    res = subprocess.run([CERTPLAN, "-C", str(tmp_path), "apply", "--auto-approve",
                          "--no-refresh"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "certplan.toml: ca.internal.ca_bundle: cannot read missing.pem" in res.stdout
    assert "Traceback" not in res.stdout + res.stderr


# -- [state]: which backend records state ------------------------------------------------------

def with_state_table(root: Path, table: str) -> Path:
    write_project(root)
    with (root / "certplan.toml").open("a") as fh:
        fh.write("\n[state]\n" + table)
    return root


def test_state_backend_files_is_the_default_and_can_be_named(tmp_path: Path) -> None:
    assert load_project(write_project(tmp_path / "a")).config.state.backend == "files"
    root = with_state_table(tmp_path / "b", 'backend = "files"\n')
    save_record(load_project(root), record(load_project(root).desired[0]))
    result = run(root, "validate")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("1 recorded in state.\n")


@pytest.mark.parametrize("command", [["validate"], ["plan", "--no-refresh"],
                                     ["apply", "--auto-approve"]])
def test_unknown_state_backend_is_a_config_problem(tmp_path: Path, command: list[str]) -> None:
    root = with_state_table(tmp_path, 'backend = "x"\n')
    result = run(root, *command)
    assert result.exit_code == 1
    assert result.stderr == ("Error: 1 problem found:\n  certplan.toml: state.backend: "
                             "unknown state backend 'x' (known: files, postgres)\n")

