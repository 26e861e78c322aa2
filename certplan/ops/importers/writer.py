"""Turn what a reader found into certplan's files, refusing to overwrite anything.

`prepare` renders the specs and the certplan.toml additions, validates them as
`certplan validate` would, builds the state records (with install records that
say what certplan would write, so that the plan shows an install only where a
file really differs) and collects every conflict at once. `write` then stores the
keys and account keys in the keystore (0600), the records through the state
backend (compare-and-swap, under its lock), the specs and the config tables.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from certplan.installers.files import FilesTarget, target_contents
from certplan.load import parse_config, parse_spec_file
from certplan.model.crypto import cert_info, split_chain
from certplan.model.errors import CertplanError, InputError, Problem
from certplan.model.installed import Material, fingerprint_of
from certplan.model.presets import PRESETS
from certplan.model.project import CONFIG_FILE, Project
from certplan.model.records import CertFacts, CertRecord, InstallRecord
from certplan.ops.importers.common import key_type_of
from certplan.ops.importers.found import Found, FoundAccount, FoundCert
from certplan.ops.importers.tomlout import config_tables, spec_text
from certplan.store.atomic import atomic_write
from certplan.store.backends import open_state_backend
from certplan.store.keystore import Keystore
from certplan.store.safefs import make_dirs


class ImportConflict(CertplanError):
    """The import would overwrite something that exists: nothing was written."""


@dataclass
class Prepared:
    project: Project
    found: Found
    specs: dict[Path, str] = field(default_factory=dict)
    config_addition: str = ""
    records: list[CertRecord] = field(default_factory=list)
    accounts: list[tuple[FoundAccount, str]] = field(default_factory=list)  # (account, email)
    todo: list[str] = field(default_factory=list)


def prepare(project: Project, found: Found, now: datetime) -> Prepared:
    """Everything to write, validated; ImportConflict naming every clash."""
    out = Prepared(project, found, todo=list(found.todo))
    conflicts: list[str] = []
    cas, new_cas = _ca_names(project, found, out.todo)
    providers = _new_providers(project, found, conflicts)
    if new_cas or providers:
        out.config_addition = config_tables(new_cas, providers,
                                            f"added by certplan import {found.tool}")
    keystore = Keystore(project.keystore_dir)
    state = open_state_backend(project).load()
    known = project.by_name()
    for cert in found.certs:
        path = project.specs_dir / f"{cert.name}.toml"
        for clash, what in ((path.exists(), f"spec file {path}"),
                            (cert.name in known, f"certificate {cert.name!r} in "
                             f"{known[cert.name].file if cert.name in known else ''}"),
                            (cert.name in state.records, f"state record {cert.name!r}"),
                            (keystore.cert_dir(cert.name).exists(),
                             f"keystore entry {keystore.cert_dir(cert.name)}")):
            if clash:
                conflicts.append(what)
        out.specs[path] = spec_text(_spec_table(cert, cas[cert.directory]),
                                    f"imported from {found.tool}: {cert.source}")
    out.accounts = _accounts(project, found, cas, keystore, conflicts, out.todo)
    if conflicts:
        raise ImportConflict("certplan import would overwrite what exists (nothing was "
                             "written): " + "; ".join(conflicts))
    _validate(project, out)  # first: an install table certplan refuses is named, not raised
    out.records = [_record(c, cas[c.directory], found, now) for c in found.certs]
    return out


def _ca_names(project: Project, found: Found,
              todo: list[str]) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """directory URL -> CA name: a [ca.X] of certplan.toml, a preset, or a new table."""
    names: dict[str, str] = {}
    new: dict[str, dict[str, Any]] = {}
    config = project.config
    for directory in sorted({c.directory for c in found.certs}):
        name = next((n for n, ca in config.ca.items() if ca.directory == directory), None)
        name = name or next((n for n, p in PRESETS.items() if p.directory == directory
                             and not (config.ca.get(n) and config.ca[n].directory)), None)
        if name is None:
            host = re.sub(r"[^a-z0-9-]", "-", (urlsplit(directory).hostname or "ca").lower())
            name = f"imported-{host}"
            while name in config.ca or name in new:
                name += "-2"
            new[name] = {"directory": directory}
            todo.append(f"[ca.{name}] ({directory}) was added: add ca_bundle if its TLS "
                        "certificate is not publicly trusted")
        names[directory] = name
    return names, new


def _new_providers(project: Project, found: Found,
                   conflicts: list[str]) -> dict[str, dict[str, Any]]:
    new = {}
    for name, table in found.providers.items():
        have = project.config.providers.get(name)
        if have is None:
            new[name] = table
        elif have.type != table["type"]:
            conflicts.append(f"[providers.{name}] of {CONFIG_FILE} is type {have.type!r}, "
                             f"the import needs {table['type']!r}")
    return new


def _spec_table(cert: FoundCert, ca: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": cert.name, "domains": cert.domains, "ca": ca,
                            "key": key_type_of(cert.key_pem, cert.source)}
    if cert.renew_before_days is not None:
        spec["renew_before_days"] = cert.renew_before_days
    if cert.preferred_chain:
        spec["preferred_chain"] = cert.preferred_chain
    spec["challenge"] = cert.challenge
    spec["install"] = cert.install
    return spec


def _record(cert: FoundCert, ca: str, found: Found, now: datetime) -> CertRecord:
    """The state of a certificate certplan did not issue: its facts, the account it
    was issued to, and each install target as certplan would have written it."""
    from certplan.ca.certs import ari_cert_id

    info = cert_info(cert.fullchain_pem)
    leaf, chain = split_chain(cert.fullchain_pem)
    material = Material(cert.key_pem, leaf, chain, cert.fullchain_pem)
    installs = []
    for table in cert.install:
        target = FilesTarget.model_validate(table)
        parts = {path: hashlib.sha256(data).hexdigest()
                 for path, data in target_contents(target, material).items()}
        installs.append(InstallRecord(installer=target.type, digest=target.digest(),
                                      fingerprint=fingerprint_of(parts), parts=parts,
                                      installed_at=now))
    try:
        ari_id: str | None = ari_cert_id(leaf)
    except (CertplanError, ValueError):
        ari_id = None
    account = next((a for a in found.accounts if a.directory == cert.directory), None)
    sans = [d.lower() for d in info.sans]
    main = (info.subject_cn or "").lower()
    domains = ([main] if main in sans else []) + [d for d in sans if d != main]
    facts = CertFacts(serial=info.serial, not_before=info.not_before, not_after=info.not_after,
                      issuer=info.issuer, fingerprint_sha256=info.fingerprint,
                      chain_pem=cert.fullchain_pem.decode("ascii"), ari_id=ari_id,
                      issued_at=info.not_before)
    return CertRecord(name=cert.name, domains=domains or cert.domains,
                      key_type=key_type_of(cert.key_pem, cert.source), ca=ca,
                      ca_directory=cert.directory,
                      account_url=account.account_url if account else None,
                      created_at=info.not_before, certificate=facts, installs=installs)


def _accounts(project: Project, found: Found, cas: dict[str, str], keystore: Keystore,
              conflicts: list[str], todo: list[str]) -> list[tuple[FoundAccount, str]]:
    """Each account under the (directory, e-mail) the CA's sessions will look up."""
    config, out, done = project.config, [], set()
    for account in found.accounts:
        if account.directory not in cas:
            continue
        if account.directory in done:
            todo.append(f"account {account.source} is a second account at "
                        f"{account.directory}: not adopted (certplan uses one per CA)")
            continue
        done.add(account.directory)
        ca = config.ca.get(cas[account.directory])
        email = (ca.email if ca else None) or config.defaults.email or ""
        have = keystore.load_account_key(account.directory, email)
        if have is not None and have.strip() != account.key_pem.strip():
            key_path = keystore.account_paths(account.directory, email)[0]
            conflicts.append(f"keystore account key {key_path} (another key)")
        out.append((account, email))
    return out


