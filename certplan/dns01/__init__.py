"""dns-01: record names, CNAME following, propagation checks and DNS providers.

One job per module: `settings` (the `[dns]` table), `names` (which TXT name a
challenge needs), `propagation` (wait until every authoritative nameserver
answers), `validator` (the dns-01 Validator apply uses), `providers` (the DNS
APIs that add and delete TXT records). Importing this package costs nothing:
dnspython is imported only by the modules that talk DNS.
"""
