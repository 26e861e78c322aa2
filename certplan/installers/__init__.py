"""Installers: put key and chain where a server reads them, then check and reload it.

Registered by name in INSTALLERS (base.py); a target's `type` picks one.
"""

from __future__ import annotations

from certplan.installers.base import INSTALLERS, Installer
from certplan.installers.files import FilesInstaller, FilesTarget
from certplan.installers.ssh import SshInstaller
from certplan.installers.ssh_target import SshTarget

INSTALLERS.register("ssh", SshInstaller)

__all__ = ["INSTALLERS", "FilesInstaller", "FilesTarget", "Installer", "SshInstaller",
           "SshTarget"]
