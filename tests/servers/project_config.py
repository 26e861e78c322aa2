"""certplan.toml for a project pointed at a test Pebble: one writer for tests and benches."""

from __future__ import annotations


def pebble_config(directory: str, ca_bundle: str, http_port: int, *,
                  email: str = "test@example.test", resolvers: list[str] | None = None,
                  authoritative_port: int | None = None, ca_extra: str = "",
                  extra: str = "") -> str:
    """[defaults] (CA "pebble", terms agreed), [ca.pebble] plus `ca_extra` lines,
    [http01] port, [dns] resolvers and port, then `extra` (more tables)."""
    dns = [f"resolvers = {list(resolvers)!r}".replace("'", '"')] if resolvers else []
    if authoritative_port is not None:
        dns.append(f"authoritative_port = {authoritative_port}")
    return "\n".join([
        "[defaults]", 'ca = "pebble"', f'email = "{email}"', "agree_tos = true", "",
        "[ca.pebble]", f'directory = "{directory}"', f'ca_bundle = "{ca_bundle}"', ca_extra, "",
        "[http01]", f"port = {http_port}", "",
        "[dns]", *dns, "",
        extra, "",
    ])
