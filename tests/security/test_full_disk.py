"""Issue 9, case 12 (the file-system part): a full disk at lock time, while the
state is written, or under `plan --out`, and an --out folder that does not exist,
each give one message naming the file, exit 1, no traceback, and leave the
previous state as it was. The disk is a 64 KiB tmpfs mounted over the state folder."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.security.conftest import assert_refused
from tests.servers.nginx import NginxServer

pytestmark = pytest.mark.integration


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs",
                          str(mount)], capture_output=True, text=True)
    # CI runs as root, where this works; anywhere else the test must fail, not skip
    assert res.returncode == 0, f"cannot mount a tmpfs (run the suite as root): {res.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def _fill(folder: Path, leave: int = 0) -> None:
    """Fill the file system of `folder`, then free `leave` bytes again."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))


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
    _fill(project.root / "state")
    out = assert_refused(project.apply("--replace", "web"), "state/.certplan.lock",
                         "No space left on device")
    assert "nothing was changed" in out
    assert project.state_bytes() == before


def test_full_disk_while_the_state_is_written(on_small_disk: CertplanProject) -> None:
    project = on_small_disk
    before = project.state_bytes()
    _fill(project.root / "state", leave=4096)  # room for the lock's PID, no more
    out = assert_refused(project.apply("--replace", "web"), "state/",
                         "No space left on device")
    assert "state is unchanged" in out
    assert project.state_bytes() == before
    assert not [p for p in (project.root / "state").iterdir() if p.name.endswith(".tmp")]


def test_plan_out_on_a_full_disk_or_a_missing_folder(project: CertplanProject,
                                                     site: NginxServer,
                                                     small_disk: Path) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    _fill(small_disk)
    out = small_disk / "plan.json"
    assert_refused(project.run("plan", "--no-refresh", "--out", str(out)), str(out),
                   "cannot write the saved plan", "No space left on device")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
    missing = Path("/nonexistent/dir/p.json")
    assert_refused(project.run("plan", "--no-refresh", "--out", str(missing)), str(missing),
                   "No such file or directory")
