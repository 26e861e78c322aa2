"""Shared fixtures of the integration tests: `site` (nginx serving a webroot for
Pebble's validator) and `project` (a certplan project pointing at `pebble`); each
module defines the `pebble` it wants, and may override either."""

from tests.servers.apply_fixtures import project, site

__all__ = ["project", "site"]
