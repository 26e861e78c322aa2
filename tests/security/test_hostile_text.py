"""Issue 9, cases 11 and 12: a spec or config a contributor crafted (control
characters that make two names print alike, absurd nesting, a FIFO for a spec)
and a `plan --out` into nowhere. Each is one clear message naming the file and
field, exit 1, no traceback, and nothing is planned or written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.security.hostile_cli import assert_problems, certplan
from tests.unit.test_project import write_project

WEB = """\
[[certificate]]
name = "{name}"
domains = [{domains}]

[certificate.challenge]
type = "http-01"
webroot = "{webroot}"
{install}
"""


def spec(name: str = "web", domains: str = '"web.example.test"', webroot: str = "/srv/www",
         install: str = "") -> str:
    return WEB.format(name=name, domains=domains, webroot=webroot, install=install)


def project(tmp_path: Path, **specs: str) -> Path:
    root = write_project(tmp_path / "ops", {f"{n}.toml": text for n, text in specs.items()})
    return root


def test_a_second_web_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    """The PR adds `name = "web\\n"` next to `web`: two rows that read `web` in review."""
    root = project(tmp_path, web=spec(),
                   evil=spec(name="web\\n", domains='"evil.example.test"'))
    for command in (["validate"], ["plan", "--no-refresh"], ["apply", "--auto-approve"]):
        lines = assert_problems(certplan(root, *command),
                               "specs/evil.toml: certificate[0].name: control character "
                               "U+000A at position 3")
        assert not any("web.example.test" in line for line in lines[1:])  # web itself is fine
    assert list((root / "state").iterdir()) == []


@pytest.mark.parametrize("field,value,expect", [
    ("domains", '"web\\n.example.test"', "certificate[0].domains[0]: control character U+000A"),
    ("domains", '"web.example.test\\u0000"',
     "certificate[0].domains[0]: control character U+0000"),
    ("webroot", "/srv/www\\u001b[8m", "certificate[0].challenge.webroot: control character "
                                     "U+001B"),
    ("install", 'cert_file = "/tmp/x.pem"\nreload = "true\\nrm -rf /srv"',
     "certificate[0].install[0].reload: control character U+000A at position 4"),
    ("install", 'cert_file = "/tmp/x\\u0000.pem"',
     "certificate[0].install[0].cert_file: control character U+0000"),
    ("install", 'cert_file = "/tmp/\\u202emep.x"',
     "certificate[0].install[0]: cert_file = '/tmp/\\u202emep.x': invisible formatting "
     "character U+202E"),
])
def test_control_characters_are_refused_where_they_sit(tmp_path: Path, field: str, value: str,
                                                       expect: str) -> None:
    kwargs = {field: value} if field != "install" else {
        "install": f"\n[[certificate.install]]\n{value}\n"}
    root = project(tmp_path, evil=spec(**kwargs))
    assert_problems(certplan(root, "validate"), f"specs/evil.toml: {expect}")


@pytest.mark.parametrize("filename", ["specs/deep.toml", "certplan.toml"])
def test_five_thousand_brackets_are_a_named_problem(tmp_path: Path, filename: str) -> None:
    root = project(tmp_path, web=spec())
    (root / filename).write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    for command in (["validate"], ["plan", "--no-refresh"]):
        assert_problems(certplan(root, *command), f"{filename}: nesting too deep")


def test_a_fifo_for_a_spec_does_not_hang(tmp_path: Path) -> None:
    root = project(tmp_path, web=spec())
    os.mkfifo(root / "specs" / "pipe.toml")
    assert_problems(certplan(root, "validate", timeout=30),
                   "specs/pipe.toml: not a regular file")


def test_plan_out_into_a_missing_folder_names_the_path(tmp_path: Path) -> None:
    root = project(tmp_path, web=spec())
    assert certplan(root, "validate").returncode == 0
    assert_problems(certplan(root, "plan", "--no-refresh", "--out", "/nonexistent/dir/p.json"),
                   "Error: /nonexistent/dir/p.json: cannot write the saved plan: No such file")
