"""Look at the world before planning: installed targets, and ARI windows from the CAs."""

from __future__ import annotations

from typing import Any

from certplan.installers import INSTALLERS, Installer
from certplan.model.gcpause import gc_paused
from certplan.model.installed import Observed
from certplan.model.observed import Observations
from certplan.model.project import Desired, Project
from certplan.model.records import CertRecord


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
    wanted = project.by_name()
    if not refresh_ari:
        return Observations(installs=installs)
    from certplan.observe.ari import AriLookup, fetch_windows

    targets = []
    for name, rec in records.items():
        cert = rec.certificate
        if name not in wanted or cert is None or not cert.ari_id:
            continue
        ca = project.config.ca.get(rec.ca)
        targets.append(AriLookup(name=name, directory=rec.ca_directory, cert_id=cert.ari_id,
                                 ca_bundle=project.path(ca.ca_bundle).as_posix()
                                 if ca and ca.ca_bundle else None))
    from certplan.observe.ari_cache import CACHE_FILE

    windows, notes = fetch_windows(
        targets, timeout=timeout, cache_path=project.keystore_dir / CACHE_FILE,
    ) if targets else ({}, {})
    return Observations(installs=installs, ari=windows, ari_notes=notes, ari_refreshed=True)
