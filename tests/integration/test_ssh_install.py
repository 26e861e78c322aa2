"""The ssh installer against real OpenSSH servers: two sshd "hosts" on loopback
(tests/servers/sshd.py), `certplan apply` as its own process issuing from Pebble and
installing to both, with check and reload run remotely (they leave marker files)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from certplan.installers import SshInstaller, SshTarget
from certplan.installers.ssh_connection import CONFIG_ENV, CONNECTIONS
from certplan.model import crypto
from certplan.model.errors import InstallError
from certplan.model.installed import Material
from tests.contract.test_installer import NEW, OLD, as_record
from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import make_project
from tests.integration.test_install_nginx import new_pair, wait_for_serial
from tests.servers.nginx import NginxServer, nginx  # noqa: F401 - a fixture
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401 - a fixture
from tests.servers.ports import free_port
from tests.servers.sshd import SshClient, SshServer, ssh_fleet, start_sshd  # noqa: F401

pytestmark = pytest.mark.integration

Fleet = tuple[SshClient, list[SshServer]]


def host_target(client: SshClient, port: int, folder: Path, **kw: str) -> dict[str, Any]:
    """An ssh install target on 127.0.0.1:`port` writing under `folder`; its check
    proves the new file is there, its reload counts itself in a file."""
    fields: dict[str, Any] = {
        "type": "ssh", "host": "127.0.0.1", "port": port, "user": "root",
        "identity_file": {"file": str(client.identity)}, "known_hosts": str(client.known_hosts),
        "key_file": f"{folder}/tls/site.key", "fullchain_file": f"{folder}/tls/site.pem",
        "check": f"test -s {folder}/tls/site.pem && touch {folder}/checked",
        "reload": f"echo reloaded >> {folder}/reloads"}
    fields.update(kw)
    return fields


def toml_value(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def write_fleet_spec(project: CertplanProject, targets: list[dict[str, Any]]) -> None:
    lines = ["[[certificate]]", 'name = "fleet"', 'domains = ["fleet.example.test"]',
             "[certificate.challenge]", 'type = "http-01"', "standalone = true",
             f'listen = "127.0.0.1:{project.pebble.http_port}"']
    for target in targets:
        lines.append("[[certificate.install]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in target.items()]
    project.write_spec("fleet.toml", "\n".join(lines) + "\n")


def test_apply_installs_to_two_hosts_over_one_connection_each(
        tmp_path: Path, pebble: PebbleServer, ssh_fleet: Fleet) -> None:  # noqa: F811
    client, servers = ssh_fleet
    project = make_project(tmp_path / "ops", pebble)
    homes = [tmp_path / "host1", tmp_path / "host2"]
    write_fleet_spec(project, [host_target(client, s.port, h)
                               for s, h in zip(servers, homes, strict=True)])
    logins = [s.logins() for s in servers]

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    for home in homes:
        assert (home / "checked").exists()
        assert (home / "reloads").read_text() == "reloaded\n"
        assert (home / "tls" / "site.pem").read_text().startswith("-----BEGIN CERTIFICATE")
        assert oct((home / "tls" / "site.key").stat().st_mode & 0o777) == "0o600"
    # one summary line per host, and one ssh connection per host for the whole run
    assert "install[0] written" in res.stderr and "install[1] written" in res.stderr
    assert [s.logins() for s in servers] == [n + 1 for n in logins]
    installs = project.state("fleet")["installs"]
    assert [i["status"] for i in installs] == ["installed", "installed"]
    for server, home, done in zip(servers, homes, installs, strict=True):
        assert set(done["parts"]) == {f"ssh://root@127.0.0.1:{server.port}{home}/tls/site.key",
                                      f"ssh://root@127.0.0.1:{server.port}{home}/tls/site.pem"}

    # the host's plan looks at both hosts over ssh, one round trip each, and finds
    # everything in place
    sessions = [s.sessions() for s in servers]
    plan = project.run("plan", "--detailed-exitcode", "--no-refresh")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert [s.sessions() for s in servers] == [n + 1 for n in sessions]


def test_a_failing_remote_check_restores_that_host_only(
        tmp_path: Path, pebble: PebbleServer, ssh_fleet: Fleet) -> None:  # noqa: F811
    client, servers = ssh_fleet
    project = make_project(tmp_path / "ops", pebble)
    homes = [tmp_path / "host1", tmp_path / "host2"]
    targets = [host_target(client, s.port, h) for s, h in zip(servers, homes, strict=True)]
    write_fleet_spec(project, targets)
    assert project.apply().returncode == 0
    before = {p: p.read_bytes() for p in (homes[1] / "tls").iterdir()}
    old_pem = (homes[0] / "tls" / "site.pem").read_bytes()

    targets[1]["check"] = "echo 'config test failed on host2' >&2; exit 1"
    write_fleet_spec(project, targets)
    res = project.apply("--replace", "fleet")
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"ssh://root@127.0.0.1:{servers[1].port}: check command" in res.stdout
    assert "config test failed on host2" in res.stdout and "previous files restored" in res.stdout
    assert (homes[0] / "tls" / "site.pem").read_bytes() != old_pem  # host1: the new one
    assert {p: p.read_bytes() for p in (homes[1] / "tls").iterdir()} == before  # host2: as was
    assert (homes[1] / "reloads").read_text() == "reloaded\n"  # not reloaded again
    installs = project.state("fleet")["installs"]
    assert [i["status"] for i in installs] == ["installed", "failed"]


def test_a_host_that_is_down_fails_only_its_own_target(
        tmp_path: Path, pebble: PebbleServer, ssh_fleet: Fleet) -> None:  # noqa: F811
    client, servers = ssh_fleet
    project = make_project(tmp_path / "ops", pebble)
    down = free_port()  # nothing listens there
    write_fleet_spec(project, [host_target(client, servers[0].port, tmp_path / "up"),
                               host_target(client, down, tmp_path / "down")])
    res = project.apply()
    assert res.returncode == 1
    assert f"install[1] failed: ssh://root@127.0.0.1:{down} cannot be reached" in res.stdout
    assert (tmp_path / "up" / "tls" / "site.pem").exists()
    assert [i["status"] for i in project.state("fleet")["installs"]] == ["installed", "failed"]


def test_observe_names_a_host_that_is_down_and_looks_at_the_others(
        tmp_path: Path, ssh_fleet: Fleet) -> None:  # noqa: F811
    client, servers = ssh_fleet
    up = SshTarget(**host_target(client, servers[0].port, tmp_path / "up"))
    down_port = free_port()
    down = SshTarget(**host_target(client, down_port, tmp_path / "down"))
    SshInstaller().install(up, OLD)
    seen_up, seen_down = SshInstaller().observe_many([up, down])
    assert not seen_up.absent and all(seen_up.parts.values())
    assert all(str(v).startswith("!cannot be reached") for v in seen_down.parts.values())
    assert all(f":{down_port}/" in place for place in seen_down.parts)


def test_an_unknown_host_key_is_refused(tmp_path: Path, ssh_fleet: Fleet) -> None:  # noqa: F811
    client, _ = ssh_fleet
    stranger = start_sshd(tmp_path / "stranger", client, known=False)
    try:
        target = SshTarget(**host_target(client, stranger.port, tmp_path / "x"))
        with pytest.raises(InstallError) as info:
            SshInstaller().install(target, OLD)
        assert str(info.value).startswith(f"ssh://root@127.0.0.1:{stranger.port}: unknown "
                                          f"host key, not in known_hosts file {client.known_hosts}")
        assert "never accepts a new key" in str(info.value)
        assert not (tmp_path / "x").exists() and stranger.logins() == 0
        assert client.known_hosts.read_text().count(f":{stranger.port}]") == 0
        (seen,) = SshInstaller().observe_many([target])
        assert all("unknown host key" in str(v) for v in seen.parts.values())
    finally:
        stranger.stop()


def test_after_a_run_the_connections_are_closed(tmp_path: Path, ssh_fleet: Fleet) -> None:  # noqa: F811
    client, servers = ssh_fleet
    target = SshTarget(**host_target(client, servers[1].port, tmp_path / "h"))
    SshInstaller().install(target, NEW)
    folder = CONNECTIONS._folder
    assert folder is not None and oct(Path(folder).stat().st_mode & 0o777) == "0o700"
    CONNECTIONS.close_all()
    assert not Path(folder).exists()
    assert SshInstaller().observe(target) == SshInstaller().observe(target)  # reconnects


def test_nginx_over_ssh_serves_the_new_certificate_and_verify_guards_it(
        ssh_fleet: Fleet, nginx: NginxServer) -> None:  # noqa: F811
    """check, reload and verify through ssh to a real nginx: the TLS handshake goes to
    the host (":PORT"); a reload that did not take is caught and undone."""
    client, servers = ssh_fleet
    target = SshTarget(host="127.0.0.1", port=servers[0].port, user="root",
                       identity_file={"file": str(client.identity)},
                       known_hosts=str(client.known_hosts), key_file=str(nginx.key_path),
                       fullchain_file=str(nginx.cert_path), check=nginx.check_command,
                       reload=nginx.reload_command, verify=f":{nginx.https_port}")
    key, fullchain = new_pair(0x55A1)
    done = SshInstaller().install(target, material(key, fullchain))
    assert done.ran == (nginx.check_command, nginx.reload_command, f"verify :{nginx.https_port}")
    assert wait_for_serial(nginx, "55a1") == "55a1"  # old workers may linger a moment

    before = (nginx.key_path.read_bytes(), nginx.cert_path.read_bytes())
    lazy = target.model_copy(update={"reload": "true", "timeout": 3.0})  # reloads nothing
    key2, fullchain2 = new_pair(0x55A2)
    with pytest.raises(InstallError) as info:
        SshInstaller().install(lazy, material(key2, fullchain2))
    assert "not served after the reload" in str(info.value)
    assert "previous files restored, reloaded again" in str(info.value)
    assert (nginx.key_path.read_bytes(), nginx.cert_path.read_bytes()) == before
    nginx.reload()
    assert wait_for_serial(nginx, "55a1") == "55a1"


def material(key: bytes, fullchain: bytes) -> Material:
    leaf, chain = crypto.split_chain(fullchain)
    return Material(key, leaf, chain, fullchain, "localhost")


def test_remote_paths_and_commands_are_quoted(tmp_path: Path, ssh_fleet: Fleet,  # noqa: F811
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A path full of shell syntax is written as named, and nothing in it runs."""
    client, servers = ssh_fleet
    config = tmp_path / "ssh_config"  # remove has only the record: the ssh configuration
    config.write_text(f"Host 127.0.0.1\n  IdentityFile {client.identity}\n"
                      f"  UserKnownHostsFile {client.known_hosts}\n")
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    odd = tmp_path / "it's a $(touch PWNED) `id` ; folder"
    quoted = shlex.quote(f"{odd}/tls/site.pem")  # commands are shell: the user quotes
    target = SshTarget(**host_target(client, servers[0].port, odd, check=f"test -s {quoted}",
                                     reload=f"test -s {quoted}"))
    done = SshInstaller().install(target, OLD)
    assert (odd / "tls" / "site.pem").read_bytes() == OLD.fullchain_pem
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()
    assert SshInstaller().observe(target) == done.observed()
    # without the spec, an ssh configuration that does not know the host: nothing deleted
    kept = SshInstaller().remove(as_record(target, done), OLD)
    assert kept.removed == () and all("unknown host key" in why for _, why in kept.kept)
    monkeypatch.setenv(CONFIG_ENV, str(config))
    assert SshInstaller().remove(as_record(target, done), OLD).removed
    assert not (odd / "tls" / "site.pem").exists()
