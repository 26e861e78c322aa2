"""Carrying out a plan: apply, issuance, challenges, and the per-run ACME sessions."""
