"""The installer contract: every registered installer runs through the same behaviours.

An installer is registered in certplan.installers.base.INSTALLERS and gets a fixture
here: FIXTURES maps its name to a factory of Setup (a target whose check and reload
succeed and say that they ran, the same target with a failing check, and ways to
look at and to change what is at the target behind certplan's back). An installer
registered without a fixture fails every test below.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from certplan.core.plan import Action, make_plan
from certplan.installers import INSTALLERS, FilesTarget, Installer, SshTarget
from certplan.installers.ssh_connection import CONFIG_ENV
from certplan.model import crypto
from certplan.model.errors import InstallError
from certplan.model.installed import Installed, Material
from certplan.model.observed import Observations
from certplan.model.records import InstallRecord
from certplan.model.spec import InstallTarget
from tests.servers.sshd import SshServer, ssh_fleet  # noqa: F401 - a fixture
from tests.unit.test_crypto import issue
from tests.unit.test_plan import NOW, desired, record

Fixture = Callable[[str], Any]  # pytest's request.getfixturevalue


@dataclass
class Setup:
    installer: Installer[Any]
    target: InstallTarget  # its check and reload succeed, and are seen in commands()
    failing: InstallTarget  # the same place, with a check that fails
    snapshot: Callable[[], object]  # all that is at the target (bytes, modes), comparable
    tamper: Callable[[], None]  # change what is installed, as a person would by hand
    commands: Callable[[], list[str]]  # the check and reload commands run so far


def _files(tmp: Path) -> dict[str, Any]:
    """The target fields of the files and ssh fixtures: every kind of file, under tmp."""
    log = tmp / "commands.log"
    return dict(
        key_file=str(tmp / "private" / "site.key"), cert_file=str(tmp / "certs" / "site.crt"),
        chain_file=str(tmp / "certs" / "chain.pem"),
        fullchain_file=str(tmp / "certs" / "fullchain.pem"),
        bundle_file=str(tmp / "private" / "bundle.pem"), key_mode="0640", allow_shared_key=True,
        check=f"echo check >> {log}", reload=f"echo reload >> {log}")


def files_setup(tmp: Path, fixture: Fixture) -> Setup:
    return _local_setup(tmp, FilesTarget(**_files(tmp)))


def ssh_setup(tmp: Path, fixture: Fixture) -> Setup:
    """The ssh installer against a real sshd on loopback: the remote files are local
    files here, so they are looked at and changed directly. `remove` gets only the
    record (the spec is gone): it reaches the host through the ssh configuration that
    CERTPLAN_SSH_CONFIG names, as an operator's ~/.ssh/config would."""
    client, servers = fixture("ssh_fleet")
    server: SshServer = servers[0]
    config = tmp / "ssh_config"
    config.write_text(f"Host 127.0.0.1\n  IdentityFile {client.identity}\n"
                      f"  IdentitiesOnly yes\n  UserKnownHostsFile {client.known_hosts}\n")
    fixture("monkeypatch").setenv(CONFIG_ENV, str(config))
    target = SshTarget(host="127.0.0.1", port=server.port, user="root",
                       identity_file={"file": str(client.identity)},
                       known_hosts=str(client.known_hosts), **_files(tmp))
    return _local_setup(tmp, target)


def _local_setup(tmp: Path, target: FilesTarget) -> Setup:
    log = tmp / "commands.log"
    paths = [Path(p) for p in target.files().values()]

    def snapshot() -> dict[Path, tuple[bytes, int] | None]:
        return {p: (p.read_bytes(), stat.S_IMODE(os.stat(p).st_mode)) if p.exists() else None
                for p in paths}

    def tamper() -> None:
        Path(target.cert_file or "").write_bytes(b"edited by hand\n")

    def commands() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    failing = target.model_copy(update={"check": "echo 'config test failed' >&2; exit 3"})
    return Setup(INSTALLERS.get(target.type)(), target, failing, snapshot, tamper, commands)


FIXTURES: dict[str, Callable[[Path, Fixture], Setup]] = {"files": files_setup,
                                                          "ssh": ssh_setup}


def material(serial: int) -> Material:
    key = crypto.generate_key("ec-256")
    fullchain = issue(key, ["www.example.com"], serial=serial)
    leaf, chain = crypto.split_chain(fullchain)
    return Material(crypto.key_to_pem(key), leaf, chain, fullchain, "www.example.com")


OLD, NEW = material(0x01D), material(0x2E3)


@pytest.fixture(params=INSTALLERS.names())
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    name = request.param
    if name not in FIXTURES:
        pytest.fail(f"installer {name!r} is registered without a contract fixture: add one "
                    f"to FIXTURES in {__name__}")
    return FIXTURES[name](tmp_path, request.getfixturevalue)


def as_record(target: InstallTarget, done: Installed) -> InstallRecord:
    """What apply records after `done`."""
    return InstallRecord(installer=target.type, digest=target.digest(),
                         fingerprint=done.fingerprint, parts=dict(done.parts),
                         installed_at=datetime.now(UTC))


