"""Run an installer's shell command (check, reload) with a timeout."""

from __future__ import annotations

import os
import signal
import subprocess

OUTPUT_TAIL = 2000


def run_command(command: str, timeout: float) -> tuple[int | None, str]:
    """Run `command` with /bin/sh -c in its own process group.

    Returns (exit code, output tail); exit code None when it timed out (the
    whole process group is then killed)."""
    proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            out = b""
        code = None
    text = out.decode("utf-8", errors="replace").strip()
    return code, text[-OUTPUT_TAIL:]
