"""A full disk on demand: a 64 KiB tmpfs mounted for one test, and a filler that uses
up its space. Mounting needs root, which CI has; anywhere else the test fails (it
must not skip)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


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


def fill(folder: Path, leave: int = 0) -> None:
    """Fill the file system of `folder` (through `folder/filler`), then free `leave`
    bytes again."""
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
