"""Cryptography over pyca/cryptography: policy, key generation, formats."""
