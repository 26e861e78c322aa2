"""Issue 10, items 5 and 8: every installer failure puts back what was there,
whatever the exception; a key that cannot be read, or is not the certificate's,
is refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from certplan.core.plan import Action, make_plan
from certplan.engine.apply import Applier
from certplan.installers import files as files_module
from certplan.installers import files_write
from certplan.installers.files import FilesInstaller, FilesTarget
from certplan.load import load_project
from certplan.model import crypto
from certplan.model.errors import InstallError
from certplan.model.installed import Material
from certplan.model.project import Project
from certplan.observe.gather import observe
from certplan.store.backends import open_state_backend
from certplan.store.keystore import Keystore
from tests.unit.stateutil import save_record, state_of
from tests.unit.test_crypto import issue
from tests.unit.test_plan import NOW, record
from tests.unit.test_project import CONFIG, write_project

OLD = Material(b"old-key\n", b"old-leaf\n", b"chain\n", b"old-leaf\nchain\n")
NEW = Material(b"new-key\n", b"new-leaf\n", b"chain\n", b"new-leaf\nchain\n")


def two_files(tmp_path: Path, **kw: Any) -> FilesTarget:
    return FilesTarget(key_file=str(tmp_path / "a" / "site.key"),
                       fullchain_file=str(tmp_path / "a" / "fullchain.pem"), **kw)


def on_disk(t: FilesTarget) -> dict[str, bytes | None]:
    return {p: Path(p).read_bytes() if Path(p).exists() else None
            for p in t.files().values()}


def refuse_folder(monkeypatch: pytest.MonkeyPatch, refused: Path) -> None:
    """make_dirs fails for `refused` (as for a folder that root may not create on a
    read-only or full file system; root ignores modes, so a mode cannot stand in)."""
    real = files_write.make_dirs

    def make_dirs(path: Path, mode: int) -> None:
        if Path(path) == refused:
            raise PermissionError(13, "Permission denied", str(path))
        real(path, mode)

    monkeypatch.setattr(files_write, "make_dirs", make_dirs)


@pytest.mark.parametrize("old_key", [b"old-key\n", None])
def test_a_folder_that_cannot_be_made_puts_back_the_key_already_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old_key: bytes | None) -> None:
    """The key goes first; the certificate's folder cannot be made: the key written a
    moment before is put back (or deleted when it is new), so no half pair is left."""
    t = FilesTarget(key_file=str(tmp_path / "a" / "site.key"),
                    fullchain_file=str(tmp_path / "b" / "fullchain.pem"))
    key = Path(t.key_file or "")
    if old_key is not None:
        key.parent.mkdir()
        key.write_bytes(old_key)
    refuse_folder(monkeypatch, tmp_path / "b")
    with pytest.raises(InstallError) as info:
        FilesInstaller().install(t, NEW)
    assert f"cannot create folder {tmp_path / 'b'}: Permission denied; previous files " \
           "restored" in str(info.value)
    assert (key.read_bytes() if key.exists() else None) == old_key


def test_any_exception_while_writing_restores(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    t = two_files(tmp_path)
    FilesInstaller().install(t, OLD)
    before = on_disk(t)
    real = files_write.atomic_write
    calls: list[str] = []

    def second_write_breaks(path: str, *args: Any) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise RuntimeError("a bug")
        real(path, *args)

    monkeypatch.setattr(files_write, "atomic_write", second_write_breaks)
    with pytest.raises(InstallError) as info:
        FilesInstaller().install(t, NEW)
    assert "internal error RuntimeError: a bug; previous files restored" in str(info.value)
    assert on_disk(t) == before


def test_an_interrupt_during_the_check_restores_then_stops(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = two_files(tmp_path, check="true")
    FilesInstaller().install(t, OLD)
    before = on_disk(t)

    def interrupted(command: str, timeout: float) -> tuple[int | None, str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(files_module, "run_command", interrupted)
    with pytest.raises(KeyboardInterrupt):
        FilesInstaller().install(t, NEW)
    assert on_disk(t) == before


def test_a_failing_verify_reloads_the_old_files(tmp_path: Path) -> None:
    log = tmp_path / "reloads"
    t = two_files(tmp_path, reload=f"echo reload >> {log}", verify="127.0.0.1:1",
                  timeout=0.3)
    with pytest.raises(InstallError) as info:
        FilesInstaller().install(t, NEW)
    assert "previous files restored, reloaded again" in str(info.value)
    assert on_disk(t) == {p: None for p in t.files().values()}
    assert log.read_text() == "reload\nreload\n"


SPEC = """\
[[certificate]]
name = "www"
domains = ["example.com"]

