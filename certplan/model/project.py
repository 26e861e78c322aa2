"""A loaded project: certplan.toml, the specs with their defaults filled in, and paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from certplan.model.config import Config, Defaults
from certplan.model.spec import CertSpec, KeyType

CONFIG_FILE = "certplan.toml"


class ResolvedSpec(CertSpec):
    """A spec with `[defaults]` filled in: its CAs and its key type are always known,
    so no later step needs a default of its own."""

    ca: list[str]
    key: KeyType

    @classmethod
    def resolve(cls, spec: CertSpec, defaults: Defaults) -> ResolvedSpec:
        """Fill what the spec leaves out from [defaults] (the spec is valid already:
        nothing is validated again)."""
        values = dict(spec.__dict__)
        values.update(ca=spec.ca or list(defaults.ca), key=spec.key or defaults.key,
                      renew_before_days=spec.renew_before_days or defaults.renew_before_days)
        fields_set = spec.model_fields_set | {"ca", "key", "renew_before_days"}
        return cls.model_construct(fields_set, **values)


@dataclass(frozen=True)
class Desired:
    """A spec with its defaults filled in, and the directory URL of each of its CAs."""

    spec: ResolvedSpec
    directories: tuple[str, ...]
    file: str
    # (install target index, place it writes), as its installer names the place
    writes: tuple[tuple[int, str], ...] = ()
    # (install target index, what the plan warns about whenever that target is written)
    notes: tuple[tuple[int, str], ...] = ()


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
