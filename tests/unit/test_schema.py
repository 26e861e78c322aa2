"""`certplan schema --kind spec|config`: one self-contained JSON Schema 2020-12
document per kind that a validator (as an editor's) uses directly: it accepts what
certplan accepts (the init template, the demo project, every provider type) and
rejects what certplan rejects."""

from __future__ import annotations

import json
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.unit.test_cli_core import run
from tests.unit.test_project import API, CONFIG, WWW

REPO = Path(__file__).resolve().parents[2]


def schema(tmp_path: Path, kind: str) -> dict[str, Any]:
    result = run(tmp_path, "schema", "--kind", kind)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def validator(tmp_path: Path, kind: str) -> Draft202012Validator:
    doc = schema(tmp_path, kind)
    Draft202012Validator.check_schema(doc)
    return Draft202012Validator(doc)


def errors(v: Draft202012Validator, toml_text: str) -> list[str]:
    data = tomllib.loads(textwrap.dedent(toml_text))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(data)]


def test_each_kind_is_one_document_with_dialect_and_id(tmp_path: Path) -> None:
    for kind in ("spec", "config"):
        doc = schema(tmp_path, kind)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert doc["$id"] == f"https://certplan.invalid/schema/{kind}.json"
        assert doc["type"] == "object" and doc["additionalProperties"] is False
        # every $ref points into this document's own $defs
        refs = json.dumps(doc).split('"$ref": "')[1:]
        assert refs and all(r.startswith("#/$defs/") for r in refs)
    assert run(tmp_path, "schema").stdout == run(tmp_path, "schema", "--kind", "spec").stdout


def test_unknown_kind(tmp_path: Path) -> None:
    result = run(tmp_path, "schema", "--kind", "state")
    assert result.exit_code == 1 and "--kind 'state': choose spec or config" in result.stderr


def test_spec_schema_accepts_what_certplan_accepts(tmp_path: Path) -> None:
    v = validator(tmp_path, "spec")
    assert run(tmp_path, "init", "repo").exit_code == 0
    texts = [p.read_text() for p in (tmp_path / "repo" / "specs").glob("*.toml")]
    texts += [p.read_text() for p in (REPO / "specs").glob("*.toml")]
    texts += [WWW.replace("{root}", "/srv"), API]
    assert len(texts) >= 3
    for text in texts:
        assert errors(v, text) == [], text


def test_spec_schema_rejects_what_certplan_rejects(tmp_path: Path) -> None:
    v = validator(tmp_path, "spec")
    colour = WWW.replace("[certificate.challenge]", 'colour = "red"\n[certificate.challenge]')
    assert errors(v, colour) == [
        "certificate/0: Additional properties are not allowed ('colour' was unexpected)"]
    assert errors(v, WWW.replace('name = "www"', 'name = "www"\nca = "letsencrypt"')) == []
    assert errors(v, WWW.replace('name = "www"', 'name = "www"\nca = ["a", "b"]')) == []
    bad_install = WWW.replace('key_file = "{root}/out/www.key"', "key_file = 42")
    assert [e.split(":")[0] for e in errors(v, bad_install)] == ["certificate/0/install/0"]
    assert errors(v, "[[certificate]]\nname = \"x\"\n")  # domains and challenge required
    assert errors(v, "title = 'no certificate'\n")


def test_install_is_any_registered_installers_target(tmp_path: Path) -> None:
    doc = schema(tmp_path, "spec")
    install = doc["$defs"]["CertSpec"]["properties"]["install"]["items"]
    models = {m["properties"]["type"]["const"]: m for m in
              (doc["$defs"][ref["$ref"].rsplit("/", 1)[1]] for ref in install["anyOf"])}
    assert set(models) == {"files", "ssh"}
    assert {"host", "port", "user", "known_hosts"} <= set(models["ssh"]["properties"])
    files = models["files"]
    assert {"key_file", "fullchain_file", "check", "reload", "verify"} <= set(files["properties"])
    assert files["additionalProperties"] is False
    v = Draft202012Validator(doc)
    ssh = WWW.replace("[[certificate.install]]", '[[certificate.install]]\ntype = "ssh"\n'
                      'host = "web1.example.com"\nuser = "deploy"')
    assert errors(v, ssh.replace("{root}", "/srv")) == []
    assert errors(v, ssh.replace("{root}", "/srv").replace('user = "deploy"', "usr = 1"))


def test_config_schema_accepts_every_provider_type_and_rejects_mistakes(tmp_path: Path) -> None:
    v = validator(tmp_path, "config")
    assert run(tmp_path, "init", "repo").exit_code == 0
    assert errors(v, (tmp_path / "repo" / "certplan.toml").read_text()) == []
    if (REPO / "certplan.toml").exists():
        assert errors(v, (REPO / "certplan.toml").read_text()) == []
    assert errors(v, CONFIG) == []
    assert errors(v, CONFIG + '\n[providers.cf]\ntype = "cloudflare"\n'
                      'api_token = { env = "CF_Token" }\n') == []
    found = errors(v, CONFIG.replace('tsig_name = "certplan"', 'tsig_nam = "certplan"'))
    assert found and all(e.startswith("providers/bind") for e in found)
    assert errors(v, CONFIG + '\n[providers.x]\ntype = "nosuch"\n')
    assert errors(v, CONFIG + "\n[defaults.extra]\n")


@pytest.mark.parametrize("kind", ["spec", "config"])
def test_schema_titles_name_the_file(tmp_path: Path, kind: str) -> None:
    title = schema(tmp_path, kind)["title"]
    assert ("specs/*.toml" if kind == "spec" else "certplan.toml") in title
