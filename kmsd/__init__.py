"""kmsd: a KMIP key management server."""

__version__ = "0.1.0"
