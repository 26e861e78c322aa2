"""Issue 9, case 5: `plan` (in CI) reads only regular files, never through a link,
never more than 1 MiB, never waiting: a FIFO or /dev/zero named by a crafted state
file or spec, a state record or saved plan that is a FIFO, a device or huge, ends
in a named message quickly, never a hang or a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.security.conftest import assert_refused
from tests.servers.nginx import NginxServer

pytestmark = pytest.mark.integration

QUICK = 20.0  # seconds: a hang would be killed by the subprocess timeout


def _no_traceback(res: object) -> str:
    out = getattr(res, "stdout", "") + getattr(res, "stderr", "")
    assert "Traceback" not in out and "MemoryError" not in out, out
    return out


def test_fifo_and_dev_zero_in_state_and_spec_do_not_hang_plan(
        project: CertplanProject, site: NginxServer, tmp_path: Path) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    assert project.apply().returncode == 0
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # the installed key is swapped for a FIFO
    site.key_path.unlink()
    os.mkfifo(site.key_path)
    res = project.run("plan", "--no-refresh", timeout=QUICK)
    out = _no_traceback(res)
    assert res.returncode == 0, out
    assert f"{site.key_path} not a regular file" in out
    # a pull request adds /dev/zero and the FIFO to the recorded parts
    path = project.root / "state" / "web.json"
    record = json.loads(path.read_text())
    record["installs"][0]["parts"].update({"/dev/zero": "00", str(fifo): "00"})
    path.write_text(json.dumps(record))
    res = project.run("plan", "--no-refresh", timeout=QUICK)
    out = _no_traceback(res)
    assert res.returncode == 0, out
    # and a spec that names them as install targets
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, None)
                       + f'[[certificate.install]]\nkey_file = "{fifo}"\n'
                       + 'fullchain_file = "/dev/zero"\n')
    res = project.run("plan", "--no-refresh", timeout=QUICK)
    assert res.returncode in (0, 1, 2), _no_traceback(res)


@pytest.mark.parametrize("kind", ["fifo", "huge", "device"])
def test_state_record_that_is_no_small_regular_file_is_a_named_problem(
        project: CertplanProject, kind: str) -> None:
    state = project.root / "state"
    state.mkdir()
    path = state / "web.json"
    if kind == "fifo":
        os.mkfifo(path)
        why = "not a regular file"
    elif kind == "huge":
        path.write_bytes(b" " * (2 * 1024 * 1024) + b"{}")
        why = "larger than 1048576 bytes"
    else:
        path.symlink_to("/dev/zero")
        why = "symbolic link"
    res = project.run("plan", "--no-refresh", timeout=QUICK)
    assert_refused(res, "state/web.json", why)


@pytest.mark.parametrize("saved", ["fifo", "/dev/zero"])
def test_saved_plan_that_is_no_regular_file_is_refused(project: CertplanProject,
                                                       tmp_path: Path, saved: str) -> None:
    path = Path(saved)
    if saved == "fifo":
        path = tmp_path / "plan.json"
        os.mkfifo(path)
    res = project.run("apply", str(path), timeout=QUICK)
    assert_refused(res, str(path), "not a regular file")
