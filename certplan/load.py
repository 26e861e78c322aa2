"""Read certplan.toml and specs/*.toml; report every problem at once, by file and field."""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from certplan.installers import INSTALLERS, Installer
from certplan.model.config import Config, ProviderEntry, ca_directory, known_cas
from certplan.model.errors import InputError, Problem, RegistryError, problems_from
from certplan.model.gcpause import gc_paused
from certplan.model.presets import PRESETS
from certplan.model.project import CONFIG_FILE, Desired, Project, ResolvedSpec
from certplan.model.spec import DEFAULT_INSTALLER, CertSpec, InstallTarget
from certplan.model.text import control_problems, may_hold_control

M = TypeVar("M", bound=BaseModel)


def read_toml(path: Path, shown: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    data, _, problems = _read_toml(path, shown)
    return data, problems


def _read_toml(path: Path, shown: str) -> tuple[dict[str, Any] | None, str, list[Problem]]:
    """The table, the text it was parsed from, and what went wrong."""
    data, text, problem = None, "", None
    try:
        if path.exists() and not path.is_file():  # a FIFO would hang, a device never end
            problem = "not a regular file"
        else:
            text = path.read_bytes().decode()
            data = tomllib.loads(text)
    except FileNotFoundError:
        problem = "file not found (run `certplan init` to create one)"
    except tomllib.TOMLDecodeError as exc:
        problem = f"invalid TOML: {exc}"
    except UnicodeDecodeError:
        problem = "not UTF-8 text"
    except RecursionError:  # tomllib recurses once per nested array or inline table
        problem = "nesting too deep"
    except OSError as exc:
        problem = f"cannot read: {exc.strerror}"
    return data, text, [] if problem is None else [Problem(shown, "", problem)]


def _validate(model: type[M], data: Any, file: str, prefix: str,
              problems: list[Problem]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from(file, exc, prefix))
        return None


def parse_config(data: dict[str, Any], shown: str, problems: list[Problem]) -> Config | None:
    from certplan.providers import PROVIDERS

    data = dict(data)
    raw_providers = data.pop("providers", {})
    providers: dict[str, ProviderEntry] = {}
    if not isinstance(raw_providers, dict):
        problems.append(Problem(shown, "providers", "must be a table of [providers.NAME]"))
        raw_providers = {}
    for name, raw in raw_providers.items():
        where = f"providers.{name}"
        if not isinstance(raw, dict) or "type" not in raw:
            problems.append(Problem(shown, f"{where}.type", "field required"))
            continue
        rest = {k: v for k, v in raw.items() if k != "type"}
        try:
            cls = PROVIDERS.get(str(raw["type"]))
        except RegistryError as exc:
            problems.append(Problem(shown, f"{where}.type", str(exc)))
            continue
        cfg = _validate(cls.config_model, rest, shown, where, problems)
        if cfg is not None:
            providers[name] = ProviderEntry(type=str(raw["type"]), config=cfg)
    config = _validate(Config, data, shown, "", problems)
    if config is None:
        return None
    config = config.model_copy(update={"providers": providers})
    for name, ca in config.ca.items():
        if ca.directory is None and name not in PRESETS:
            problems.append(Problem(shown, f"ca.{name}.directory",
                                    "field required (not a preset CA name)"))
    return config


def parse_spec_file(path: Path, shown: str, problems: list[Problem]) -> list[CertSpec]:
    data, text, read_problems = _read_toml(path, shown)
    problems.extend(read_problems)
    if data is None:
        return []
    suspect = may_hold_control(text)  # else no value of the file can hold one
    for key in data:
        if key != "certificate":
            problems.append(Problem(shown, key, "unknown key (a spec file holds [[certificate]] "
                                                "tables only)"))
    entries = data.get("certificate", [])
    if not isinstance(entries, list) or not entries:
        if "certificate" in data or not data:
            problems.append(Problem(shown, "certificate", "expected one or more [[certificate]]"))
        return []
    specs = []
    for i, entry in enumerate(entries):
        spec = _parse_spec(entry, shown, f"certificate[{i}]", problems, suspect)
        if spec is not None:
            specs.append(spec)
    return specs


def _parse_spec(entry: Any, shown: str, where: str, problems: list[Problem],
                suspect: bool = True) -> CertSpec | None:
    """A [[certificate]] table; each of its install tables is validated by the model
    of the installer its `type` names (CertSpec knows only what they share).
    `suspect`: the file's text may hold a control character (see model.text)."""
    raw = entry.get("install") if isinstance(entry, dict) else None
    if suspect and (bad := control_problems(entry, where)):
        problems += [Problem(shown, field, message) for field, message in bad]
        return None
    if not isinstance(raw, list):  # absent, or not a list: CertSpec reports it
        return _validate(CertSpec, entry, shown, where, problems)
    target_problems: list[Problem] = []
    targets = [_parse_target(table, shown, f"{where}.install[{t}]", target_problems)
               for t, table in enumerate(raw)]
    spec = _validate(CertSpec, entry | {"install": [t for t in targets if t is not None]},
                     shown, where, problems)
    problems += target_problems
    return None if target_problems else spec


def _parse_target(table: Any, shown: str, where: str,
                  problems: list[Problem]) -> InstallTarget | None:
    if not isinstance(table, dict):
        return _validate(InstallTarget, table, shown, where, problems)  # says what it wants
    kind = table.get("type", DEFAULT_INSTALLER)
    if not isinstance(kind, str):
        problems.append(Problem(shown, f"{where}.type", "input should be a valid string"))
        return None
    try:
        model = INSTALLERS.get(kind).target_model
    except RegistryError as exc:
        problems.append(Problem(shown, f"{where}.type", str(exc)))
        return None
    return _validate(model, table, shown, where, problems)


def shown_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _cross_check(project: Project, located: list[tuple[CertSpec, str, int]],
                 problems: list[Problem], check_names: bool = True) -> dict[str, Writes]:
    """Problems across specs (names, CAs, providers, install places); and what
    each certificate's targets write, and warn about, for the plan."""
    config = project.config
    seen: dict[str, str] = {}
    places: dict[tuple[str, str], tuple[str, str, str]] = {}  # -> (file, field, name)
    installers: dict[str, Installer[Any]] = {}
    own = _own_folders(project)
    own_prefixes = tuple(f"{folder.rstrip('/')}/" for _, folder in own)
    own_exact = {folder for _, folder in own}
    writes: dict[str, Writes] = {}
    cas = known_cas(config)
    for spec, shown, i in located:
        where = f"certificate[{i}]"
        if spec.name in seen:
            problems.append(Problem(shown, f"{where}.name",
                                    f"{spec.name!r} is already declared in {seen[spec.name]}"))
        seen.setdefault(spec.name, shown)
        for ca in spec.ca or []:
            if check_names and ca not in cas:
                problems.append(Problem(shown, f"{where}.ca",
                                        f"unknown CA {ca!r} (known: {', '.join(cas)})"))
        rules = [("challenge", spec.challenge)] + [
            (f"challenge.domains.{d!r}", r) for d, r in spec.challenge.domains.items()
        ]
        for path, rule in rules:
            if check_names and rule.type == "dns-01" and rule.provider not in config.providers:
                known = ", ".join(sorted(config.providers)) or "none declared"
                problems.append(Problem(
                    shown, f"{where}.{path}.provider",
                    f"unknown provider {rule.provider!r}: declare [providers.{rule.provider}] "
                    f"in {CONFIG_FILE} (known: {known})"))
        mine = writes.setdefault(spec.name, Writes())
        for t, target in enumerate(spec.install):
            installer = installers.get(target.type)
            if installer is None:
                installer = installers[target.type] = INSTALLERS.get(target.type)()
            mine.notes += [(t, f"install[{t}] of {spec.name}: {w}")
                           for w in installer.warnings(target)]
            for kind, place in installer.locations(target, project.root).items():
                here = f"{where}.install[{t}].{kind}"
                mine.paths.append((t, place))
                if place in own_exact or place.startswith(own_prefixes):
                    problems += [Problem(shown, here, f"{place} is inside {what}: certplan's "
                                                      "own files; install it elsewhere")
                                 for what, folder in own if _inside(place, folder)]
                if (target.type, place) in places:
                    file, other, name = places[target.type, place]
                    problems.append(Problem(shown, here, f"{place} is also written by "
                                                         f"{file}: {other} ({name})"))
                places.setdefault((target.type, place), (shown, here, spec.name))
    return writes


@dataclass
class Writes:
    """What one certificate's install targets write and what the plan warns about."""

    paths: list[tuple[int, str]] = field(default_factory=list)  # (target index, place)
    notes: list[tuple[int, str]] = field(default_factory=list)  # (target index, warning)


def _own_folders(project: Project) -> list[tuple[str, str]]:
    """(what, canonical path) of the folders and file that are certplan's own."""
    paths = project.config.paths
    return [(f"the {what} folder ({paths_field} = {value!r})",
             os.path.realpath(project.path(value)))
            for what, paths_field, value in (("specs", "paths.specs", paths.specs),
                                             ("state", "paths.state", paths.state),
                                             ("keystore", "paths.keystore", paths.keystore))
            ] + [(CONFIG_FILE, os.path.realpath(project.root / CONFIG_FILE))]


def _inside(place: str, folder: str) -> bool:
    """Whether a place (a path when absolute) is `folder` or lies below it."""
    return place.startswith("/") and (place == folder or place.startswith(folder.rstrip("/") + "/"))


def _resolve(spec: CertSpec, config: Config, shown: str, writes: Writes | None) -> Desired:
    resolved = ResolvedSpec.resolve(spec, config.defaults)
    dirs = tuple(ca_directory(config, ca) or "" for ca in resolved.ca)
    if writes is None:
        return Desired(spec=resolved, directories=dirs, file=shown)
    return Desired(spec=resolved, directories=dirs, file=shown, writes=tuple(writes.paths),
                   notes=tuple(writes.notes))


def load_project(root: Path) -> Project:
    """Load and check everything; raise InputError listing every problem found."""
    with gc_paused():
        return _load_project(root)


def _load_project(root: Path) -> Project:
    problems: list[Problem] = []
    data, read_problems = read_toml(root / CONFIG_FILE, CONFIG_FILE)
    problems.extend(read_problems)
    config = parse_config(data, CONFIG_FILE, problems) if data is not None else None
    config_ok = config is not None
    if config is None:
        config = Config()  # keep checking the specs; CA and provider names cannot be
    project = Project(root=root, config=config)
    for ca in config.defaults.ca:
        if config_ok and ca not in known_cas(config):
            problems.append(Problem(CONFIG_FILE, "defaults.ca", f"unknown CA {ca!r} "
                                    f"(known: {', '.join(known_cas(config))})"))
    specs_dir = project.specs_dir
    located: list[tuple[CertSpec, str, int]] = []
    if not specs_dir.is_dir():
        problems.append(Problem(shown_path(specs_dir, root), "", "specs folder not found"))
    else:
        for path in sorted(specs_dir.glob("*.toml")):
            shown = shown_path(path, root)
            before = len(problems)
            specs = parse_spec_file(path, shown, problems)
            if len(problems) == before:
                located += [(s, shown, i) for i, s in enumerate(specs)]
            else:
                located += _locate_valid(path, shown, specs)
    writes = _cross_check(project, located, problems, check_names=config_ok)
    if problems:
        raise InputError(problems)
    project.desired = [_resolve(s, config, shown, writes.get(s.name)) for s, shown, _ in located]
    return project


def _locate_valid(path: Path, shown: str, specs: list[CertSpec]) -> list[tuple[CertSpec, str, int]]:
    """Indices of the specs that validated, when some entries of the file did not."""
    data, _ = read_toml(path, shown)
    entries = (data or {}).get("certificate", [])
    names = [e.get("name") if isinstance(e, dict) else None for e in entries]
    out = []
    for spec in specs:
        index = names.index(spec.name) if spec.name in names else 0
        out.append((spec, shown, index))
    return out


def inputs_digest(project: Project) -> str:
    """SHA-256 over certplan.toml and every spec file, by relative path and content:
    what a saved plan is stamped with."""
    h = hashlib.sha256()
    files = [project.root / CONFIG_FILE] + sorted(project.specs_dir.glob("*.toml"))
    for path in files:
        h.update(str(path.relative_to(project.root) if path.is_relative_to(project.root)
                     else path).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()
