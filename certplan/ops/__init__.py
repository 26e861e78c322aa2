"""Commands that are not plan or apply: revoke, accounts, list/show, init, schema."""