[certificate.challenge]
type = "http-01"
webroot = "/srv/www"

[[certificate.install]]
key_file = "{root}/out/site.key"
fullchain_file = "{root}/out/fullchain.pem"
check = "echo check >> {root}/commands.log"
"""


def keystore_project(tmp_path: Path, key_pem: bytes, fullchain: bytes) -> Project:
    """A recorded certificate (serial as in `fullchain`) that was never installed,
    with (key_pem, fullchain) as the keystore's current pair."""
    root = write_project(tmp_path, {"www.toml": SPEC}, CONFIG)
    project = load_project(root)
    (d,) = project.desired
    Keystore(project.keystore_dir).store_current("www", key_pem, fullchain)
    rec = record(d, installs=[])
    assert rec.certificate is not None
    save_record(project, rec.model_copy(update={"certificate": rec.certificate.model_copy(
        update={"serial": crypto.cert_info(fullchain).serial})}))
    return project


def apply_once(project: Project) -> tuple[Any, list[str]]:
    state = state_of(project)
    plan = make_plan(project.desired, state.records,
                     observe(project, state.records, refresh_ari=False), NOW)
    assert [c.action for c in plan.changes] == [Action.INSTALL]
    logs: list[str] = []
    (outcome,) = Applier(project, state, store=open_state_backend(project),
                         log=logs.append, clock=lambda: NOW).run(plan)
    return outcome, logs


@pytest.mark.parametrize("damage", ["truncated", "another-key"])
def test_a_damaged_keystore_key_is_refused_before_anything_is_written(
        tmp_path: Path, damage: str) -> None:
    key = crypto.generate_key("ec-256")
    fullchain = issue(key, ["example.com"])
    good = crypto.key_to_pem(key)
    bad = good[:len(good) // 2] if damage == "truncated" \
        else crypto.key_to_pem(crypto.generate_key("ec-256"))
    project = keystore_project(tmp_path, bad, fullchain)
    outcome, _ = apply_once(project)
    assert not outcome.ok
    folder = project.keystore_dir / "certs" / "www" / "current"
    if damage == "truncated":
        assert f"{folder}/key.pem: not a readable unencrypted PEM private key" in outcome.detail
    else:
        assert f"{folder}/fullchain.pem: certificate" in outcome.detail
        assert "does not match its private key" in outcome.detail
    assert "nothing installed" in outcome.detail
    assert not (project.root / "out").exists()
    assert not (project.root / "commands.log").exists()
    raw = json.loads((project.state_dir / "www.json").read_text())
    assert [i["status"] for i in raw["installs"]] == ["failed"]


def test_an_installer_bug_is_a_failed_install_and_the_next_plan_retries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = crypto.generate_key("ec-256")
    fullchain = issue(key, ["example.com"])
    project = keystore_project(tmp_path, crypto.key_to_pem(key), fullchain)

    def broken(self: FilesInstaller, target: FilesTarget, material: Material, *,
               force: bool = False) -> None:
        raise ZeroDivisionError("division by zero")

    with monkeypatch.context() as patch:
        patch.setattr(FilesInstaller, "install", broken)
        outcome, _ = apply_once(project)
    assert not outcome.ok
    assert "install[0] failed: internal error ZeroDivisionError" in outcome.detail
    outcome, logs = apply_once(project)  # "the last install failed; installing again"
    assert outcome.ok, outcome
    serial = crypto.cert_info(fullchain).serial
    (done,) = state_of(project).records["www"].installs
    assert (done.status, done.serial) == ("installed", serial)
    assert logs == ["www: installing install[0] (files)",
                    "www: install[0] written; ran echo check >> "
                    f"{project.root}/commands.log"]
