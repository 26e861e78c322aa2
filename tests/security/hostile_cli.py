"""Running certplan as its own process against a project a hostile contributor
changed, and checking that it refused the way a user should see it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def certplan(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m certplan -C ROOT ARGS` from the repository, no terminal."""
    return subprocess.run([sys.executable, "-m", "certplan", "-C", str(root), *args],
                          cwd=REPO, text=True, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def assert_problems(res: subprocess.CompletedProcess[str], *expected: str) -> list[str]:
    """Exit 1, no traceback, and every `expected` starts one "FILE: field: message"
    line (or the "Error: ..." line). Returns the problem lines."""
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout
    assert res.stderr.startswith("Error: "), res.stderr
    lines = [line.strip() for line in res.stderr.splitlines()]
    for e in expected:
        assert any(line.startswith(e) for line in lines), (e, lines)
    return lines
