"""One OpenSSH connection per host per run, shared by every command sent to it.

The system's `ssh` client does the work (so ~/.ssh/config, the agent, jump hosts
and the user's known_hosts apply). The first command for a host starts a master
connection (`ssh -f -N`, ControlMaster) whose socket lives in a private 0700
folder made for this process; every later command rides it (ControlMaster=no,
same ControlPath). The masters are closed and the folder removed when the process
ends (ControlPersist is only the safety net for a killed process).

Every connection is made with BatchMode=yes (nothing is ever asked on a terminal)
and StrictHostKeyChecking=yes: a host whose key is not already known, from the
target's `known_hosts` file or the user's configuration, is refused, never added.
CERTPLAN_SSH_CONFIG names an ssh_config file to use instead of ~/.ssh/config.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass

from certplan.installers.ssh_target import Endpoint
from certplan.model.errors import InstallError

PERSIST_SECONDS = 300  # a master outlives a killed certplan by this much at most
CONNECT_TIMEOUT = 15
CONFIG_ENV = "CERTPLAN_SSH_CONFIG"


# an endpoint, and the ssh_config file named by CERTPLAN_SSH_CONFIG when it connected
Key = tuple[Endpoint, str | None]


def _key(ep: Endpoint) -> Key:
    return ep, os.environ.get(CONFIG_ENV)


def _name(key: Key) -> str:
    """The control socket's file name (short: a socket path has ~100 bytes at most)."""
    return hashlib.sha256(repr(key).encode()).hexdigest()[:16]


class Unreachable(InstallError):
    """The host could not be reached, or would not be trusted or let us in."""


@dataclass(frozen=True)
class Result:
    code: int | None  # None: timed out
    out: str
    err: str


def _option_path(path: str, what: str) -> str:
    if any(c.isspace() or c in "\"'%" for c in path):
        raise InstallError(f"{what} {path!r}: ssh cannot be given a path with spaces, "
                           "quotes or '%' in an option; move the file")
    return path


def _why(ep: Endpoint, stderr: str) -> str:
    """The reason a connection failed, for a person."""
    text = stderr.strip()
    last = text.splitlines()[-1] if text else "no message from ssh"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        return (f"{ep.name}: the host key has CHANGED from the one in known_hosts; refusing "
                "to connect (check the host, then update known_hosts yourself)")
    if "Host key verification failed" in text or "host key is known" in text:
        where = f"known_hosts file {ep.known_hosts}" if ep.known_hosts else \
            "your known_hosts (set known_hosts on the install target to name a file)"
        return (f"{ep.name}: unknown host key, not in {where}; certplan never accepts a new "
                "key: add it (ssh-keyscan, then compare the fingerprint) and run again")
    if "Permission denied" in text:
        return f"{ep.name}: authentication failed ({last})"
    return f"{ep.name} cannot be reached: {last}"


class Connections:
    """The masters of this process, one per endpoint (module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folder: str | None = None
        self._registered = False
        self._locks: dict[Key, threading.Lock] = {}
        self._state: dict[Key, str | None] = {}  # (endpoint, config) -> None (up) or why not
        self.opened = 0  # master connections made by this process (tests, bench)

    def _dir(self) -> str:
        with self._lock:
            if self._folder is None:
                self._folder = tempfile.mkdtemp(prefix="certplan-ssh-")  # 0700
                if not self._registered:
                    atexit.register(self.close_all)
                    self._registered = True
            return self._folder

    def _socket(self, ep: Endpoint) -> str:
        return os.path.join(self._dir(), _name(_key(ep)))

    def args(self, ep: Endpoint) -> list[str]:
        """ssh and its options for `ep`, up to and including the host (then a command)."""
        args = ["ssh", "-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", "UpdateHostKeys=no", "-o", "ForwardAgent=no", "-o", "ForwardX11=no",
                "-o", "ClearAllForwardings=yes", "-o", "PermitLocalCommand=no",
                "-o", f"ControlPath={self._socket(ep)}"]
        if (config := os.environ.get(CONFIG_ENV)):
            args += ["-F", config]
        if ep.port is not None:
            args += ["-p", str(ep.port)]
        if ep.user is not None:
            args += ["-l", ep.user]
        if ep.identity_file is not None:
            args += ["-i", _option_path(ep.identity_file, "identity_file"),
                     "-o", "IdentitiesOnly=yes"]
        if ep.known_hosts is not None:
            args += ["-o", f"UserKnownHostsFile={_option_path(ep.known_hosts, 'known_hosts')}",
                     "-o", "GlobalKnownHostsFile=/dev/null"]
        return args

    def connect(self, ep: Endpoint, timeout: float) -> None:
        """Start the master for `ep` unless it runs; Unreachable (the same one for the
        rest of the run) when it cannot be started."""
        key = _key(ep)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._state:
                why = self._state[key]
                if why is not None:
                    raise Unreachable(why)
                return
            why = self._start(ep, timeout)
            self._state[key] = why
            if why is not None:
                raise Unreachable(why)

    def _start(self, ep: Endpoint, timeout: float) -> str | None:
        wait = max(1, int(min(timeout, CONNECT_TIMEOUT)))
        cmd = self.args(ep) + ["-o", "ControlMaster=yes", "-o", f"ControlPersist={PERSIST_SECONDS}",
                               "-o", f"ConnectTimeout={wait}", "-o", "ServerAliveInterval=15",
                               "-f", "-N", "--", ep.host]
        # stderr to a file, not a pipe: the master goes on in the background holding it
        with tempfile.TemporaryFile(dir=self._dir()) as err:
            try:
                proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=err, timeout=wait + 10, check=False)
                code: int | None = proc.returncode
            except subprocess.TimeoutExpired:
                code = None
            except OSError as exc:
                return f"{ep.name}: cannot run ssh: {exc.strerror}"
            err.seek(0)
            text = err.read().decode("utf-8", errors="replace")
        if code == 0:
            self.opened += 1
            return None
        if code is None:
            return f"{ep.name} cannot be reached: no answer after {wait + 10}s"
        return _why(ep, text)

    def run(self, ep: Endpoint, command: str, stdin: bytes = b"",
            timeout: float = 60.0) -> Result:
        """Run `command` (a remote shell command line) on `ep` over its master."""
        self.connect(ep, timeout)
        cmd = self.args(ep) + ["-o", "ControlMaster=no", "--", ep.host, command]
        try:
            proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode("utf-8", errors="replace")
            return Result(None, out, "")
        out = proc.stdout.decode("utf-8", errors="replace")
        err = proc.stderr.decode("utf-8", errors="replace")
        if proc.returncode == 255 and "certplan:" not in out:
            raise Unreachable(_why(ep, err))
        return Result(proc.returncode, out, err)

    def close_all(self) -> None:
        """Close every master and remove the control folder."""
        with self._lock:
            folder, up = self._folder, [key for key, why in self._state.items() if why is None]
            self._folder, self._state, self._locks = None, {}, {}
        if folder is None:
            return
        closing = [subprocess.Popen(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "--",
                                     key[0].host], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for key in up if os.path.exists(sock := os.path.join(folder, _name(key)))]
        for proc in closing:  # all at once: a fleet's masters close in one go
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


CONNECTIONS = Connections()
