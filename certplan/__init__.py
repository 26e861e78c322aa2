"""certplan: manage TLS certificates the way Terraform manages infrastructure."""

__version__ = "0.1.0"
