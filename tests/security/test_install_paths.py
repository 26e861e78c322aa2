"""Issue 9, cases 3 and 4, against real Pebble and nginx: a pull request adds a spec
whose install paths alias another certificate's files (other spellings, a symlinked
folder), or point into certplan's own folders with a key anyone can read. certplan
refuses it, naming both specs and fields; the served files are untouched. A key the
group may read is allowed only when asked for, and the plan says so and shows
every path it writes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from certplan.core.escape import markdown as md_escape
from tests.integration.apply_project import CertplanProject, spec_toml
from tests.integration.test_apply import served_serial
from tests.security.hostile_cli import assert_problems
from tests.servers.nginx import NginxServer

pytestmark = pytest.mark.integration


def hostile(name: str, key_file: str, webroot: Path, *lines: str) -> str:
    return "\n".join([
        "[[certificate]]", f'name = "{name}"', f'domains = ["{name}.example.test"]',
        "[certificate.challenge]", 'type = "http-01"', f'webroot = "{webroot}"',
        "[[certificate.install]]", f'key_file = "{key_file}"', *lines, ""])


def served_files(site: NginxServer) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in (site.key_path, site.cert_path)}


def test_a_spec_aliasing_installed_files_is_refused(project: CertplanProject,
                                                    site: NginxServer, tmp_path: Path) -> None:
    project.write_spec("shop.toml", spec_toml("shop", ["shop.example.test"], site.webroot, site))
    res = project.apply()
    assert res.returncode == 0, res.stderr
    serial = project.state("shop")["certificate"]["serial"]
    assert served_serial(site, "shop.example.test", serial) == serial  # once nginx reloaded
    before, state = served_files(site), project.state_bytes()
    ssl = site.key_path.parent
    link = tmp_path / "innocent"
    link.symlink_to(ssl)  # a folder that is the served one under another name
    key = site.key_path.name
    canonical = str(site.key_path.parent.resolve() / key)
    (ssl / "inner").mkdir()
    (tmp_path / "trap").symlink_to(ssl / "inner")  # trap/.. is ssl, not tmp_path
    spellings = [f"{ssl}/./{key}", f"{ssl}/sub/../{key}", f"{ssl}//{key}", f"{link}/{key}",
                 f"{tmp_path}/trap/../{key}"]
    for spelling in spellings:
        project.write_spec("evil.toml", hostile("evil", spelling, site.webroot))
        for command in (("validate",), ("apply", "--auto-approve")):
            # specs load in name order: the later file is the one the problem is on
            lines = assert_problems(project.run(*command))
            both = [line for line in lines if f": {canonical} is also written by " in line]
            assert len(both) == 1, lines
            for file, name in (("specs/evil.toml", "evil"), ("specs/shop.toml", "shop")):
                field = f"{file}: certificate[0].install[0].key_file"
                assert both[0].startswith(field) or both[0].endswith(f"{field} ({name})")
    assert served_files(site) == before
    assert served_serial(site, "shop.example.test") == serial
    assert project.state_bytes() == state  # evil never got a record


def test_a_world_readable_key_into_the_state_folder_is_refused(project: CertplanProject,
                                                                site: NginxServer) -> None:
    """The PR's spec writes its key into state/ (committed to git) with mode 0666."""
    project.write_spec("api.toml", hostile("api", "state/api-backup.key", site.webroot,
                                           'key_mode = "0666"'))
    state = project.root / "state"
    for command in (("validate",), ("plan", "--no-refresh"), ("apply", "--auto-approve")):
        assert_problems(project.run(*command),
                       'specs/api.toml: certificate[0].install[0].key_mode: "0666" lets group '
                       "and others read the private key")
    # once allowed, the place is still refused: it is certplan's own folder
    project.write_spec("api.toml", hostile("api", "state/./api-backup.key", site.webroot,
                                           'key_mode = "0666"', "allow_shared_key = true"))
    assert_problems(project.apply(),
                   f"specs/api.toml: certificate[0].install[0].key_file: "
                   f"{state.resolve() / 'api-backup.key'} is inside the state folder")
    assert not (state / "api-backup.key").exists() and not (state / "api.json").exists()


def test_a_shared_key_is_warned_about_and_every_path_is_shown(project: CertplanProject,
                                                              site: NginxServer) -> None:
    text = spec_toml("shop", ["shop.example.test"], site.webroot, site)
    text = text.replace("[[certificate.install]]",
                        '[[certificate.install]]\nkey_mode = "0640"\nallow_shared_key = true')
    project.write_spec("shop.toml", text)
    warning = "install[0] of shop: key readable by group (0640)"
    paths = [str(site.key_path), str(site.cert_path)]
    plain = project.run("plan", "--no-refresh")
    assert plain.returncode == 0, plain.stderr
    assert f"Warning: {warning}" in plain.stdout
    assert all(f"writes {p}" in plain.stdout for p in paths)
    markdown = project.run("plan", "--no-refresh", "--format", "markdown").stdout
    escaped = warning.replace("[", "\\[").replace("]", "\\]")  # markdown escapes them
    assert f"> **Warning:** {escaped}" in markdown
    # the paths are temporary folders whose names may hold `_`, which markdown escapes
    assert all(md_escape(f"writes {p}") in markdown for p in paths)
    doc = project.plan_json()
    assert doc["warnings"] == [warning] and doc["changes"][0]["writes"] == paths
    res = project.apply()
    assert res.returncode == 0, res.stderr
    assert warning in res.stdout
    assert stat.S_IMODE(site.key_path.stat().st_mode) == 0o640
    assert json.loads(project.run("plan", "--no-refresh", "--format", "json").stdout)[
        "changes"] == []
