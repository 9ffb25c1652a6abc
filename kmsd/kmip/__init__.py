"""KMIP messages: item trees <-> a version-neutral model, and back."""
