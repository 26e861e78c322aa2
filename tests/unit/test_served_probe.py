"""The probe before planning (certplan.observe.served): which targets it asks, with
which SNI, and what a real TLS handshake finds; endpoints that refuse or hang are
reported with the reason, in parallel, within the timeout, holding up no other."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certplan.model.config import Config
from certplan.model.installed import sni_name
from certplan.model.project import Project
from certplan.observe.served import (
    Endpoint,
    ask,
    ask_all,
    probe_served,
    probe_targets,
    verify_endpoint,
)
from tests.servers.nginx import self_signed
from tests.servers.ports import free_port
from tests.unit.test_plan import desired, record, target


class TlsServer:
    """A TLS server on loopback presenting a self-signed certificate; it records the
    SNI each client asked for."""

    def __init__(self, folder: Path) -> None:
        cert, key = folder / "cert.pem", folder / "key.pem"
        self.serial = self_signed(cert, key).lower()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.names: list[str | None] = []
        self.ctx.sni_callback = self._sni
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _sni(self, _sock: ssl.SSLObject | ssl.SSLSocket, name: str | None,
             _ctx: ssl.SSLContext) -> None:
        self.names.append(name)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[TlsServer]:
    server = TlsServer(tmp_path)
    yield server
    server.close()


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    sock = socket.create_server(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def test_a_handshake_reports_the_served_serial_and_asks_the_sni(tls: TlsServer) -> None:
    found = ask(Endpoint(f"127.0.0.1:{tls.port}", "www.example.test"))
    assert (found.serial, found.error) == (tls.serial, None)
    assert found.url == f"https://127.0.0.1:{tls.port}"
    assert tls.names == ["www.example.test"]


def test_a_refused_connection_is_named() -> None:
    found = ask(Endpoint(f"127.0.0.1:{free_port()}", "www.example.test"))
    assert found.serial is None and found.error == "connection refused"


def test_a_silent_endpoint_holds_up_no_other(tls: TlsServer, silent: int) -> None:
    endpoints = [Endpoint(f"127.0.0.1:{silent}", f"s{i}.test") for i in range(3)] + \
        [Endpoint(f"127.0.0.1:{tls.port}", "www.example.test")]
    started = time.monotonic()
    found = ask_all(endpoints, timeout=1.0)
    assert time.monotonic() - started < 2.5  # in parallel: not 3 x 1 s
    assert found[endpoints[-1]].serial == tls.serial
    assert {found[e].error for e in endpoints[:3]} == {"no answer within 1 s"}


def test_only_installed_verified_targets_of_wanted_certificates_are_asked(
        tls: TlsServer, tmp_path: Path) -> None:
    at = f"127.0.0.1:{tls.port}"
    www = desired("www", ["example.test", "www.example.test"],
                  install=[target(0), target(1, verify=at), target(2, verify=at,
                                                                   verify_name="alt.test")])
    failed = desired("api", ["api.test"], install=[target(3, verify=at)])
    new = desired("new", ["new.test"], install=[target(4, verify=at)])
    rec_failed = record(failed)
    rec_failed = rec_failed.model_copy(update={"installs": [rec_failed.installs[0].model_copy(
        update={"status": "failed", "parts": {}})]})
    gone = desired("gone", ["gone.test"], install=[target(5, verify=at)])
    records = {"www": record(www), "api": rec_failed, "new": record(new, cert=False),
               "gone": record(gone)}
    project = Project(root=tmp_path, config=Config(), desired=[www, failed, new])
    # the SNI: verify_name, else the certificate's first name
    assert probe_targets(project, records) == {
        ("www", 1): Endpoint(at, "example.test"), ("www", 2): Endpoint(at, "alt.test")}
    assert probe_targets(project, records, only={("api", 0), ("www", 2)}) == {
        ("www", 2): Endpoint(at, "alt.test")}
    served = probe_served(project, records)
    assert {k: v.serial for k, v in served.items()} == {("www", 1): tls.serial,
                                                         ("www", 2): tls.serial}
    assert sorted(n or "" for n in tls.names) == ["alt.test", "example.test"]


def test_the_sni_is_the_first_name_that_is_not_a_wildcard() -> None:
    assert sni_name(["*.example.test", "example.test"]) == "example.test"
    assert sni_name(["*.example.test"]) == "certplan-verify.example.test"


def test_an_ssh_target_is_asked_at_its_host_when_verify_names_only_a_port() -> None:
    from certplan.installers.ssh_target import SshTarget

    t = SshTarget(type="ssh", host="web1.example.test", key_file="/etc/k.pem",
                  fullchain_file="/etc/f.pem", verify=":8443")
    assert verify_endpoint(t, ["a.test"]) == Endpoint("web1.example.test:8443", "a.test")
    assert verify_endpoint(target(0), ["a.test"]) is None


def test_only_certificates_the_plan_keeps_are_probed(tmp_path: Path) -> None:
    """Issued, renewed or removed ones are installed (or removed) anyway."""
    from certplan.core.plan import make_plan
    from certplan.ops.probe import kept
    from tests.unit.test_plan import NOW, files_ok, observed

    keep = desired("keep", ["keep.test"], install=[target(0), target(1)])
    renew = desired("renew", ["renew.test"], install=[target(2)])
    new = desired("new", ["new.test"], install=[target(3)])
    drift = desired("drift", ["drift.test"], install=[target(4), target(5)])
    records = {"keep": record(keep), "renew": record(renew), "drift": record(drift),
               "gone": record(desired("gone", ["gone.test"], install=[target(6)]))}
    files = files_ok(keep, renew, drift)
    files.pop(target(4).fullchain_file or "")
    plan = make_plan([keep, renew, new, drift], records,
                     observed(files, keep, renew, drift), NOW, replace=["renew"])
    assert {c.name: c.action.value for c in plan.changes} == {
        "renew": "renew", "new": "issue", "drift": "install", "gone": "remove"}
    project = Project(root=tmp_path, config=Config(), desired=[keep, renew, new, drift])
    assert kept(plan, project) == {("keep", 0), ("keep", 1), ("drift", 0), ("drift", 1)}
