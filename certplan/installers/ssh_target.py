"""The target of the ssh installer, and how its remote places are named.

`[[certificate.install]] type = "ssh"` takes everything a files target takes (file
kinds, modes, owner/group, check, reload, verify, timeout; all of them apply on
the remote host) plus where the host is and how it is trusted. A remote place is
named `ssh://[USER@]HOST[:PORT]/PATH`: that name is what state records (a part),
what a plan shows, and all that `remove` gets once the spec is gone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import field_validator, model_validator

from certplan.installers.files import _PREVIOUS_DIGEST_FIELDS, FilesTarget
from certplan.model.hostport import HostPort, parse_hostport
from certplan.model.secrets import SecretRef

# a host name, an IPv4 address or an IPv6 address (never an ssh option: no "-" first)
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.:-]*[A-Za-z0-9_.])?")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_PLACE = re.compile(r"ssh://(?:(?P<user>[^@/]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\[\]]+)"
                    r"(?::(?P<port>[0-9]+))?(?P<path>/.*)")


@dataclass(frozen=True, order=True)
class Endpoint:
    """Whom to connect to, and with what (None: what the user's ssh configuration says)."""

    host: str
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None

    @property
    def name(self) -> str:
        """ssh://[USER@]HOST[:PORT], as the host is named in places and messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"ssh://{user}{host}{port}"

    def place(self, path: str) -> str:
        return f"{self.name}{path}"


def parse_place(place: str) -> tuple[Endpoint, str] | None:
    """(endpoint, remote path) of a place named by `Endpoint.place`; None when
    `place` is not one (a record from git may say anything)."""
    m = _PLACE.fullmatch(place)
    if m is None:
        return None
    host, user, port = m["host"].strip("[]"), m["user"], m["port"]
    if not _HOST.fullmatch(host) or (user is not None and not _USER.fullmatch(user)):
        return None
    if port is not None and not 0 < int(port) < 65536:
        return None
    if "\n" in m["path"] or "\0" in m["path"]:
        return None
    return Endpoint(host, int(port) if port else None, user), m["path"]


class SshTarget(FilesTarget):
    """`type = "ssh"`: the files of a files target, written on `host` over OpenSSH
    (the system's client: ~/.ssh/config, the agent and jump hosts apply)."""

    type: Literal["ssh"] = "ssh"  # type: ignore[assignment]  # a files target, another type
    host: str
    port: int | None = None
    user: str | None = None
    identity_file: SecretRef | None = None  # { file = "PATH" } of a private key
    # OpenSSH known_hosts file that holds the host's key. Without it, the user's own
    # ssh configuration must already know the host: the key is never accepted blindly.
    known_hosts: str | None = None

    digest_fields: ClassVar[tuple[str, ...]] = (
        _PREVIOUS_DIGEST_FIELDS + ("host", "port", "user", "identity_file", "known_hosts"))
    digest_version: ClassVar[int] = 1

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.fullmatch(value.strip("[]")):
            raise ValueError(f"{value!r} is not a host name or address")
        return value.strip("[]")

    @field_validator("port")
    @classmethod
    def _port(cls, value: int | None) -> int | None:
        if value is not None and not 0 < value < 65536:
            raise ValueError(f"{value} is not a port (1 to 65535)")
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is not None and not _USER.fullmatch(value):
            raise ValueError(f"{value!r} is not a user name")
        return value

    @field_validator("identity_file")
    @classmethod
    def _identity(cls, value: SecretRef | None) -> SecretRef | None:
        if value is not None and value.file is None:
            raise ValueError('ssh reads the key from a file: write { file = "/path/to/key" }')
        return value

    @field_validator("verify")
    @classmethod
    def _verify(cls, value: str | None) -> str | None:
        if value is not None:  # ":443" asks the ssh host itself
            parse_hostport(value, default_host="-", form="HOST:PORT or :PORT",
                           example=":443")
        return value

    @model_validator(mode="after")
    def _absolute(self) -> SshTarget:
        for kind, path in self.files().items():
            if not path.startswith("/"):
                raise ValueError(f"{kind} = {path!r}: a remote path must be absolute")
        return self

    def same_definition(self, recorded: str) -> bool:
        return recorded == self.digest()  # no earlier form to accept

    def endpoint(self) -> Endpoint:
        identity = self.identity_file.file if self.identity_file is not None else None
        return Endpoint(self.host, self.port, self.user,
                        str(Path(identity).expanduser().absolute()) if identity else None,
                        str(Path(self.known_hosts).expanduser().absolute())
                        if self.known_hosts else None)

    def steps(self) -> list[tuple[str, str]]:
        """As a files target's, the commands run on the ssh host."""
        return [(step, what if step == "verify" else f"{what} (on {self.host})")
                for step, what in super().steps()]

    def tls_endpoint(self) -> tuple[str, str | None] | None:
        """`verify` with ":PORT" meaning the ssh host (what check --probe asks)."""
        address = self.verify_address()
        if address is None:
            return None
        host = f"[{address.host}]" if ":" in address.host else address.host
        return f"{host}:{address.port}", self.verify_name

    def verify_address(self) -> HostPort | None:
        """Where the verifying handshake goes (":PORT": the ssh host)."""
        if self.verify is None:
            return None
        return parse_hostport(self.verify, default_host=self.host)
