"""Look at the world before planning: installed targets, and ARI windows from the CAs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from certplan.installers import INSTALLERS, Installer
from certplan.model.gcpause import gc_paused
from certplan.model.installed import Observed
from certplan.model.observed import Observations
from certplan.model.project import Desired, Project
from certplan.model.records import CertRecord, InstallRecord
from certplan.model.spec import InstallTarget
from certplan.observe.ari import AriLookup


def observe_installs(project: Project,
                     records: dict[str, CertRecord]) -> dict[tuple[str, int], Observed]:
    """Each installed target of a wanted certificate, as its installer sees it now
    (targets never installed, or whose last install failed, need no look)."""
    with gc_paused():  # a few small objects per target, no cycles: see gcpause
        return _observe_installs(project.by_name(), records)


@runtime_checkable
class ObservesMany(Protocol):
    """An installer that looks at many targets at once (ssh: one round trip per host,
    hosts in parallel); it answers in the order asked."""

    def observe_many(self, targets: Sequence[Any]) -> list[Observed]: ...


def _installed(wanted: dict[str, Desired], records: dict[str, CertRecord],
               ) -> Iterator[tuple[tuple[str, int], InstallTarget, InstallRecord]]:
    """(key, target, record) of every target installed last time, of a wanted name."""
    for name, rec in records.items():
        desired = wanted.get(name)
        if desired is None:
            continue
        for i, (target, done) in enumerate(zip(desired.spec.install, rec.installs, strict=False)):
            if done.status == "installed":
                yield (name, i), target, done


def _observe_installs(wanted: dict[str, Desired],
                      records: dict[str, CertRecord]) -> dict[tuple[str, int], Observed]:
    installers: dict[str, Installer[Any]] = {}
    out: dict[tuple[str, int], Observed] = {}
    batches: dict[str, list[tuple[tuple[str, int], InstallTarget]]] = {}
    for key, target, _ in _installed(wanted, records):
        installer = installers.get(target.type)
        if installer is None:
            installer = installers[target.type] = INSTALLERS.get(target.type)()
        if isinstance(installer, ObservesMany):
            batches.setdefault(target.type, []).append((key, target))
        else:
            out[key] = installer.observe(target)
    for kind, batch in batches.items():
        many = installers[kind]
        assert isinstance(many, ObservesMany)
        out.update(zip([k for k, _ in batch], many.observe_many([t for _, t in batch]),
                       strict=True))
    return out


def recorded_installs(project: Project,
                      records: dict[str, CertRecord]) -> dict[tuple[str, int], Observed]:
    """`--offline`: each installed target taken to be as state records it (nothing
    is looked at), so install changes come only from what the specs changed."""
    return {key: Observed(done.fingerprint or "", dict(done.parts))
            for key, _, done in _installed(project.by_name(), records)}


def observe(project: Project, records: dict[str, CertRecord], refresh_ari: bool,
            timeout: float = 5.0, offline: bool = False) -> Observations:
    """What is installed and the CAs' renewal windows; `offline`: neither (no
    network, no look at any target), see `recorded_installs`."""
    if offline:
        return Observations(installs=recorded_installs(project, records))
    installs = observe_installs(project, records)
    if not refresh_ari:
        return Observations(installs=installs)
    from certplan.observe.ari import fetch_windows

    targets, skipped = ari_lookups(project, records)
    from certplan.observe.ari_cache import CACHE_FILE

    windows, notes = fetch_windows(
        targets, timeout=timeout, cache_path=project.keystore_dir / CACHE_FILE,
    ) if targets else ({}, {})
    return Observations(installs=installs, ari=windows, ari_notes={**skipped, **notes},
                        ari_refreshed=True)


def ari_lookups(project: Project, records: dict[str, CertRecord],
                ) -> tuple[list[AriLookup], dict[str, str]]:
    """Whom to ask for each renewal window, and a note for each one not asked.

    Only what certplan.toml names is contacted (`plan` runs in CI on files from pull
    requests): the CA's directory comes from the config; the state's ca_directory
    is used only when it is that same URL, else there is no lookup."""
    from certplan.model.config import ca_directory

    wanted = project.by_name()
    targets, skipped = [], {}
    for name, rec in records.items():
        cert = rec.certificate
        if name not in wanted or cert is None or not cert.ari_id:
            continue
        directory = ca_directory(project.config, rec.ca)
        if directory is None or directory != rec.ca_directory:
            skipped[name] = (f"not asked: state records directory {rec.ca_directory!r} for CA "
                             f"{rec.ca!r}, which certplan.toml does not name")
            continue
        ca = project.config.ca.get(rec.ca)
        targets.append(AriLookup(name=name, directory=directory, cert_id=cert.ari_id,
                                 ca_bundle=project.path(ca.ca_bundle).as_posix()
                                 if ca and ca.ca_bundle else None))
    return targets, skipped