def test_every_installer_has_a_fixture() -> None:
    assert set(INSTALLERS.names()) - set(FIXTURES) == set()


def test_declares_its_name_and_target_model(setup: Setup) -> None:
    installer, target = setup.installer, setup.target
    assert INSTALLERS.get(installer.name) is type(installer)
    assert issubclass(installer.target_model, InstallTarget)
    assert installer.target_model.model_fields["type"].default == installer.name
    assert isinstance(target, installer.target_model) and target.type == installer.name
    assert target.same_definition(target.digest())
    assert not target.same_definition(setup.failing.digest())
    fields = set(installer.target_model.model_fields)
    places = installer.locations(target, Path.cwd())
    assert places and set(places) <= fields
    assert isinstance(installer.warnings(target), list)


def test_observe_before_install_is_absent(setup: Setup) -> None:
    assert setup.installer.observe(setup.target).absent


def test_observe_after_install_equals_what_install_reported(setup: Setup) -> None:
    done = setup.installer.install(setup.target, OLD)
    assert done.changed and not done.observed().absent
    assert setup.installer.observe(setup.target) == done.observed()
    assert setup.commands() == ["check", "reload"]
    replaced = setup.installer.install(setup.target, NEW)
    assert replaced.changed and replaced.fingerprint != done.fingerprint
    assert setup.installer.observe(setup.target) == replaced.observed()


def test_the_same_material_again_changes_nothing_and_runs_nothing(setup: Setup) -> None:
    first = setup.installer.install(setup.target, OLD)
    before, ran = setup.snapshot(), setup.commands()
    again = setup.installer.install(setup.target, OLD)
    assert not again.changed and again.ran == ()
    assert again.observed() == first.observed()
    assert setup.snapshot() == before and setup.commands() == ran
    forced = setup.installer.install(setup.target, OLD, force=True)
    assert not forced.changed and forced.ran  # force runs the commands all the same
    assert setup.commands() == ran * 2


def test_a_failing_check_restores_exactly_what_was_there(setup: Setup) -> None:
    done = setup.installer.install(setup.target, OLD)
    before = setup.snapshot()
    with pytest.raises(InstallError, match="config test failed"):
        setup.installer.install(setup.failing, NEW)
    assert setup.snapshot() == before
    assert setup.installer.observe(setup.target) == done.observed()


def test_a_failing_first_install_leaves_nothing(setup: Setup) -> None:
    before = setup.snapshot()
    with pytest.raises(InstallError):
        setup.installer.install(setup.failing, OLD)
    assert setup.snapshot() == before
    assert setup.installer.observe(setup.target).absent


def test_a_change_at_the_target_is_observed_as_drift(setup: Setup) -> None:
    done = setup.installer.install(setup.target, OLD)
    setup.tamper()
    now = setup.installer.observe(setup.target)
    assert now != done.observed() and now.fingerprint != done.fingerprint
    # the planner names what drifted, from the record and the observation alone
    d = desired(install=[setup.target])
    rec = record(d, installs=[as_record(setup.target, done)])
    plan = make_plan([d], {rec.name: rec}, Observations(installs={(rec.name, 0): now}), NOW)
    (change,) = plan.changes
    assert change.action is Action.INSTALL and change.install_targets == (0,)
    assert change.reason.startswith("install[0]: ") and "drifted" in change.reason
    assert setup.installer.install(setup.target, OLD).changed  # and install puts it right


def test_remove_leaves_it_absent(setup: Setup) -> None:
    done = setup.installer.install(setup.target, OLD)
    recorded = as_record(setup.target, done)  # all that remove gets: the spec is gone
    removal = setup.installer.remove(recorded, OLD)
    assert removal.removed and not removal.kept
    assert setup.installer.observe(setup.target).absent
    again = setup.installer.remove(recorded, OLD)  # nothing left: nothing to do, no error
    assert again.removed == () and again.kept == ()


def test_remove_keeps_what_it_did_not_write(setup: Setup) -> None:
    """State comes from git: a record may name anything. Only what the host proves
    certplan wrote (recorded AND made of the keystore's copy) is deleted."""
    done = setup.installer.install(setup.target, OLD)
    recorded = as_record(setup.target, done)
    before = setup.snapshot()
    # the keystore holds no certificate for the name: nothing is proven
    assert setup.installer.remove(recorded, None).removed == ()
    # the keystore's copy is another certificate: the record was copied or forged
    assert setup.installer.remove(recorded, NEW).removed == ()
    assert setup.snapshot() == before
    # a part changed by hand is kept, and the removal says why; the rest goes
    setup.tamper()
    tampered = setup.snapshot()
    removal = setup.installer.remove(recorded, OLD)
    assert removal.kept and all("not what certplan installed" in why
                                for _, why in removal.kept)
    assert removal.removed
    kept = {place for place, _ in removal.kept}
    assert all(place not in removal.removed for place in kept)
    assert setup.snapshot() != tampered
