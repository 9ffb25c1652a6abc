"""Name normalization of the KMIP Additional Message Encodings (section 4.1.3).

Turns a spec name into the CamelCase form used by the XML and JSON
encodings: ``Cryptographic Usage Mask`` -> ``CryptographicUsageMask``,
``X.509 Certificate Identifier`` -> ``X_509CertificateIdentifier``,
``PKCS#11 Function`` -> ``PKCS_11Function``, ``3DES`` -> ``DES3``.
"""

from __future__ import annotations

import re
from functools import lru_cache

_BRACKETS = re.compile(r"[()]")
_NONWORD_BEFORE_WORD = re.compile(r"\W([A-Za-z][a-z])")
_NONWORD = re.compile(r"\W")
_LEADING_DIGITS = re.compile(r"^(\d+)(.*)")


@lru_cache(maxsize=4096)
def normalize(name: str) -> str:
    """The spec's rules 1-6, as its reference Python code applies them."""
    text = _BRACKETS.sub(" ", name)
    text = _NONWORD_BEFORE_WORD.sub(r" \1", text)
    words = [_NONWORD.sub("_", w) for w in text.split()]
    if not words:
        return ""
    words[0] = _LEADING_DIGITS.sub(r"\2\1", words[0])
    return "".join(w[:1].upper() + w[1:] for w in words)
