"""Issue 9, case 8: under umask 000 every folder and file certplan creates gets its
own mode (0700 keystore, 0755 elsewhere, keys 0600) and the running user as owner;
a state or keystore folder another user owns or can write is refused before
anything is written, with the fix."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.security.conftest import assert_refused
from tests.servers.nginx import NginxServer

pytestmark = pytest.mark.integration

NOBODY = 65534


def _tree(root: Path) -> dict[Path, os.stat_result]:
    found = {root: os.lstat(root)} if root.exists() else {}
    for path in root.rglob("*"):
        found[path] = os.lstat(path)
    return found


def test_apply_under_umask_000_creates_nothing_others_can_write(
        project: CertplanProject, site: NginxServer) -> None:
    extra_dir = site.key_path.parent / "new" / "deep"  # install parents certplan creates
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site)
                       + "[[certificate.install]]\n"
                       + f'fullchain_file = "{extra_dir / "full.pem"}"\n'
                       + f'key_file = "{extra_dir / "key.pem"}"\n')
    webroot_before = set(_tree(site.webroot))
    old = os.umask(0)
    try:
        res = project.apply()
    finally:
        os.umask(old)
    assert res.returncode == 0, res.stdout + res.stderr
    me = os.geteuid()
    created = {**_tree(project.root / "state"), **_tree(project.root / ".certplan"),
               **_tree(site.key_path.parent / "new")}
    created.update({p: st for p, st in _tree(site.webroot).items() if p not in webroot_before})
    assert len(created) > 10
    for path, st in created.items():
        mode = stat.S_IMODE(st.st_mode)
        assert st.st_uid == me, path
        assert not mode & 0o022, (path, oct(mode))
        keystore = ".certplan" in path.parts
        if stat.S_ISDIR(st.st_mode):
            assert mode == (0o700 if keystore else 0o755), (path, oct(mode))
        elif path.name.endswith("key.pem"):
            assert mode == 0o600, (path, oct(mode))
        else:
            assert mode in ((0o600, 0o644) if keystore else (0o644,)), (path, oct(mode))
    for key in (site.key_path, extra_dir / "key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


@pytest.mark.parametrize("attack", ["chown nobody", "chmod 0777", "chmod 0775"])
def test_state_folder_others_control_is_refused_before_anything_is_written(
        project: CertplanProject, site: NginxServer, attack: str) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    state = project.root / "state"
    state.mkdir()
    if attack == "chown nobody":
        os.chown(state, NOBODY, NOBODY)
        fix = "run `chown root state`"
    else:
        os.chmod(state, int(attack.split()[1], 8))
        fix = "run `chmod go-w state`"
    key_before = site.key_path.read_bytes()
    out = assert_refused(project.apply(), "state folder state:", fix)
    assert "nothing was changed" in out
    assert list(state.iterdir()) == []  # not even the lock file
    assert not (project.root / ".certplan").exists()  # no account, no key
    assert site.key_path.read_bytes() == key_before


def test_keystore_someone_else_owns_is_refused(project: CertplanProject,
                                               site: NginxServer) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    keystore = project.root / ".certplan"
    keystore.mkdir(mode=0o700)
    os.chown(keystore, NOBODY, NOBODY)  # a local user's folder of keys, swapped in
    assert_refused(project.apply(), "keystore .certplan:", "run `chown root .certplan`")
    assert list(keystore.iterdir()) == []
    assert not (project.root / "state" / "web.json").exists()


def test_init_under_umask_000_creates_folders_others_cannot_write(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "certplan", "init", str(tmp_path / "new")],
                         capture_output=True, text=True, preexec_fn=lambda: os.umask(0))
    assert res.returncode == 0, res.stderr
    made = [tmp_path / "new", tmp_path / "new" / "specs", tmp_path / "new" / "state",
            tmp_path / "new" / "certplan.toml", tmp_path / "new" / "specs" / "example.toml"]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in made}
    assert modes == {"new": 0o755, "specs": 0o755, "state": 0o755, "certplan.toml": 0o644,
                     "example.toml": 0o644}
