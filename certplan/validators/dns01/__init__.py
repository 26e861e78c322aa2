"""dns-01: record names and CNAME following (`names`), the propagation check on
every authoritative nameserver (`propagation`), and the validator (`validator`).
dnspython is imported only by the modules that talk DNS."""
