"""PyKMIP's ProxyKmipClient (the client of MongoDB's, Percona's and Ceph's test
rigs) against a real ``kmsd serve`` process over TLS, at KMIP 1.2 and 2.0."""

from __future__ import annotations

import pytest

from .server_process import RunningServer

kmip = pytest.importorskip("kmip", reason="PyKMIP is a test dependency (pip install -e .[test])")

from kmip import enums  # noqa: E402
from kmip.core.factories import attributes as attribute_factories  # noqa: E402
from kmip.pie import objects  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402
from kmip.pie.exceptions import KmipOperationFailure  # noqa: E402

VERSIONS = [enums.KMIPVersion.KMIP_1_2, enums.KMIPVersion.KMIP_2_0]


def client(server: RunningServer, version: enums.KMIPVersion, user: str = "admin") -> ProxyKmipClient:
    cert, key = (server.admin_cert, server.admin_key) if user == "admin" else server.client_cert(user)
    return ProxyKmipClient(
        hostname="127.0.0.1",
        port=server.port,
        cert=cert,
        key=key,
        ca=server.ca,
        ssl_version="PROTOCOL_TLS",
        kmip_version=version,
    )


@pytest.mark.parametrize("version", VERSIONS, ids=["1.2", "2.0"])
def test_symmetric_key_lifecycle(kmsd_server: RunningServer, version: enums.KMIPVersion) -> None:
    name = f"pykmip-{version.name}"
    usage = [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT]
    with client(kmsd_server, version) as c:
        uid = c.create(enums.CryptographicAlgorithm.AES, 256, name=name, cryptographic_usage_mask=usage)
        key = c.get(uid)
        assert isinstance(key, objects.SymmetricKey)
        assert key.cryptographic_algorithm == enums.CryptographicAlgorithm.AES
        assert key.cryptographic_length == 256 and len(key.value) == 32

        _, attrs = c.get_attributes(uid, ["Cryptographic Algorithm", "Cryptographic Length", "State"])
        by_name = {a.attribute_name.value: a.attribute_value.value for a in attrs}
        assert by_name["Cryptographic Algorithm"] == enums.CryptographicAlgorithm.AES
        assert by_name["Cryptographic Length"] == 256
        assert by_name["State"] == enums.State.PRE_ACTIVE

        factory = attribute_factories.AttributeFactory()
        found = c.locate(attributes=[factory.create_attribute(enums.AttributeType.NAME, name)])
        assert found == [uid]

        c.activate(uid)
        _, attrs = c.get_attributes(uid, ["State"])
        assert attrs[0].attribute_value.value == enums.State.ACTIVE
        with pytest.raises(KmipOperationFailure):
            c.destroy(uid)  # an Active key cannot be destroyed
        c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
        c.destroy(uid)
        with pytest.raises(KmipOperationFailure):
            c.get(uid)


@pytest.mark.parametrize("version", VERSIONS, ids=["1.2", "2.0"])
def test_register_and_get(kmsd_server: RunningServer, version: enums.KMIPVersion) -> None:
    material = bytes(range(16))
    with client(kmsd_server, version) as c:
        key = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 128, material, name=f"registered-{version.name}")
        uid = c.register(key)
        got = c.get(uid)
        assert got.value == material and got.cryptographic_length == 128

        secret_uid = c.register(objects.SecretData(b"s3cret-password", enums.SecretDataType.PASSWORD))
        secret = c.get(secret_uid)
        assert isinstance(secret, objects.SecretData) and secret.value == b"s3cret-password"

        opaque_uid = c.register(objects.OpaqueObject(b"\x00opaque\xff", enums.OpaqueDataType.NONE))
        opaque = c.get(opaque_uid)
        assert isinstance(opaque, objects.OpaqueObject) and opaque.value == b"\x00opaque\xff"


def test_users_see_only_their_own_objects(kmsd_server: RunningServer) -> None:
    version = enums.KMIPVersion.KMIP_1_2
    with client(kmsd_server, version) as admin:
        uid = admin.create(enums.CryptographicAlgorithm.AES, 128)
    with client(kmsd_server, version, user="bob") as bob:
        with pytest.raises(KmipOperationFailure) as failure:
            bob.get(uid)
        assert failure.value.reason == enums.ResultReason.ITEM_NOT_FOUND
        assert uid not in bob.locate()
