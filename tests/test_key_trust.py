"""Client-supplied private keys are checked in full; keys the server stored are not re-checked on each use.

OpenSSL's RSA private-key check costs about 30 ms for 2048 bits: paid once,
when the key comes in, not on every Sign or Decrypt.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import rsa

from kmsd.crypto import formats
from kmsd.crypto.errors import MalformedMaterial
from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import KeyFormatType, ObjectType, ResultReason
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.store import Store
from ttlv import Item, ItemType

from .kmip_builders import tag
from .test_asymmetric_ops import count_objects, register_key


def _inconsistent_pkcs1() -> bytes:
    """A well-formed PKCS#1 RSAPrivateKey whose CRT coefficient is wrong (the check catches it)."""
    good = rsa.generate_private_key(65537, 2048).private_numbers()
    bad = rsa.RSAPrivateNumbers(
        p=good.p, q=good.q, d=good.d, dmp1=good.dmp1, dmq1=good.dmq1, iqmp=good.iqmp ^ 0x10,
        public_numbers=good.public_numbers,
    )  # fmt: skip
    key = bad.private_key(unsafe_skip_rsa_key_validation=True)
    return key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption())


def test_untrusted_material_is_checked_and_trusted_is_not() -> None:
    material = Item(tag("Key Material"), ItemType.BYTE_STRING, _inconsistent_pkcs1())
    with pytest.raises(MalformedMaterial):
        formats.load_private(KeyFormatType.PKCS_1, material, formats.Hint())
    key = formats.load_private(KeyFormatType.PKCS_1, material, formats.Hint(trusted=True))
    assert isinstance(key, rsa.RSAPrivateKey)


def test_register_refuses_an_inconsistent_rsa_key(executor_store: Store) -> None:
    ex = Executor(executor_store, ExecutorSettings(policy=Policy()))
    material = Item(tag("Key Material"), ItemType.BYTE_STRING, _inconsistent_pkcs1())
    r = register_key(ex, (2, 1), ObjectType.PRIVATE_KEY, KeyFormatType.PKCS_1, material, Alg.RSA, 2048)
    assert r.reason() == ResultReason.INVALID_FIELD, r.message()
    assert count_objects(ex, (2, 1)) == 0
