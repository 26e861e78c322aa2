"""Fixtures for the whole suite: the PostgreSQL cluster is started once per session
(tests/servers/postgres.py), whichever folders of tests use it."""

pytest_plugins = ["tests.servers.postgres"]
