"""Upgrading from state that the previous version wrote: install records with
`target_digest` and `files` (and "failed" in the digest) load, plan exactly as
before, re-install nothing, and are rewritten in the current form by the next write.
Also: digests come from a versioned projection, so a new field with a default
changes none."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import ClassVar, cast

import pytest

from certplan.core.plan import Action, Change, current_installs, make_plan
from certplan.engine.apply import Applier
from certplan.installers.files import FilesInstaller, FilesTarget
from certplan.load import load_project
from certplan.model import crypto
from certplan.model.installed import Material, fingerprint_of
from certplan.model.project import Desired
from certplan.model.records import CertRecord, InstallRecord
from certplan.observe.gather import observe
from certplan.store.backends import open_state_backend
from certplan.store.files import FilesBackend
from certplan.store.keystore import Keystore
from tests.unit.stateutil import save_record, state_of
from tests.unit.test_crypto import issue
from tests.unit.test_plan import NOW, desired, observed, record
from tests.unit.test_project import CONFIG, write_project

PREVIOUS = Path(__file__).parent / "previous_state"
T0 = FilesTarget(key_file="/srv/www/site.key", fullchain_file="/srv/www/fullchain.pem",
                 key_mode="0640", allow_shared_key=True, owner="www-data", check="nginx -t",
                 reload="nginx -s reload",
                 verify="127.0.0.1:443", verify_name="www.example.com", timeout=30)
T1 = FilesTarget(bundle_file="/etc/haproxy/www.pem")
FILES = {"/srv/www/fullchain.pem": "a" * 64, "/srv/www/site.key": "b" * 64}


def previous_spec() -> Desired:
    return desired(install=[T0, T1])


def previous_state(tmp_path: Path) -> CertRecord:
    shutil.copy(PREVIOUS / "www.json", tmp_path / "www.json")
    state = FilesBackend(tmp_path).load()
    assert state.problems == []
    return state.records["www"]


@pytest.mark.parametrize("fields,digest", [
    ({"key_file": "/srv/www/site.key", "fullchain_file": "/srv/www/fullchain.pem",
      "key_mode": "0640", "allow_shared_key": True, "owner": "www-data", "check": "nginx -t",
      "reload": "nginx -s reload", "verify": "127.0.0.1:443",
      "verify_name": "www.example.com", "timeout": 30}, "c623cefb201cff0f"),
    ({"bundle_file": "/etc/haproxy/www.pem"}, "e77c746be6851429"),
    ({"cert_file": "/x"}, "3e747c45de830b7a"),
    ({"key_file": "/k", "cert_mode": "644"}, "fce7a40518032bf4"),
    ({"chain_file": "/c", "group": "0", "timeout": 1.5}, "610820ea4d0985db"),
])
def test_previous_digests_are_recognised(fields: dict[str, object], digest: str) -> None:
    """Vectors made by the previous version's target_digest()."""
    target = FilesTarget.model_validate(fields)
    assert target.previous_digest() == digest
    assert target.same_definition(digest) and target.same_definition(target.digest())
    assert digest != target.digest()
    assert not FilesTarget(cert_file="/other").same_definition(digest)


def test_previous_format_loads(tmp_path: Path) -> None:
    rec = previous_state(tmp_path)
    done, failed = rec.installs
    assert (done.installer, done.digest, done.status) == ("files", "c623cefb201cff0f",
                                                           "installed")
    assert done.parts == FILES and done.fingerprint == fingerprint_of(FILES)
    assert (failed.installer, failed.status, failed.parts, failed.fingerprint) == \
        ("files", "failed", {}, None)
    assert failed.installed_at == done.installed_at


def test_previous_format_plans_as_before(tmp_path: Path) -> None:
    rec, d = previous_state(tmp_path), previous_spec()
    # the rest of the record reads as before (spec_digest: read from old files, never used)
    assert rec.model_copy(update={"spec_digest": None}) == record(d, installs=rec.installs)

    def plan_with(files: dict[str, str | None], target: Desired = d) -> tuple[Change, ...]:
        return make_plan([target], {"www": rec}, observed(files, target), NOW).changes

    (change,) = plan_with(dict(FILES))
    assert change.reasons == ("install[1]: the last install failed; installing again",)
    assert change.install_targets == (1,)
    (change,) = plan_with(FILES | {"/srv/www/fullchain.pem": "c" * 64})
    assert change.reasons == (
        "install[0]: /srv/www/fullchain.pem drifted (changed on disk)",
        "install[1]: the last install failed; installing again")
    (change,) = plan_with(FILES | {"/srv/www/site.key": None})
    assert change.reasons[0] == "install[0]: /srv/www/site.key is missing"
    changed = desired(install=[T0.model_copy(update={"reload": "systemctl reload nginx"}), T1])
    (change,) = plan_with(dict(FILES), changed)
    assert change.reasons[0] == "install[0]: target changed"


def test_the_next_write_uses_the_current_form(tmp_path: Path) -> None:
    rec = previous_state(tmp_path)
    done, failed = current_installs([T0, T1], rec.installs)
    assert done == rec.installs[0].model_copy(update={"digest": T0.digest()})
    assert failed == rec.installs[1]
    backend = FilesBackend(tmp_path)
    backend.write(rec.model_copy(update={"installs": [done, failed]}), backend.load().serial)
    written = json.loads((tmp_path / "www.json").read_text())["installs"]
    # `serial` None: installed before certplan recorded it (trusted as the current one)
    assert written[0] == {"installer": "files", "digest": T0.digest(), "status": "installed",
                          "serial": None, "fingerprint": fingerprint_of(FILES), "parts": FILES,
                          "installed_at": "2026-06-01T00:00:00Z"}
    assert "target_digest" not in written[1] and written[1]["status"] == "failed"
    # a changed target keeps its old digest: the plan still says "target changed"
    other = T0.model_copy(update={"check": "nginx -t -q"})
    assert current_installs([other, T1], rec.installs) == rec.installs


