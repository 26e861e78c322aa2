"""http-01 validators: webroot served by a real nginx, standalone responder, self-check.

Names resolve through pebble-challtestsrv (a mock DNS server answering 127.0.0.1 for
every name), reached with the validators' `resolvers` setting, as in production."""

from __future__ import annotations

import os
import socket
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from certplan.model.challenge import Challenge
from certplan.model.errors import ChallengeError
from certplan.model.spec import ChallengeRule
from certplan.validators import (
    VALIDATORS,
    StandalonePool,
    StandaloneValidator,
    WebrootValidator,
    build_validator,
    validator_name,
)
from tests.servers.nginx import NginxServer, nginx  # noqa: F401 - fixture
from tests.servers.pebble import start_challtestsrv
from tests.servers.ports import free_port, stop


def challenge(name: str, token: str) -> Challenge:
    return Challenge(identifier=name, wildcard=False, type="http-01", token=token,
                     key_authorization=f"{token}.thumbprint-{name}")


CHALLENGES = [challenge("www.example.com", "tok-AAAA_1"), challenge("shop.example.org", "tok-B2")]


@pytest.fixture(scope="module")
def mock_dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pebble-challtestsrv answering A 127.0.0.1 for any name; yields "127.0.0.1:PORT"."""
    proc, dns_port, _ = start_challtestsrv(tmp_path_factory.mktemp("dns"), None)
    try:
        yield f"127.0.0.1:{dns_port}"
    finally:
        stop(proc)


# -- factory (no servers) ------------------------------------------------------------------

def test_build_validator_http01(tmp_path: Path) -> None:
    web = build_validator(ChallengeRule(type="http-01", webroot=str(tmp_path), self_check=False),
                          http01_port=8080, resolvers=["127.0.0.1:53"])
    assert isinstance(web, WebrootValidator)
    assert (web.webroot, web.port, web.resolvers, web.self_check) == (
        tmp_path, 8080, ["127.0.0.1:53"], False)
    alone = build_validator(ChallengeRule(type="http-01", standalone=True, listen="[::1]:5002"))
    assert isinstance(alone, StandaloneValidator)
    assert alone.listen == ("::1", 5002) and alone.port == 80
    assert {"webroot", "standalone"} <= set(VALIDATORS.names())


def test_validator_names(tmp_path: Path) -> None:
    """build_validator looks the factory up by this name; dns-01 registers "dns-01"."""
    assert validator_name(ChallengeRule(type="http-01", webroot=str(tmp_path))) == "webroot"
    assert validator_name(ChallengeRule(type="http-01", standalone=True)) == "standalone"
    assert validator_name(ChallengeRule(type="dns-01", provider="bind")) == "dns-01"


def test_token_escaping_folder_is_refused(tmp_path: Path) -> None:
    v = WebrootValidator(tmp_path / "www")
    with pytest.raises(ChallengeError, match="not base64url"):
        v.present([challenge("a.example.com", "../../etc/evil")])
    assert not (tmp_path / "etc").exists()


def test_webroot_files_modes_and_exact_cleanup(tmp_path: Path) -> None:
    webroot = tmp_path / "www"
    v = WebrootValidator(webroot, self_check=False)
    v.present(CHALLENGES)
    folder = webroot / ".well-known" / "acme-challenge"
    for folder_part in (webroot, webroot / ".well-known", folder):
        assert stat.S_IMODE(os.stat(folder_part).st_mode) == 0o755
    for ch in CHALLENGES:
        path = folder / ch.token
        assert path.read_text() == ch.key_authorization
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    (folder / "someone-elses-token").write_text("keep me")
    v.check(CHALLENGES, time.monotonic())  # self_check off: nothing fetched, no error
    v.cleanup(CHALLENGES + [challenge("never.example.com", "not-presented")])
    assert sorted(p.name for p in folder.iterdir()) == ["someone-elses-token"]
    v.cleanup(CHALLENGES)  # twice: no error


# -- webroot with nginx --------------------------------------------------------------------

@pytest.mark.integration
def test_webroot_served_by_nginx_passes_self_check(nginx: NginxServer,  # noqa: F811
                                                   mock_dns: str) -> None:
    v = WebrootValidator(nginx.webroot, port=nginx.http_port, resolvers=[mock_dns])
    try:
        v.present(CHALLENGES)
        started = time.monotonic()
        v.check(CHALLENGES, time.monotonic() + 10)
        assert time.monotonic() - started < 1.0
    finally:
        v.cleanup(CHALLENGES)
    assert list((nginx.webroot / ".well-known" / "acme-challenge").iterdir()) == []
    access = (nginx.prefix / "logs" / "access.log").read_text()
    assert "/.well-known/acme-challenge/tok-AAAA_1 HTTP/1.1\" 200" in access


@pytest.mark.integration
def test_system_resolver_localhost(nginx: NginxServer) -> None:  # noqa: F811
    ch = [challenge("localhost", "tok-local")]
    v = WebrootValidator(nginx.webroot, port=nginx.http_port)
    try:
        v.present(ch)
        v.check(ch, time.monotonic() + 5)
    finally:
        v.cleanup(ch)


@pytest.mark.integration
def test_wrong_webroot_fails_naming_file_and_url(nginx: NginxServer,  # noqa: F811
                                                 mock_dns: str, tmp_path: Path) -> None:
    wrong = tmp_path / "not-served"
    v = WebrootValidator(wrong, port=nginx.http_port, resolvers=[mock_dns])
    try:
        v.present(CHALLENGES[:1])
        started = time.monotonic()
        with pytest.raises(ChallengeError) as info:
            v.check(CHALLENGES[:1], time.monotonic() + 0.5)
        assert time.monotonic() - started < 3
    finally:
        v.cleanup(CHALLENGES[:1])
    msg = str(info.value)
    token_file = wrong / ".well-known" / "acme-challenge" / "tok-AAAA_1"
    url = f"http://www.example.com:{nginx.http_port}/.well-known/acme-challenge/tok-AAAA_1"
    assert str(token_file) in msg and url in msg and "HTTP 404" in msg
    assert set(info.value.failures) == {"www.example.com"}
    assert not token_file.exists()


@pytest.mark.integration
def test_unreadable_token_file_fails(nginx: NginxServer, mock_dns: str) -> None:  # noqa: F811
    """nginx workers run as nobody: a token file others cannot read is a 403."""
    v = WebrootValidator(nginx.webroot, port=nginx.http_port, resolvers=[mock_dns])
    ch = CHALLENGES[:1]
    try:
        v.present(ch)
        os.chmod(v.token_path(ch[0]), 0o600)
        with pytest.raises(ChallengeError, match="HTTP 403"):
            v.check(ch, time.monotonic() + 0.3)
    finally:
        v.cleanup(ch)


@pytest.mark.integration
def test_nothing_listening_fails_with_reason(mock_dns: str, tmp_path: Path) -> None:
    v = WebrootValidator(tmp_path, port=free_port(), resolvers=[mock_dns])
    with pytest.raises(ChallengeError, match="cannot connect to 127.0.0.1"):
        v.check(CHALLENGES[:1], time.monotonic() + 0.2)


# -- standalone ----------------------------------------------------------------------------

def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _port_is_free(port: int) -> bool:
    """Another server (with SO_REUSEADDR, as servers do) can listen there now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


