"""`certplan import acme.sh|certbot`: bring existing certificates under certplan
without issuing them again.

A reader (acmesh, certbot) turns the other client's folder into `Found`: the
certificates with their keys, challenge and install settings, the ACME accounts,
the DNS providers (secrets as references, never values) and what could not be
mapped. `writer` checks that nothing would be overwritten, then writes specs,
certplan.toml tables, state records and keystore entries.
"""
