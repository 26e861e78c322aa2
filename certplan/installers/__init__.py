"""Installers: put key and chain where a server reads them, then check and reload it.

Registered by name in INSTALLERS; apply looks one up and calls `install()`.
"""

from __future__ import annotations

from typing import Protocol

from certplan.installers.files import (
    FilesInstaller,
    InstallResult,
    delete_files,
    target_contents,
)
from certplan.model.registry import Registry
from certplan.model.spec import InstallTarget


class Installer(Protocol):
    name: str

    def install(self, target: InstallTarget, key_pem: bytes, leaf_pem: bytes, chain_pem: bytes,
                fullchain_pem: bytes, *, force: bool = False,
                server_name: str | None = None) -> InstallResult:
        """Write the target's files; run check and reload when something changed (or force)."""


INSTALLERS: Registry[type[Installer]] = Registry("installer")
INSTALLERS.register("files", FilesInstaller)

__all__ = ["INSTALLERS", "FilesInstaller", "InstallResult", "Installer", "delete_files",
           "target_contents"]