@pytest.mark.integration
def test_standalone_binds_serves_and_releases(mock_dns: str) -> None:
    port = free_port()
    v = StandaloneValidator(("127.0.0.1", port), port=port, resolvers=[mock_dns])
    assert _get_refused(port)
    try:
        v.present(CHALLENGES)
        assert v.running
        v.check(CHALLENGES, time.monotonic() + 5)
        status, body = _get(port, "/.well-known/acme-challenge/tok-B2")
        assert (status, body) == (200, CHALLENGES[1].key_authorization.encode())
        assert _get(port, "/.well-known/acme-challenge/unknown")[0] == 404
        assert _get(port, "/index.html")[0] == 404
    finally:
        v.cleanup(CHALLENGES)
    assert not v.running
    assert _get_refused(port) and _port_is_free(port)


def _get_refused(port: int) -> bool:
    try:
        _get(port, "/")
    except urllib.error.URLError as exc:
        return isinstance(exc.reason, ConnectionRefusedError)
    return False


@pytest.mark.integration
def test_standalone_port_in_use(mock_dns: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        v = StandaloneValidator(("127.0.0.1", port), port=port, resolvers=[mock_dns])
        with pytest.raises(ChallengeError, match=f"cannot listen on 127.0.0.1:{port}"):
            v.present(CHALLENGES)
        assert not v.running
        v.cleanup(CHALLENGES)  # nothing to undo, no error


@pytest.mark.integration
def test_standalone_pool_shares_one_server_per_address(mock_dns: str) -> None:
    """Two orders of one run on one listen address: one server, started once; each
    cleanup removes only its own answers; the server stops when the run closes the pool."""
    port = free_port()
    pool = StandalonePool()
    one = StandaloneValidator(("127.0.0.1", port), port=port, resolvers=[mock_dns], pool=pool)
    two = StandaloneValidator(("127.0.0.1", port), port=port, resolvers=[mock_dns], pool=pool)
    try:
        one.present(CHALLENGES[:1])
        two.present(CHALLENGES[1:])
        one.check(CHALLENGES[:1], time.monotonic() + 5)
        two.check(CHALLENGES[1:], time.monotonic() + 5)
        one.cleanup(CHALLENGES[:1])
        assert _get(port, "/.well-known/acme-challenge/tok-AAAA_1")[0] == 404
        assert _get(port, "/.well-known/acme-challenge/tok-B2") == (
            200, CHALLENGES[1].key_authorization.encode())
        two.cleanup(CHALLENGES[1:])
        assert two.running  # up until the run ends, ready for the next order
        one.present(CHALLENGES[:1])
        assert pool.server(("127.0.0.1", port)).starts == 1
    finally:
        pool.close()
    assert not one.running and _get_refused(port) and _port_is_free(port)
