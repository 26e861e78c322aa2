"""Exit codes of the real command line (`python -m certplan`, as cron and CI run it):
usage errors exit 1, never 2, which `plan --detailed-exitcode` keeps for "changes"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_cli_core import AT, settled

REPO = Path(__file__).resolve().parents[2]


def certplan(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "certplan", "-C", str(root), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args,message", [
    (["plan", "--detailed-exitcode", "--taget", "www"], "No such option: --taget"),
    (["plan", "--bogus"], "No such option: --bogus"),
    (["show"], "Missing argument 'name'"),
    (["plan", "--format"], "Option '--format' requires an argument"),
    (["apply", "--parallel", "zero"], "Invalid value for '--parallel'"),
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
], ids=["typo", "unknown-option", "missing-argument", "missing-value", "bad-value",
        "unknown-command"])
def test_usage_errors_exit_1_with_the_usage_message(tmp_path: Path, args: list[str],
                                                    message: str) -> None:
    res = certplan(settled(tmp_path), *args)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"Error: {message}" in res.stderr
    assert "Usage: " in res.stderr or args == ["plan", "--format"]  # click shows none there
    assert "Traceback" not in res.stderr


def test_detailed_exitcode_0_2_and_help_0(tmp_path: Path) -> None:
    root = settled(tmp_path)
    assert certplan(root, "plan", "--no-refresh", "--detailed-exitcode", "--at", AT
                    ).returncode == 0
    changes = certplan(root, "plan", "--no-refresh", "--detailed-exitcode", "--at", AT,
                       "--replace", "www")
    assert changes.returncode == 2, changes.stdout + changes.stderr
    assert certplan(root, "--help").returncode == 0
    assert certplan(root, "plan", "--help").returncode == 0
    assert certplan(root, "--version").returncode == 0
