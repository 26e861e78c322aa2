"""Look at the world before planning: installed targets, and ARI windows from the CAs."""

from __future__ import annotations

from typing import Any

from certplan.installers import INSTALLERS, Installer
from certplan.model.gcpause import gc_paused
from certplan.model.installed import Observed
from certplan.model.observed import Observations
from certplan.model.project import Desired, Project
from certplan.model.records import CertRecord
from certplan.observe.ari import AriLookup


def observe_installs(project: Project,
                     records: dict[str, CertRecord]) -> dict[tuple[str, int], Observed]:
    """Each installed target of a wanted certificate, as its installer sees it now
    (targets never installed, or whose last install failed, need no look)."""
    with gc_paused():  # a few small objects per target, no cycles: see gcpause
        return _observe_installs(project.by_name(), records)


def _observe_installs(wanted: dict[str, Desired],
                      records: dict[str, CertRecord]) -> dict[tuple[str, int], Observed]:
    installers: dict[str, Installer[Any]] = {}
    out: dict[tuple[str, int], Observed] = {}
    for name, rec in records.items():
        desired = wanted.get(name)
        if desired is None:
            continue
        for i, (target, done) in enumerate(zip(desired.spec.install, rec.installs, strict=False)):
            if done.status != "installed":
                continue
            installer = installers.get(target.type)
            if installer is None:
                installer = installers[target.type] = INSTALLERS.get(target.type)()
            out[(name, i)] = installer.observe(target)
    return out


def observe(project: Project, records: dict[str, CertRecord], refresh_ari: bool,
            timeout: float = 5.0) -> Observations:
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
