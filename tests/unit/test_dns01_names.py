"""Record names, written once for every provider."""

from __future__ import annotations

from certplan.validators.dns01.names import (
    alias_record_name,
    effective_name,
    normalize,
    record_name,
)


def test_record_names() -> None:
    assert record_name("example.org") == "_acme-challenge.example.org"
    assert record_name("*.example.org") == "_acme-challenge.example.org"
    assert record_name("WWW.Example.org.") == "_acme-challenge.www.example.org"
    assert normalize("*.Example.ORG.") == "example.org"


def test_alias_names_follow_acme_sh() -> None:
    assert alias_record_name("validation.example.net") == "_acme-challenge.validation.example.net"
    assert alias_record_name("_acme-challenge.example.net.") == "_acme-challenge.example.net"


def test_explicit_alias_needs_no_lookup() -> None:
    # the resolver is never used when an alias is given
    assert effective_name("*.example.org", "example.net", None) == (  # type: ignore[arg-type]
        "_acme-challenge.example.net")
