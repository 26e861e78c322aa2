"""`state pull|push|migrate` copy a whole state or nothing: a record of the source
that does not parse stops the copy, it is not left out of the target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certplan.model.errors import InputError
from certplan.model.records import CertFacts, CertRecord
from certplan.ops.state import _to_folder
from certplan.store.files import FilesBackend

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _record(name: str) -> CertRecord:
    facts = CertFacts(serial="0a1b", not_before=NOW, not_after=NOW + timedelta(days=90),
                      issuer="CN=Test CA", fingerprint_sha256="ab" * 32, chain_pem="PEM",
                      issued_at=NOW)
    return CertRecord(name=name, domains=[f"{name}.example.com"], key_type="ec-256",
                      ca="letsencrypt", ca_directory="https://ca.example/dir",
                      created_at=NOW, certificate=facts)


def test_a_broken_record_of_the_source_stops_the_copy(tmp_path: Path) -> None:
    source = FilesBackend(tmp_path / "src")
    meta = source.write(_record("web"), 0)
    source.write(_record("mail"), meta.serial)
    (tmp_path / "src" / "mail.json").write_text('{"name": "mail"')  # damaged by hand
    with pytest.raises(InputError) as caught:
        _to_folder(source, tmp_path / "dst", 0.0)
    assert "mail.json" in str(caught.value.problems[0])
    assert not (tmp_path / "dst" / "web.json").exists()


def test_push_of_a_folder_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "certplan", "init", str(tmp_path / "p")],
                   check=True, capture_output=True)
    typo = tmp_path / "typo"
    res = subprocess.run([sys.executable, "-m", "certplan", "-C", str(tmp_path / "p"),
                          "state", "push", str(typo)], capture_output=True, text=True)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"state push {typo}: no such folder" in res.stdout + res.stderr
    assert not typo.exists()
