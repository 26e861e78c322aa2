"""Faults that must fail fast with a reason (issue 10, items 9 and 13), through the CLI
against real Pebble, nginx and BIND: a wrong webroot, a name that does not resolve,
and two standalone certificates issued in parallel on one listen address."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.integration.modern_project import assert_clean_failure, make_project, standalone_spec
from tests.servers.bind import BindServer, start_bind
from tests.servers.nginx import NginxServer
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindServer]:
    server = start_bind(tmp_path_factory.mktemp("bind"))
    yield server
    server.stop()


def _set_http01(project: CertplanProject, line: str) -> None:
    """Add a key to the [http01] table that pebble_config wrote."""
    config = project.root / "certplan.toml"
    text = config.read_text()
    config.write_text(text.replace("[http01]\n", f"[http01]\n{line}\n", 1))


def _wrong_webroot(project: CertplanProject, site: NginxServer, tmp_path: Path) -> Path:
    wrong = tmp_path / "not-served"  # nginx serves site.webroot, not this folder
    project.write_spec("web.toml", spec_toml("web", ["wrong.example.test"], wrong, None))
    return wrong


def test_wrong_webroot_fails_within_35s_naming_url_and_status(
        project: CertplanProject, site: NginxServer, tmp_path: Path) -> None:
    """Default settings (300 s --timeout, 30 s self-check): fails in about 30 s, and the
    error names the URL fetched, the status and body nginx answered, and the file."""
    wrong = _wrong_webroot(project, site, tmp_path)
    started = time.monotonic()
    res = project.apply()
    elapsed = time.monotonic() - started
    out = assert_clean_failure(res)
    assert elapsed < 35, f"took {elapsed:.1f}s"
    url = (f"http://wrong.example.test:{project.pebble.http_port}"
           f"/.well-known/acme-challenge/")
    assert f"self-check fetched {url}" in out, out
    assert "HTTP 404, body '<html>" in out and "404 Not Found" in out, out
    assert str(wrong / ".well-known" / "acme-challenge") in out
    assert re.search(r"gave up after (29|3\d)\.\ds", out), out
    assert project.state("web")["certificate"] is None


def test_self_check_timeout_is_read_from_config(project: CertplanProject, site: NginxServer,
                                                tmp_path: Path) -> None:
    _set_http01(project, "self_check_timeout = 1.5")
    _wrong_webroot(project, site, tmp_path)
    started = time.monotonic()
    res = project.apply()
    elapsed = time.monotonic() - started
    out = assert_clean_failure(res)
    assert elapsed < 10, f"took {elapsed:.1f}s"
    assert "HTTP 404" in out and re.search(r"gave up after 1\.\ds", out), out


def test_name_that_does_not_resolve_fails_at_once(project: CertplanProject, site: NginxServer,
                                                  bind: BindServer) -> None:
    """alias.test (served by BIND) has no such name: NXDOMAIN is not retried."""
    config = project.root / "certplan.toml"
    text = config.read_text()
    config.write_text(re.sub(r"resolvers = \[.*\]", f'resolvers = ["{bind.server}"]', text))
    project.write_spec("web.toml", spec_toml("web", ["missing.alias.test"], site.webroot, None))
    started = time.monotonic()
    res = project.apply()
    elapsed = time.monotonic() - started
    out = assert_clean_failure(res)
    assert elapsed < 10, f"took {elapsed:.1f}s"
    assert (f"missing.alias.test does not resolve: no A or AAAA record at {bind.server}"
            in out), out


def test_two_standalone_certificates_in_parallel(pebble: PebbleServer,  # noqa: F811
                                                 tmp_path: Path) -> None:
    """Both bind the listen address Pebble dials: one server, shared, for the run."""
    project = make_project(tmp_path / "ops", pebble)
    standalone_spec(project, "one", ["one.example.test"])
    standalone_spec(project, "two", ["two.example.test", "www.two.example.test"])
    res = project.apply("--parallel", "4")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Address already in use" not in res.stdout + res.stderr
    for name in ("one", "two"):
        assert project.state(name)["certificate"]["serial"]
        assert (project.root / "out" / f"{name}.fullchain.pem").exists()
    # the run is over: the listen address is free again
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", pebble.http_port))
