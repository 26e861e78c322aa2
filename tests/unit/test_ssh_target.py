"""The ssh target model and remote place names: what a spec may say, and what a
record from git may (not) make certplan connect to."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from certplan.installers.ssh_scripts import Seen, parse_look, parse_ran
from certplan.installers.ssh_target import Endpoint, SshTarget, parse_place


def target(**kw: object) -> SshTarget:
    fields: dict[str, object] = {"host": "web1.example.com", "fullchain_file": "/etc/ssl/a.pem"}
    fields.update(kw)
    return SshTarget.model_validate(fields)


@pytest.mark.parametrize("ep", [Endpoint("web1.example.com"), Endpoint("10.0.0.7", 2222, "deploy"),
                                Endpoint("2001:db8::1", 22, "root")])
def test_a_place_names_its_host_and_parses_back(ep: Endpoint) -> None:
    place = ep.place("/etc/ssl/it's here.pem")
    assert place.startswith("ssh://") and place.endswith("/etc/ssl/it's here.pem")
    assert parse_place(place) == (ep, "/etc/ssl/it's here.pem")


@pytest.mark.parametrize("place", [
    "/etc/ssl/a.pem", "ssh://-oProxyCommand=touch%20x/etc/a", "ssh://-lroot@host/etc/a",
    "ssh://host:0/etc/a", "ssh://host:99999/etc/a", "ssh://host", "ssh://ho st/etc/a",
    "ssh://[not-v6]/etc/a", "ssh://host/etc/a\nb"])
def test_a_record_cannot_name_an_option_or_a_bad_place(place: str) -> None:
    assert parse_place(place) is None


def test_the_model_refuses_what_ssh_would_read_as_an_option() -> None:
    for bad in ({"host": "-oProxyCommand=x"}, {"user": "-lroot"}, {"port": 0},
                {"fullchain_file": "relative/a.pem"},
                {"identity_file": {"env": "KEY"}}, {"identity_file": "/literal/key"}):
        with pytest.raises(ValidationError):
            target(**bad)


def test_defaults_verify_and_digest() -> None:
    t = target(verify=":8443", key_file="/etc/ssl/a.key")
    assert t.type == "ssh" and t.key_mode == "0600"
    assert t.verify_address() == ("web1.example.com", 8443)  # ":PORT": the ssh host
    assert target(verify="10.1.1.1:443").verify_address() == ("10.1.1.1", 443)
    assert t.digest().startswith("v1:") and t.same_definition(t.digest())
    assert target(host="web2.example.com").digest() != target().digest()
    assert target(port=2222).digest() != target().digest()
    with pytest.raises(ValidationError, match="lets group and others read the private key"):
        target(key_file="/k", key_mode="0644")


def test_the_answers_of_the_remote_scripts() -> None:
    out = ("Welcome to web1\n"  # a login banner is ignored
           "certplan:ok " + "a" * 64 + " 640 0 33 root www-data\ncertplan:missing\n"
           "certplan:link\n")
    assert parse_look(out, 3) == [Seen("ok", "a" * 64, 0o640, "0", "33", "root", "www-data"),
                                  Seen("missing"), Seen("link")]
    assert parse_look(out, 4) is None  # not whole: never guessed
    assert parse_look("certplan:ok abc\n", 1) is None
    data = base64.b64encode(b"nginx: configuration file test failed\n").decode()
    ran = parse_ran(f"ran check 1 {data}")
    assert ran is not None and ran.code == 1 and ran.output.endswith("test failed")
    timed_out = parse_ran("ran reload 124 ")
    assert timed_out is not None and timed_out.code is None
    assert parse_ran("staged") is None


def test_a_malformed_look_answer_is_no_answer_not_a_crash() -> None:
    good = " 640 0 33 root www-data"
    assert parse_look("certplan:\n", 1) is None  # a bare mark
    assert parse_look("certplan:   \n", 1) is None
    assert parse_look("certplan:ok " + "a" * 64 + " rw 0 33 root www-data\n", 1) is None
    assert parse_look("certplan:ok " + "a" * 64 + " 999 0 33 root www-data\n", 1) is None
    assert parse_look("certplan:ok nothex" + good + "\n", 1) is None


def test_only_the_steps_a_script_runs_are_answers() -> None:
    # the installer looks a step up on the target (getattr): a host saying any other
    # name must not reach it
    assert parse_ran("ran host 0 ") is None
    assert parse_ran("ran __class__ 1 ") is None
    assert parse_ran("ran bogus 1 ") is None
    assert parse_ran("ran reload 0 ") is not None


def test_a_host_naming_an_unknown_step_gets_an_install_error() -> None:
    from certplan.installers.ssh import _outcome
    from certplan.model.errors import InstallError

    t = target()
    with pytest.raises(InstallError, match="ended early"):
        _outcome(t.endpoint(), ["staged", "ran bogus 1 "], t)


def test_the_staging_script_makes_each_missing_folder_0755(tmp_path: Path) -> None:
    import subprocess

    from certplan.installers.ssh_scripts import Write, transaction_script

    place = tmp_path / "a" / "b" / "c" / "cert.pem"
    script = transaction_script([Write(str(place), b"PEM\n", 0o644, None, None, False)],
                                "t0", None, None, 5, keep_aside=False)
    said = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True,
                          check=False).stdout.decode()
    assert "certplan:committed" in said and place.read_bytes() == b"PEM\n"
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
