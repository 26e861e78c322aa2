"""The vocabulary of certplan: pydantic models and their validation.

Specs, certplan.toml, secret references, domain names, CA presets, recorded
state, challenges, errors, and the certificate/key material helpers every
layer shares. Imports nothing else of certplan.
"""