SPEC = """\
[[certificate]]
name = "www"
domains = ["example.com", "www.example.com"]

[certificate.challenge]
type = "http-01"
webroot = "/srv/www"

[[certificate.install]]
key_file = "{root}/out/a/site.key"
fullchain_file = "{root}/out/a/fullchain.pem"
check = "echo check-a >> {root}/commands.log"

[[certificate.install]]
bundle_file = "{root}/out/b/bundle.pem"
check = "echo check-b >> {root}/commands.log"
"""


def test_an_upgraded_apply_reinstalls_only_what_the_plan_says(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"www.toml": SPEC}, CONFIG)
    project = load_project(root)
    (d,) = project.desired
    key = crypto.generate_key("ec-256")
    fullchain = issue(key, list(d.spec.domains))
    Keystore(project.keystore_dir).store_current("www", crypto.key_to_pem(key), fullchain)
    leaf, chain = crypto.split_chain(fullchain)
    material = Material(crypto.key_to_pem(key), leaf, chain, fullchain, "example.com")
    targets = [cast(FilesTarget, t) for t in d.spec.install]
    installed = [FilesInstaller().install(t, material) for t in targets]
    (root / "commands.log").unlink()
    # the state the previous version wrote after that install
    rec = record(d)
    assert rec.certificate is not None  # the keystore's serial: install checks they agree
    save_record(project, rec.model_copy(update={"certificate": rec.certificate.model_copy(
        update={"serial": crypto.cert_info(fullchain).serial})}))
    data = json.loads((project.state_dir / "www.json").read_text())
    data["installs"] = [{"target_digest": t.previous_digest(), "files": dict(i.parts),
                         "installed_at": "2026-05-02T00:00:00Z"}
                        for t, i in zip(targets, installed, strict=True)]
    (project.state_dir / "www.json").write_text(json.dumps(data))

    state = state_of(project)
    assert make_plan(project.desired, state.records,
                     observe(project, state.records, refresh_ari=False), NOW).empty
    (root / "out" / "b" / "bundle.pem").unlink()
    plan = make_plan(project.desired, state.records,
                     observe(project, state.records, refresh_ari=False), NOW)
    assert [(c.action, c.reasons) for c in plan.changes] == [
        (Action.INSTALL, (f"install[1]: {root}/out/b/bundle.pem is missing",))]
    logs: list[str] = []
    (outcome,) = Applier(project, state, store=open_state_backend(project), log=logs.append,
                          clock=lambda: NOW).run(plan)
    assert outcome.ok, outcome
    assert (root / "commands.log").read_text() == "check-b\n"  # target 0 was left alone
    after = state_of(project)
    assert [i.digest for i in after.records["www"].installs] == \
        [t.digest() for t in d.spec.install]
    raw = json.loads((project.state_dir / "www.json").read_text())["installs"]
    assert all("target_digest" not in i and "files" not in i for i in raw)
    assert make_plan(project.desired, after.records,
                     observe(project, after.records, refresh_ari=False), NOW).empty


class _WithNewField(FilesTarget):
    """A later version's files target: one more field, with a default."""

    ocsp_file: str | None = None
    digest_fields: ClassVar[tuple[str, ...]] = FilesTarget.digest_fields + ("ocsp_file",)


def test_a_new_field_with_a_default_changes_no_digest() -> None:
    assert _WithNewField.model_validate(T0.model_dump()).digest() == T0.digest()
    assert _WithNewField.model_validate(
        T0.model_dump() | {"ocsp_file": "/srv/www/ocsp.der"}).digest() != T0.digest()


def test_digests_follow_the_projection_and_its_version() -> None:
    assert T0.digest().startswith("v1:") and len(T0.digest()) == 3 + 16
    assert T0.digest() == FilesTarget.model_validate(T0.model_dump()).digest()
    assert FilesTarget(cert_file="/x", key_mode="0600").digest() == \
        FilesTarget(cert_file="/x").digest()  # a default written out is the same target
    for change in ({"check": None}, {"key_mode": "0600"}, {"verify_name": "a.example.com"},
                   {"timeout": 31.0}, {"bundle_file": "/b.pem"}):
        assert T0.model_copy(update=change).digest() != T0.digest(), change

    class Next(FilesTarget):
        digest_version: ClassVar[int] = 2

    assert Next.model_validate(T0.model_dump()).digest().startswith("v2:")
    assert Next.model_validate(T0.model_dump()).digest()[3:] != T0.digest()[3:]


def test_installs_record_reads_back() -> None:
    rec = InstallRecord(digest=T1.digest(), fingerprint="f", parts={"/x": "y"},
                        installed_at=NOW)
    assert InstallRecord.model_validate_json(rec.model_dump_json()) == rec


def test_table_valued_fields_digest_by_content_not_key_order() -> None:
    class WithTable(FilesTarget):
        labels: dict[str, str] = {}
        digest_fields: ClassVar[tuple[str, ...]] = FilesTarget.digest_fields + ("labels",)

    one = WithTable(cert_file="/x", labels={"a": "1", "b": "2"})
    assert one.digest() == WithTable(cert_file="/x", labels={"b": "2", "a": "1"}).digest()
    assert one.digest() != WithTable(cert_file="/x", labels={"a": "1"}).digest()
    assert WithTable(cert_file="/x").digest() == FilesTarget(cert_file="/x").digest()
