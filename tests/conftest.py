"""Fixtures for the whole suite: the PostgreSQL cluster is started once per session
(tests/servers/postgres.py), whichever folders of tests use it; `small_disk`, a full
disk on demand (tests/servers/disk.py)."""

pytest_plugins = ["tests.servers.postgres", "tests.servers.disk"]
