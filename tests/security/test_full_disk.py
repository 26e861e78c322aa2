"""Issue 9, case 12 (the file-system part): a full disk at lock time, while the
state is written, or under `plan --out`, and an --out folder that does not exist,
each give one message naming the file, exit 1, no traceback, and leave the
previous state as it was. The disk is a 64 KiB tmpfs mounted over the state folder."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.security.conftest import assert_refused
from tests.servers.disk import fill
from tests.servers.nginx import NginxServer

pytestmark = pytest.mark.integration


@pytest.fixture
def applied(project: CertplanProject, site: NginxServer, small_disk: Path) -> CertplanProject:
    """A project whose state folder is the small disk, with one certificate applied."""
    (project.root / "state").symlink_to(small_disk)  # the admin's choice, not a PR's
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    return project


def test_state_folder_that_is_a_symlink_is_refused(applied: CertplanProject) -> None:
    assert_refused(applied.apply(), "state folder state:", "symbolic link")


@pytest.fixture
def on_small_disk(project: CertplanProject, site: NginxServer,
                  small_disk: Path) -> Iterator[CertplanProject]:
    """The small disk mounted as the project's state folder, one certificate applied."""
    state = project.root / "state"
    state.mkdir(mode=0o755)
    res = subprocess.run(["mount", "--bind", str(small_disk), str(state)], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    try:
        project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot,
                                                 site))
        done = project.apply()
        assert done.returncode == 0, done.stdout + done.stderr
        yield project
    finally:
        subprocess.run(["umount", str(state)], check=False)


def test_full_disk_at_lock_time(on_small_disk: CertplanProject) -> None:
    project = on_small_disk
    before = project.state_bytes()
    fill(project.root / "state")
    out = assert_refused(project.apply("--replace", "web"), "state/.certplan.lock",
                         "No space left on device")
    assert "nothing was changed" in out
    assert project.state_bytes() == before


def test_full_disk_while_the_state_is_written(on_small_disk: CertplanProject) -> None:
    project = on_small_disk
    before = project.state_bytes()
    fill(project.root / "state", leave=4096)  # room for the lock's PID, no more
    out = assert_refused(project.apply("--replace", "web"), "state/",
                         "No space left on device")
    assert "state is unchanged" in out
    assert project.state_bytes() == before
    assert not [p for p in (project.root / "state").iterdir() if p.name.endswith(".tmp")]


def test_plan_out_on_a_full_disk_or_a_missing_folder(project: CertplanProject,
                                                     site: NginxServer,
                                                     small_disk: Path) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    fill(small_disk)
    out = small_disk / "plan.json"
    assert_refused(project.run("plan", "--no-refresh", "--out", str(out)), str(out),
                   "cannot write the saved plan", "No space left on device")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
    missing = Path("/nonexistent/dir/p.json")
    assert_refused(project.run("plan", "--no-refresh", "--out", str(missing)), str(missing),
                   "No such file or directory")