def _validate(project: Project, out: Prepared) -> None:
    """The new config and specs, read back as `certplan validate` reads them."""
    problems: list[Problem] = []
    config_path = project.root / CONFIG_FILE
    text = config_path.read_text(encoding="utf-8") + out.config_addition
    try:
        parse_config(tomllib.loads(text), CONFIG_FILE, problems)
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(CONFIG_FILE, "", f"with the import's tables: {exc}"))
    with tempfile.TemporaryDirectory() as tmp:
        for path, spec in out.specs.items():
            probe = Path(tmp) / path.name
            probe.write_text(spec, encoding="utf-8")
            parse_spec_file(probe, f"{path.name} (to be written)", problems)
    if problems:
        raise InputError(problems)


def write(prepared: Prepared) -> list[str]:
    """Write everything; what was done, one line each."""
    project, done = prepared.project, []
    keystore = Keystore(project.keystore_dir)
    for cert in prepared.found.certs:
        keystore.store_current(cert.name, cert.key_pem, cert.fullchain_pem)
        done.append(f"keystore: {keystore.cert_dir(cert.name)}/current (key 0600)")
    for account, email in prepared.accounts:
        if keystore.adopt_account(account.directory, email, account.key_pem,
                                  account.account_url):
            done.append(f"keystore: account key for {account.directory} "
                        f"({account.account_url or 'URL looked up at the first apply'})")
    backend = open_state_backend(project)
    with backend.lock(0):
        state = backend.load()
        if state.problems:
            raise InputError(state.problems)
        serial = state.serial
        for record in prepared.records:
            if record.name in state.records:
                raise ImportConflict(f"state record {record.name!r} appeared meanwhile")
            serial = backend.write(record, serial).serial
            done.append(f"state: {record.name}")
    make_dirs(project.specs_dir, 0o755)
    for path, text in prepared.specs.items():
        _create(path, text.encode("utf-8"))
        done.append(f"spec: {path}")
    if prepared.config_addition:
        config_path = project.root / CONFIG_FILE
        mode = config_path.stat().st_mode & 0o777
        atomic_write(config_path, config_path.read_bytes()
                     + prepared.config_addition.encode("utf-8"), mode)
        done.append(f"config: tables appended to {config_path}")
    return done


def _create(path: Path, data: bytes) -> None:
    """A new file, never over an existing one (or a link)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise ImportConflict(f"{path} appeared meanwhile; the rest was written") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
