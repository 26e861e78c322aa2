"""What each verified endpoint serves now: a probe before planning.

A target with `verify = "HOST:PORT"` is proven at install time by a TLS handshake
(certplan.installers.verify). The files on disk can match state while the server
still presents an older certificate (it was never reloaded, or reloaded from other
files): only a handshake tells. The probe makes that handshake, with the SNI apply
verifies with, for every installed target of a wanted certificate that has a
current certificate recorded, and reports the serial presented (or why nothing
answered). The planner compares it with the recorded serial.

The probe runs where the endpoints are reachable and the plan is carried out:
`apply` always, `plan --probe` on request; never a plain `plan` (CI contacts only
what certplan.toml names). Which targets to ask is the caller's (certplan.ops.probe:
those of the certificates the plan keeps). Handshakes run in parallel, at most
PARALLEL at once, each bounded by `timeout`, so an endpoint that does not answer
holds up no other. Two targets with the same endpoint and SNI are asked once.
"""

from __future__ import annotations

import ssl
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from certplan.model.hostport import parse_hostport
from certplan.model.installed import sni_name
from certplan.model.observed import Served
from certplan.model.project import Project
from certplan.model.records import CertRecord
from certplan.model.spec import InstallTarget

PARALLEL = 16  # handshakes at once
TIMEOUT = 5.0  # seconds per handshake (connect, and each read of it)


@dataclass(frozen=True)
class Endpoint:
    """Where a target's server is asked, and with which name."""

    address: str  # HOST:PORT as the target writes it
    server_name: str

    @property
    def url(self) -> str:
        return f"https://{self.address}"


def verify_endpoint(target: InstallTarget, domains: list[str]) -> Endpoint | None:
    """The endpoint a target's install verifies (None: it verifies none), as its
    installer's target model says (`InstallTarget.tls_endpoint`); the SNI defaults to
    the name apply's verify asks for."""
    named = target.tls_endpoint()
    if named is None:
        return None
    address, name = named
    return Endpoint(address, name or sni_name(domains))


def probe_targets(project: Project, records: dict[str, CertRecord],
                  only: Collection[tuple[str, int]] | None = None,
                  ) -> dict[tuple[str, int], Endpoint]:
    """(certificate, install index) -> endpoint, for each target worth a handshake:
    installed, verified, of a wanted certificate with a current certificate (`only`:
    of these)."""
    wanted = project.by_name()
    out: dict[tuple[str, int], Endpoint] = {}
    for name, rec in records.items():
        desired = wanted.get(name)
        if desired is None or rec.certificate is None:
            continue
        for i, (target, done) in enumerate(zip(desired.spec.install, rec.installs,
                                               strict=False)):
            if only is not None and (name, i) not in only:
                continue
            endpoint = verify_endpoint(target, desired.spec.domains)
            if endpoint is not None and done.status == "installed":
                out[(name, i)] = endpoint
    return out


def probe_served(project: Project, records: dict[str, CertRecord],
                 only: Collection[tuple[str, int]] | None = None,
                 timeout: float = TIMEOUT) -> dict[tuple[str, int], Served]:
    """What each target's verify endpoint serves now (see the module docstring)."""
    targets = probe_targets(project, records, only)
    found = ask_all(set(targets.values()), timeout)
    return {key: found[endpoint] for key, endpoint in targets.items()}


def ask_all(endpoints: Iterable[Endpoint], timeout: float = TIMEOUT) -> dict[Endpoint, Served]:
    todo = sorted(endpoints, key=lambda e: (e.address, e.server_name))
    if not todo:
        return {}
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(todo))) as pool:
        return dict(zip(todo, pool.map(lambda e: ask(e, timeout), todo), strict=True))


def ask(endpoint: Endpoint, timeout: float = TIMEOUT) -> Served:
    """One handshake: the serial presented (lower-case hex, as state records it)."""
    from cryptography import x509

    from certplan.installers.verify import served_leaf

    try:
        host, port = parse_hostport(endpoint.address)
        der = served_leaf(host, port, endpoint.server_name, timeout)
        serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
    except (OSError, ssl.SSLError, ValueError) as exc:
        return Served(endpoint.url, error=_why(exc, timeout))
    return Served(endpoint.url, serial=serial)


def _why(exc: Exception, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, ssl.SSLError):
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__
