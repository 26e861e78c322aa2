"""Deterministic kill points for a real `certplan apply` process.

A `KillPoint` is a shell snippet put into a check or reload command: while its arm
file exists, the command removes it, writes its own PID (the leader of the process
group certplan starts each command in) to a marker file and sleeps. The test waits
for the marker, SIGKILLs the apply process, then the sleeping command's group: no
timing guesses. Disarmed, the snippet does nothing.

`HoldingProxy` is a TCP port for `verify`: armed, it accepts the handshake and
answers nothing, so that the apply is killed in the middle of its verify; disarmed,
it forwards to the real server.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

WAIT = 60.0  # seconds for an apply to reach its kill point


class KillPoint:
    def __init__(self, folder: Path, name: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.arm_file = folder / f"{name}.arm"
        self.marker = folder / f"{name}.reached"

    @property
    def snippet(self) -> str:
        return (f"if [ -e {self.arm_file} ]; then rm -f {self.arm_file}; "
                f"echo $$ > {self.marker}.tmp; mv {self.marker}.tmp {self.marker}; "
                f"sleep 120; fi")

    def arm(self) -> None:
        self.marker.unlink(missing_ok=True)
        self.arm_file.write_text("armed\n")

    def reached(self) -> bool:
        return self.marker.exists()

    def release(self) -> None:
        """Kill the sleeping command's process group (certplan was killed under it)."""
        if self.marker.exists():
            try:
                os.killpg(int(self.marker.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def kill_when(proc: subprocess.Popen[str], reached: Callable[[], bool]) -> None:
    """Wait until `reached()`, then SIGKILL `proc`; fail if it ends first."""
    deadline = time.monotonic() + WAIT
    while not reached():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"apply ended (exit {proc.returncode}) before the kill "
                                 f"point:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("apply did not reach the kill point")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


class HoldingProxy:
    """127.0.0.1:`port` -> `upstream`; armed: holds the next connection unanswered."""

    def __init__(self, upstream: int):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = False
        self.holding = threading.Event()
        self._held: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.armed:
                self.armed = False
                self._held.append(conn)
                self.holding.set()
                continue
            threading.Thread(target=self._forward, args=(conn,), daemon=True).start()

    def _forward(self, conn: socket.socket) -> None:
        with conn:
            try:
                with socket.create_connection(("127.0.0.1", self.upstream), timeout=10) as up:
                    self._pump({conn: up, up: conn})
            except OSError:
                return  # the server went away (or the client did): the client sees a close

    @staticmethod
    def _pump(pair: dict[socket.socket, socket.socket]) -> None:
        while True:
            ready, _, _ = select.select(list(pair), [], [], 10)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                pair[sock].sendall(data)

    def close(self) -> None:
        self._stop = True
        self.listener.close()
        for conn in self._held:
            conn.close()
