"""A loaded project: certplan.toml, the specs with their defaults filled in, and paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from certplan.model.config import Config
from certplan.model.spec import CertSpec

CONFIG_FILE = "certplan.toml"


@dataclass(frozen=True)
class Desired:
    """A spec with its defaults filled in, and the directory URL of each of its CAs."""

    spec: CertSpec
    directories: tuple[str, ...]
    file: str


@dataclass
class Project:
    root: Path
    config: Config
    desired: list[Desired] = field(default_factory=list)

    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.root / p

    @property
    def state_dir(self) -> Path:
        return self.path(self.config.paths.state)

    @property
    def keystore_dir(self) -> Path:
        return self.path(self.config.paths.keystore)

    @property
    def specs_dir(self) -> Path:
        return self.path(self.config.paths.specs)

    def by_name(self) -> dict[str, Desired]:
        return {d.spec.name: d for d in self.desired}
