"""Files installer against a real nginx: new certificate served; failures roll back."""

from __future__ import annotations

import time

import pytest

from certplan.installers import FilesInstaller, FilesTarget
from certplan.model import crypto
from certplan.model.errors import InstallError
from certplan.model.installed import Installed, Material
from tests.servers.nginx import NginxServer, nginx  # noqa: F401 - fixture
from tests.unit.test_crypto import issue

pytestmark = pytest.mark.integration


def new_pair(serial: int) -> tuple[bytes, bytes]:
    key = crypto.generate_key("ec-256")
    return crypto.key_to_pem(key), issue(key, ["localhost"], serial=serial)


def target_for(server: NginxServer, **kw: str | None) -> FilesTarget:
    fields: dict[str, str | None] = {
        "key_file": str(server.key_path), "fullchain_file": str(server.cert_path),
        "check": server.check_command, "reload": server.reload_command}
    fields.update(kw)
    return FilesTarget(**fields)


def install(target: FilesTarget, key: bytes, fullchain: bytes) -> Installed:
    leaf, chain = crypto.split_chain(fullchain)
    return FilesInstaller().install(target, Material(key, leaf, chain, fullchain))


def wait_for_serial(server: NginxServer, serial: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        seen = server.served_serial()
        if seen == serial or time.monotonic() > deadline:
            return seen
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def test_install_new_certificate_is_served(nginx: NginxServer) -> None:  # noqa: F811
    key, chain = new_pair(0x5E7E11)
    result = install(target_for(nginx), key, chain)
    assert result.changed
    assert result.ran == (nginx.check_command, nginx.reload_command)
    assert wait_for_serial(nginx, "5e7e11") == "5e7e11"
    again = install(target_for(nginx), key, chain)
    assert not again.changed and again.ran == ()
    assert FilesInstaller().observe(target_for(nginx)) == again.observed()


def test_failing_check_keeps_old_certificate(nginx: NginxServer) -> None:  # noqa: F811
    old_serial = nginx.served_serial()
    before = (nginx.cert_path.read_bytes(), nginx.key_path.read_bytes())
    _, chain = new_pair(0xBAD1)
    wrong_key = crypto.key_to_pem(crypto.generate_key("ec-256"))
    with pytest.raises(InstallError) as info:
        install(target_for(nginx), wrong_key, chain)
    msg = str(info.value)
    assert "check command" in msg and "exited 1" in msg
    assert "key values mismatch" in msg  # nginx -t's own words, captured
    assert (nginx.cert_path.read_bytes(), nginx.key_path.read_bytes()) == before
    assert nginx.served_serial() == old_serial


def test_check_false_keeps_old_certificate(nginx: NginxServer) -> None:  # noqa: F811
    old_serial = nginx.served_serial()
    before = nginx.cert_path.read_bytes()
    key, chain = new_pair(0xBAD2)
    with pytest.raises(InstallError, match="'false' exited 1"):
        install(target_for(nginx, check="false"), key, chain)
    assert nginx.cert_path.read_bytes() == before
    nginx.reload()  # even a later reload serves the old certificate: the files are back
    assert nginx.served_serial() == old_serial


def test_failing_reload_restores_and_reloads(nginx: NginxServer) -> None:  # noqa: F811
    good_key, good_chain = new_pair(0x600D)
    install(target_for(nginx), good_key, good_chain)
    assert wait_for_serial(nginx, "600d") == "600d"
    _, chain = new_pair(0xBAD3)
    wrong_key = crypto.key_to_pem(crypto.generate_key("ec-256"))
    with pytest.raises(InstallError) as info:
        install(target_for(nginx, check=None), wrong_key, chain)
    msg = str(info.value)
    assert "reload command" in msg and "reloaded again" in msg
    assert nginx.key_path.read_bytes() == good_key
    assert nginx.cert_path.read_bytes() == good_chain
    # the second reload swaps workers asynchronously: poll, as for any reload
    assert wait_for_serial(nginx, "600d") == "600d"
    assert nginx.proc.poll() is None  # nginx still running
