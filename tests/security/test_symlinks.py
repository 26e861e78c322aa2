"""Issue 9, cases 2 and 7: certplan never writes, truncates or copies through a
symbolic (or hard) link it did not create: the state lock, state records, install
targets and the rollback after a failing check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.security.conftest import assert_refused
from tests.servers.nginx import NginxServer

pytestmark = pytest.mark.integration


def _state(project: CertplanProject) -> Path:
    folder = project.root / "state"
    folder.mkdir(mode=0o755, exist_ok=True)
    return folder


def test_lock_symlink_is_refused_and_its_target_left_alone(project: CertplanProject,
                                                           secret: Path) -> None:
    # committed with `git add -f`: state/.certplan.lock -> a root-only file
    lock = _state(project) / ".certplan.lock"
    lock.symlink_to(secret)
    res = project.apply()
    assert_refused(res, "state/.certplan.lock", "symbolic link")
    assert secret.read_bytes() == b"root's secret\n"
    assert lock.is_symlink()


def test_lock_symlink_to_a_missing_file_creates_nothing(project: CertplanProject,
                                                        tmp_path: Path) -> None:
    target = tmp_path / "etc" / "cron.d" / "evil"
    target.parent.mkdir(parents=True)
    (_state(project) / ".certplan.lock").symlink_to(target)
    assert_refused(project.apply(), ".certplan.lock", "symbolic link")
    assert not os.path.lexists(target)


def test_lock_hard_link_is_not_truncated(project: CertplanProject, tmp_path: Path) -> None:
    victim = tmp_path / "victim.conf"  # same file system as the state folder
    victim.write_text("do not empty me\n")
    os.link(victim, _state(project) / ".certplan.lock")
    assert_refused(project.apply(), ".certplan.lock", "2 links")
    assert victim.read_text() == "do not empty me\n"


def test_lock_that_is_a_fifo_is_refused(project: CertplanProject) -> None:
    lock = _state(project) / ".certplan.lock"
    os.mkfifo(lock)
    assert_refused(project.apply(), "state/.certplan.lock", "not a regular file")


def test_state_record_symlink_is_read_as_a_problem_and_never_replaced(
        project: CertplanProject, site: NginxServer, secret: Path) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    record = _state(project) / "web.json"
    record.symlink_to(secret)
    out = assert_refused(project.run("plan", "--no-refresh"), "state/web.json",
                         "symbolic link")
    assert "root's secret" not in out
    assert_refused(project.apply(), "state/web.json", "symbolic link")
    assert record.is_symlink() and secret.read_bytes() == b"root's secret\n"


def test_install_target_that_is_a_symlink_is_refused_and_check_failure_copies_nothing(
        project: CertplanProject, site: NginxServer, secret: Path) -> None:
    # case 7: the key file is a link to a root-only file, and the check fails
    # (the old code's rollback then copied the secret into the target folder)
    site.key_path.unlink()
    site.key_path.symlink_to(secret)
    before = {p.name: p.read_bytes() for p in site.key_path.parent.iterdir() if p.is_file()
              and not p.is_symlink()}
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site,
                                             check="exit 3"))
    out = assert_refused(project.apply(), str(site.key_path), "symbolic link")
    assert "check command" not in out  # refused before anything was written
    assert site.key_path.is_symlink() and os.readlink(site.key_path) == str(secret)
    assert secret.read_bytes() == b"root's secret\n"
    after = {p.name: p.read_bytes() for p in site.key_path.parent.iterdir() if p.is_file()
             and not p.is_symlink()}
    assert after == before  # no copy of the secret, nothing else written either
    plan = project.run("plan", "--no-refresh")
    assert "Traceback" not in plan.stderr
