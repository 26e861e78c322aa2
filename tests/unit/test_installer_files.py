"""Files installer: atomic writes with modes and owners, check/reload, rollback."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from certplan.installers import INSTALLERS, FilesInstaller, FilesTarget
from certplan.installers.files import file_hashes as observe_files
from certplan.model.crypto import sha256_hex
from certplan.model.errors import InstallError
from certplan.model.installed import Installed, Material
from certplan.model.records import InstallRecord

KEY, LEAF, CHAIN = b"key-one\n", b"leaf-one\n", b"chain-one\n"
NEW_KEY, NEW_LEAF = b"key-two\n", b"leaf-two\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def target(tmp: Path, **kw: Any) -> FilesTarget:
    fields: dict[str, Any] = {
        "key_file": str(tmp / "private" / "site.key"),
        "cert_file": str(tmp / "certs" / "site.crt"),
        "chain_file": str(tmp / "certs" / "chain.pem"),
        "fullchain_file": str(tmp / "certs" / "fullchain.pem"),
        "bundle_file": str(tmp / "private" / "bundle.pem"),
    }
    fields.update(kw)
    return FilesTarget(**fields)


def install(t: FilesTarget, key: bytes = KEY, leaf: bytes = LEAF, *,
            force: bool = False) -> Installed:
    return FilesInstaller().install(t, Material(key, leaf, CHAIN, leaf + CHAIN), force=force)


def snapshot(t: FilesTarget) -> dict[str, tuple[bytes, int]]:
    return {p: (Path(p).read_bytes(), mode(Path(p))) for p in t.files().values()}


def test_registered() -> None:
    assert INSTALLERS.get("files") is FilesInstaller


def test_writes_every_file_with_modes(tmp_path: Path) -> None:
    t = target(tmp_path, key_mode="0640", allow_shared_key=True)
    result = install(t)
    assert result.changed and result.ran == ()
    assert Path(t.key_file or "").read_bytes() == KEY
    assert Path(t.cert_file or "").read_bytes() == LEAF
    assert Path(t.chain_file or "").read_bytes() == CHAIN
    assert Path(t.fullchain_file or "").read_bytes() == LEAF + CHAIN
    assert Path(t.bundle_file or "").read_bytes() == KEY + LEAF + CHAIN
    assert mode(Path(t.key_file or "")) == 0o640 and mode(Path(t.bundle_file or "")) == 0o640
    assert mode(Path(t.cert_file or "")) == 0o644
    assert mode(tmp_path / "private") == 0o755
    assert result.parts == {p: sha256_hex(Path(p).read_bytes()) for p in t.files().values()}
    assert observe_files(list(t.files().values())) == result.parts
    assert FilesInstaller().observe(t) == result.observed()
    leftovers = [p for p in (tmp_path / "certs").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_existing_key_folder_mode_untouched(tmp_path: Path) -> None:
    (tmp_path / "private").mkdir(mode=0o710)
    os.chmod(tmp_path / "private", 0o710)
    install(target(tmp_path))
    assert mode(tmp_path / "private") == 0o710


def test_replace_is_a_new_inode(tmp_path: Path) -> None:
    t = target(tmp_path)
    install(t)
    before = os.stat(t.cert_file or "").st_ino
    install(t, NEW_KEY, NEW_LEAF)
    assert os.stat(t.cert_file or "").st_ino != before
    assert Path(t.cert_file or "").read_bytes() == NEW_LEAF


def test_unchanged_runs_nothing(tmp_path: Path) -> None:
    log = tmp_path / "log"
    t = target(tmp_path, check=f"echo check >> {log}", reload=f"echo reload >> {log}")
    first = install(t)
    assert first.changed and first.ran == (t.check, t.reload)
    assert log.read_text() == "check\nreload\n"
    second = install(t)
    assert not second.changed and second.ran == () and second.parts == first.parts
    assert log.read_text() == "check\nreload\n"
    forced = install(t, force=True)
    assert not forced.changed and forced.ran == (t.check, t.reload)
    assert log.read_text() == "check\nreload\n" * 2


def test_mode_drift_is_a_change(tmp_path: Path) -> None:
    t = target(tmp_path)
    install(t)
    os.chmod(t.key_file or "", 0o644)
    assert install(t).changed
    assert mode(Path(t.key_file or "")) == 0o600


def test_check_failure_restores_exactly(tmp_path: Path) -> None:
    log = tmp_path / "log"
    t = target(tmp_path, key_mode="0640", allow_shared_key=True, reload=f"echo reload >> {log}")
    install(t)
    os.chmod(t.cert_file or "", 0o604)  # odd mode that must come back as it was
    before = snapshot(t)
    failing = t.model_copy(update={"check": "echo 'syntax error in line 7' >&2; exit 3"})
    with pytest.raises(InstallError) as info:
        install(failing, NEW_KEY, NEW_LEAF)
    msg = str(info.value)
    assert "check command" in msg and "exited 3" in msg and "syntax error in line 7" in msg
    assert "previous files restored" in msg
    assert snapshot(t) == before
    assert log.read_text() == "reload\n"  # the failing install never reloaded


def test_check_failure_removes_new_files(tmp_path: Path) -> None:
    t = target(tmp_path, check="false")
    with pytest.raises(InstallError, match="exited 1"):
        install(t)
    assert not any(Path(p).exists() for p in t.files().values())


def test_reload_failure_restores_and_reloads(tmp_path: Path) -> None:
    log = tmp_path / "log"
    t = target(tmp_path)
    install(t)
    before = snapshot(t)
    # the "server" refuses the new certificate but accepts the old one again
    reload = (f"if grep -q two {t.cert_file}; then echo 'bad cert' ; exit 5; "
              f"else echo reloaded-old >> {log}; fi")
    with pytest.raises(InstallError) as info:
        install(t.model_copy(update={"reload": reload}), NEW_KEY, NEW_LEAF)
    msg = str(info.value)
    assert "reload command" in msg and "exited 5" in msg and "bad cert" in msg
    assert "reloaded again" in msg
    assert snapshot(t) == before
    assert log.read_text() == "reloaded-old\n"


def test_check_timeout_kills_and_restores(tmp_path: Path) -> None:
    t = target(tmp_path)
    install(t)
    before = snapshot(t)
    slow = t.model_copy(update={"check": "sleep 30", "timeout": 0.3})
    started = time.monotonic()
    with pytest.raises(InstallError, match=r"timed out after 0.3s"):
        install(slow, NEW_KEY, NEW_LEAF)
    assert time.monotonic() - started < 5
    assert snapshot(t) == before


def test_owner_and_group(tmp_path: Path) -> None:
    t = target(tmp_path, owner="nobody", group="nogroup")
    install(t)
    st = os.stat(t.key_file or "")
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    assert mode(Path(t.key_file or "")) == 0o600


def test_unknown_owner_names_field(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="owner = 'no-such-user-xyz'"):
        install(target(tmp_path, owner="no-such-user-xyz"))
    with pytest.raises(InstallError, match="group = 'no-such-group-xyz'"):
        install(target(tmp_path, group="no-such-group-xyz"))
    assert not (tmp_path / "private").exists()


def test_observe_and_remove(tmp_path: Path) -> None:
    t = target(tmp_path, bundle_file=None, chain_file=None)
    done = install(t)
    os.chmod(tmp_path / "certs", 0o755)
    missing = str(tmp_path / "nope")
    seen = observe_files([t.cert_file or "", missing, str(tmp_path)])  # a folder: refused
    assert seen[t.cert_file or ""] == sha256_hex(LEAF)
    assert seen[missing] is None and seen[str(tmp_path)] == "!not a regular file"
    # remove works from the record alone (the spec is gone by then)
    record = InstallRecord(digest=t.digest(), fingerprint=done.fingerprint,
                           parts=dict(done.parts), installed_at=datetime.now(UTC))
    ours = Material(KEY, LEAF, CHAIN, LEAF + CHAIN)
    assert FilesInstaller().remove(record, None).removed == ()  # no keystore copy: kept
    done_now = FilesInstaller().remove(record, ours)
    assert sorted(done_now.removed) == sorted(t.files().values()) and not done_now.kept
    assert FilesInstaller().remove(record, ours).removed == ()
    assert FilesInstaller().observe(t).absent


def test_observing_imports_no_crypto_library() -> None:
    """`plan` observes every target: the files installer must not pull in the
    cryptography package (tens of milliseconds) until it verifies a handshake."""
    probe = ("import sys, certplan.observe.gather, certplan.load; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cryptography'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"


def test_remove_never_follows_a_link_nor_reads_a_fifo(tmp_path: Path) -> None:
    """A link or a FIFO planted where state says certplan wrote a file is kept:
    certplan never follows a symlink it did not create, and never blocks reading."""
    ours = Material(KEY, LEAF, CHAIN, LEAF + CHAIN)
    real = tmp_path / "real.key"
    real.write_bytes(KEY)
    link, fifo = tmp_path / "site.key", tmp_path / "fifo.pem"
    link.symlink_to(real)
    os.mkfifo(fifo)
    record = InstallRecord(digest="d", fingerprint="f", installed_at=datetime.now(UTC),
                           parts={str(link): sha256_hex(KEY), str(fifo): sha256_hex(KEY)})
    removal = FilesInstaller().remove(record, ours)
    assert removal.removed == ()
    assert dict(removal.kept) == {str(link): "it is a symbolic link, which certplan never "
                                             "creates",
                                  str(fifo): "it is not a regular file"}
    assert link.is_symlink() and real.read_bytes() == KEY and fifo.exists()


def test_locations_are_canonical(tmp_path: Path) -> None:
    """Every spelling of one file gives one place; relative paths are relative to the
    project folder; `link/..` goes up from where the link points, as the kernel does."""
    from certplan.installers.files import FilesInstaller

    real = tmp_path / "real"
    (real / "inner").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(real)
    (tmp_path / "trap").symlink_to(real / "inner")
    want = str(real / "site.key")
    spellings = [want, f"{real}/./site.key", f"{real}/x/../site.key", f"{real}//site.key",
                 f"{tmp_path}/alias/site.key", f"{tmp_path}/trap/../site.key", "real/site.key",
                 "./alias/inner/../site.key"]
    for spelling in spellings:
        t = FilesTarget(key_file=spelling)
        assert FilesInstaller().locations(t, tmp_path) == {"key_file": want}, spelling


def test_a_shared_key_needs_asking_for_and_is_warned_about() -> None:
    from pydantic import ValidationError

    from certplan.installers.files import FilesInstaller

    with pytest.raises(ValidationError, match="allow_shared_key = true"):
        FilesTarget(key_file="/k", key_mode="0640")
    FilesTarget(cert_file="/c", key_mode="0644")  # no key written: nothing to share
    shared = FilesTarget(bundle_file="/b", key_mode="0644", allow_shared_key=True)
    assert FilesInstaller().warnings(shared) == ["key readable by group and others (0644)"]
    assert FilesInstaller().warnings(FilesTarget(key_file="/k")) == []
