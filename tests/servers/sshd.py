"""OpenSSH servers as real processes: a private `sshd -D -e -f CONFIG` per "host",
each on a free loopback port with its own host key, all accepting one test key.

`start_sshd(workdir, client)` writes the config, host key and authorized_keys
under workdir and waits for "Server listening". sshd runs as root (the suite
does; privilege separation needs /run/sshd, made here when missing) and is
stopped by PID. `SshClient` is the test side: an identity key and a known_hosts
file that the servers started for it are added to.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers.ports import free_port, stop, wait_for_line, wait_until

SSHD = "/usr/sbin/sshd"


def keygen(path: Path) -> str:
    """A fresh ed25519 key at `path` (0600) and `path`.pub; returns the public line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "certplan-test",
                    "-f", str(path)], check=True, capture_output=True, timeout=30)
    return path.with_name(path.name + ".pub").read_text().strip()


@dataclass
class SshClient:
    folder: Path
    identity: Path
    public: str
    known_hosts: Path

    @classmethod
    def create(cls, folder: Path) -> SshClient:
        folder.mkdir(parents=True, exist_ok=True)
        identity = folder / "id_ed25519"
        public = keygen(identity)
        known = folder / "known_hosts"
        known.write_text("")
        return cls(folder, identity, public, known)


@dataclass
class SshServer:
    port: int
    folder: Path
    host_public: str  # "ssh-ed25519 AAAA..."
    proc: subprocess.Popen[bytes] = field(repr=False)

    @property
    def known_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_public}\n"

    def log(self) -> str:
        path = self.folder / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logins(self) -> int:
        """Connections that logged in so far (multiplexed sessions do not count)."""
        return self.log().count("Accepted publickey")

    def sessions(self) -> int:
        """Commands run so far (each multiplexed session is one)."""
        return self.log().count("Starting session: command")

    def stop(self) -> None:
        stop(self.proc)


def _config(folder: Path, port: int) -> str:
    """sshd_config of a test host. SHLVL=1: bash then skips ~/.bashrc for commands run
    over ssh (it reads it only at level 1); a heavy root ~/.bashrc (pyenv on the dev
    machines) costs ~0.3 s of CPU per remote command, which is not what is tested."""
    return f"""Port {port}
ListenAddress 127.0.0.1
HostKey {folder}/host_key
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 100
MaxStartups 200
PrintMotd no
LogLevel VERBOSE
SetEnv SHLVL=1
"""


def _banner(port: int) -> None:
    """A new connection gets sshd's version line (else OSError or ValueError)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        if not sock.recv(64).startswith(b"SSH-2.0-"):
            raise ValueError("no SSH-2.0 banner")


def start_sshd(folder: Path, client: SshClient, *, known: bool = True,
               timeout: float = 15.0) -> SshServer:
    """Start sshd under `folder`; `known`: add its host key to the client's known_hosts."""
    if not os.path.exists(SSHD):
        pytest.fail(f"{SSHD} is missing: apt-get install openssh-server (make deps)")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation folder
    folder.mkdir(parents=True, exist_ok=True)
    host_line = keygen(folder / "host_key")
    host_public = " ".join(host_line.split()[:2])
    (folder / "authorized_keys").write_text(client.public + "\n")
    port = free_port()
    conf = folder / "sshd_config"
    conf.write_text(_config(folder, port))
    log = open(folder / "sshd.log", "wb")  # noqa: SIM115 - handed to the process
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(conf)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    server = SshServer(port, folder, host_public, proc)
    try:
        wait_for_line(folder / "sshd.log", "Server listening", timeout=timeout, proc=proc)
        wait_until(lambda: _banner(port), f"sshd on port {port}", timeout=timeout, proc=proc)
    except Exception:
        server.stop()
        raise
    if known:
        with client.known_hosts.open("a") as f:
            f.write(server.known_line)
    return server


@pytest.fixture(scope="session")
def ssh_fleet() -> Iterator[tuple[SshClient, list[SshServer]]]:
    """One test client and two sshd "hosts" (its known_hosts knows both), for the session."""
    folder = Path(tempfile.mkdtemp(prefix="certplan-sshd-"))
    client = SshClient.create(folder / "client")
    servers: list[SshServer] = []
    try:
        servers = [start_sshd(folder / f"host{i}", client) for i in (1, 2)]
        yield client, servers
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
