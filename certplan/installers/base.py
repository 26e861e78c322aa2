"""What every installer is, and the registry that `type` names one in.

An installer declares its own target model (a subclass of
certplan.model.spec.InstallTarget with `type` set to its name) and implements
the methods below. `plan`, `observe`, `apply` and state never look inside a
target's fields: they ask its installer, and state records what the installer
reported (its name, fingerprint and parts). A new installer is one module, one
line below and one fixture for tests/contract/test_installer.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from certplan.installers.files import FilesInstaller
from certplan.model.installed import Installed, Material, Observed, Removal
from certplan.model.records import InstallRecord
from certplan.model.registry import Registry
from certplan.model.spec import InstallTarget

T = TypeVar("T", bound=InstallTarget, contravariant=True)


class Installer(Protocol[T]):
    name: ClassVar[str]
    target_model: ClassVar[type[InstallTarget]]  # validates its [[certificate.install]] tables

    def locations(self, target: T, root: Path) -> dict[str, str]:
        """Field name -> the place it makes the target write, in the one form two
        places are compared in (relative to `root`, the project folder, where
        relative). A file-system path is absolute, normalised, with its folder's
        symlinks resolved where they exist: two places of one installer that are
        equal are refused when the specs are loaded, and so is a path inside
        certplan's own folders (specs, state, keystore)."""
        ...

    def warnings(self, target: T) -> list[str]:
        """What the plan should say about this target whenever it writes it (a
        private key that others can read, ...), phrased after "install[N] of NAME: "."""
        ...

    def observe(self, target: T) -> Observed:
        """What is installed at `target` now (fingerprint "absent" when nothing is);
        quick, and without side effects."""
        ...

    def install(self, target: T, material: Material, *, force: bool = False) -> Installed:
        """Install transactionally: write, check, reload, verify; on any failure,
        whatever the exception, put back exactly what was there (and reload again if
        the reload had run) and raise InstallError (an interrupt: put back, then let
        it through). When everything is already in place, change nothing and run
        nothing, unless `force`: apply forces a target not yet installed with this
        certificate's serial, so that its check, reload and verify run even when an
        earlier, interrupted run already wrote the bytes. `material` is a checked
        pair: apply proves the key readable and the certificate's before calling."""
        ...

    def remove(self, record: InstallRecord, material: Material | None) -> Removal:
        """Delete what `record` says was installed (the spec may be gone by then),
        but only what the host proves certplan wrote: a place whose current content
        is what `record` recorded AND is made of `material`, the keystore's copy of
        that certificate (None: the keystore holds none, so nothing is deleted).
        Everything else is kept, with the reason; places already gone are fine.
        `record` comes from state, which git controls: it may propose, never prove."""
        ...


INSTALLERS: Registry[type[Installer[Any]]] = Registry("installer")
INSTALLERS.register("files", FilesInstaller)
