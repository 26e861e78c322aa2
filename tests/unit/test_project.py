"""Loading a project from disk: defaults, CA directories, IDNA, every problem at once.

`write_project` builds the small fixture projects the CLI and bad-input tests use.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from certplan.installers import FilesTarget
from certplan.load import load_project
from certplan.model.errors import InputError
from certplan.model.presets import PRESETS
from certplan.model.project import ResolvedSpec

CONFIG = """\
[defaults]
ca = "letsencrypt"
email = "ops@example.com"
agree_tos = true

[ca.internal]
directory = "https://acme.internal.example/directory"

[providers.bind]
type = "rfc2136"
server = "127.0.0.1:5353"
tsig_name = "certplan"
tsig_secret = { env = "TSIG_SECRET" }
"""

WWW = """\
[[certificate]]
name = "www"
domains = ["example.com", "www.example.com"]

[certificate.challenge]
type = "http-01"
webroot = "/srv/www"

[[certificate.install]]
key_file = "{root}/out/www.key"
fullchain_file = "{root}/out/www.pem"
"""

API = """\
[[certificate]]
name = "api"
domains = ["api.example.com", "*.api.example.com"]
ca = "internal"
key = "rsa-2048"
renew_before_days = 20

[certificate.challenge]
type = "dns-01"
provider = "bind"
"""


def write_project(root: Path, specs: dict[str, str] | None = None,
                  config: str | None = CONFIG) -> Path:
    """certplan.toml + specs/NAME (text dedented; `{root}` replaced) + empty state/."""
    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "certplan.toml").write_text(textwrap.dedent(config))
    (root / "specs").mkdir(exist_ok=True)
    (root / "state").mkdir(exist_ok=True)
    default = {"www.toml": WWW, "api.toml": API}
    for name, text in (default if specs is None else specs).items():
        (root / "specs" / name).write_text(
            textwrap.dedent(text).replace("{root}", str(root)), encoding="utf-8")
    return root


def test_loads_with_defaults_resolved(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path))
    by = project.by_name()
    assert sorted(by) == ["api", "www"]
    www, api = by["www"], by["api"]
    assert (www.spec.ca, www.spec.key, www.directories, www.file) == (
        ["letsencrypt"], "ec-256", (PRESETS["letsencrypt"].directory,), "specs/www.toml")
    assert (api.spec.ca, api.spec.key, api.spec.renew_before_days, api.directories) == (
        ["internal"], "rsa-2048", 20, ("https://acme.internal.example/directory",))
    assert project.state_dir == tmp_path / "state"
    assert project.keystore_dir == tmp_path / ".certplan"


def test_default_renew_before_days_and_key(tmp_path: Path) -> None:
    config = CONFIG.replace('agree_tos = true', 'agree_tos = true\nkey = "ec-384"\n'
                            'renew_before_days = 15')
    www = load_project(write_project(tmp_path, config=config)).by_name()["www"].spec
    assert (www.key, www.renew_before_days) == ("ec-384", 15)


def test_a_resolved_spec_equals_the_spec_with_its_defaults_written_out(tmp_path: Path) -> None:
    """The loader fills [defaults] in without validating again; the result must be
    what validating the spec with those values written out gives."""
    config = CONFIG.replace('agree_tos = true', 'agree_tos = true\nkey = "ec-384"\n'
                            'renew_before_days = 15')
    www = load_project(write_project(tmp_path, config=config)).by_name()["www"].spec
    assert isinstance(www, ResolvedSpec)
    written_out = ResolvedSpec.model_validate(
        www.model_dump(exclude={"ca", "key", "renew_before_days", "install"})
        | {"ca": ["letsencrypt"], "key": "ec-384", "renew_before_days": 15,
           "install": list(www.install)})  # install tables: each its installer's model
    assert www == written_out
    assert www.model_dump() == written_out.model_dump()
    with pytest.raises(ValidationError):  # a resolved spec always has its CAs and key
        ResolvedSpec.model_validate(www.model_dump(exclude={"key"}))


def test_idna_normalised_to_a_labels(tmp_path: Path) -> None:
    spec = WWW.replace('"example.com", "www.example.com"', '"Bücher.Example", "*.bücher.example"')
    spec = spec.replace('type = "http-01"\nwebroot = "/srv/www"', 'type = "dns-01"\n'
                        'provider = "bind"')
    project = load_project(write_project(tmp_path, {"www.toml": spec}))
    assert project.by_name()["www"].spec.domains == ["xn--bcher-kva.example",
                                                     "*.xn--bcher-kva.example"]


def test_paths_section_moves_folders(tmp_path: Path) -> None:
    write_project(tmp_path / "p", specs={})
    (tmp_path / "p" / "certplan.toml").write_text(CONFIG + '\n[paths]\nspecs = "certs"\n'
                                                  'state = "/var/lib/x"\n')
    (tmp_path / "p" / "certs").mkdir()
    (tmp_path / "p" / "certs" / "www.toml").write_text(WWW.replace("{root}", "/x"))
    project = load_project(tmp_path / "p")
    assert project.specs_dir == tmp_path / "p" / "certs"
    assert project.state_dir == Path("/var/lib/x")
    assert [d.file for d in project.desired] == ["certs/www.toml"]


def test_install_type_picks_the_installer_model(tmp_path: Path) -> None:
    typed = WWW.replace("[[certificate.install]]\n", '[[certificate.install]]\ntype = "files"\n')
    implicit = load_project(write_project(tmp_path / "a")).by_name()["www"].spec.install
    explicit = load_project(write_project(tmp_path / "b", {"www.toml": typed}))
    (target,) = explicit.by_name()["www"].spec.install
    assert isinstance(target, FilesTarget) and target.type == "files"
    assert target.key_file == f"{tmp_path}/b/out/www.key"
    assert target.model_copy(update={"key_file": f"{tmp_path}/a/out/www.key",
                                     "fullchain_file": f"{tmp_path}/a/out/www.pem"}) \
        == implicit[0]
    dumped = explicit.by_name()["www"].spec.model_dump()["install"][0]  # all of its fields
    assert dumped == target.model_dump() and dumped["key_mode"] == "0600"


def test_non_toml_files_in_specs_ignored(tmp_path: Path) -> None:
    write_project(tmp_path, {"www.toml": WWW, "README.md": "# notes", "old.toml.bak": "]["})
    assert [d.spec.name for d in load_project(tmp_path).desired] == ["www"]


def test_all_problems_reported_together(tmp_path: Path) -> None:
    write_project(tmp_path, {
        "a.toml": WWW.replace('"www"', '"dup"').replace("webroot", "webrot"),
        "b.toml": API.replace('"api"', '"dup"').replace('"bind"', '"nope"'),
        "c.toml": "[[certificate]\n",
    })
    with pytest.raises(InputError) as info:
        load_project(tmp_path)
    shown = [str(p) for p in info.value.problems]
    assert "specs/a.toml: certificate[0].challenge.webrot: unknown key (check the spelling)" \
        in shown
    assert any(s.startswith("specs/b.toml: certificate[0].challenge.provider: unknown provider "
                            "'nope'") for s in shown)
    assert any(s.startswith("specs/c.toml: invalid TOML") for s in shown)
    assert len({p.file for p in info.value.problems}) == 3


FAST_PATH_NAMES = [
    "example.com", "WWW.Example.COM.", "*.example.com", "a.b", "1.2.3.com", "a-b.c-d.e",
    "x" * 63 + ".com", ".".join(["a" * 61] * 4), "*." + ".".join(["b" * 62] * 4)[:253],
    "0.example.org", "a1.b2.c3", "9a.z", "*.a.io", " padded.example.com ",
]


@pytest.mark.parametrize("name", FAST_PATH_NAMES)
def test_domain_fast_path_agrees_with_the_full_rules(name: str) -> None:
    from certplan.model import domains

    assert domains._PLAIN.fullmatch(name.strip().rstrip(".").lower())
    assert domains.normalise_domain(name) == domains._normalise_full(name)
