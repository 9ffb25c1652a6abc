"""Known-answer tests: NIST CAVP (and RFC) vectors from the ``cryptography_vectors``
package, driven through the server's own Register, Encrypt, Decrypt, MAC,
MAC Verify and Hash handlers — in process for the bulk, and one batch over
a real TLS server.

Each vector is one request: Register the key, then Encrypt and Decrypt (or
MAC and MAC Verify) with the ID Placeholder, so the whole KMIP path (parse,
adapt, handler, policy, store, encode) is exercised, not only the library.
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import ttlv
from kmsd.crypto.policy import Policy
from kmsd.kmip import tags
from kmsd.kmip.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    Operation,
    ResultReason,
    ResultStatus,
    ValidityIndicator,
)
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.peer import Peer
from kmsd.store.factory import open_store
from ttlv import Item, ItemType

from .kmip_builders import Response, bstr, enum, integer, request, s, tag
from .server_process import RunningServer

vectors = pytest.importorskip("cryptography_vectors", reason="cryptography_vectors is a test dependency")

ROOT = Path(vectors.__file__).parent
ALICE = Peer(identity="alice", address="127.0.0.1:1")
MASK = Mask.ENCRYPT | Mask.DECRYPT | Mask.MAC_GENERATE | Mask.MAC_VERIFY
V = (2, 1)
Vector = dict[str, str]


# -- reading the files ---------------------------------------------------------------
def load(relative: str, limit: int | None = None, *, section: str | None = None) -> list[Vector]:
    """Blocks of ``NAME = value`` lines; ``[NAME = value]`` and ``[ENCRYPT]``
    headers are copied into the blocks below them (names upper-cased)."""
    out: list[Vector] = []
    headers: Vector = {}
    current: Vector = {}

    def flush() -> None:
        nonlocal current
        if current:
            out.append({**headers, **current})
        current = {}

    for raw in (ROOT / relative).read_text().splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        if not line:
            flush()
            continue
        if line.startswith("["):
            flush()
            inner = line.strip("[]")
            if "=" in inner:
                name, _, value = inner.partition("=")
                headers[name.strip().upper()] = value.strip()
            else:
                headers["SECTION"] = inner.strip()
            continue
        if "=" in line:
            name, _, value = line.partition("=")
            current[name.strip().upper()] = value.strip()
        else:
            current[line.upper()] = ""  # a bare FAIL line
    flush()
    if section is not None:
        out = [v for v in out if v.get("SECTION") == section]
    return out[:limit] if limit is not None else out


def hx(value: str) -> bytes:
    return bytes.fromhex(value)


# -- requests --------------------------------------------------------------------------
def register_item(key: bytes, algorithm: int) -> tuple[Operation, list[Item]]:
    block = s(
        "Key Block",
        enum("Key Format Type", KeyFormatType.RAW),
        s("Key Value", bstr("Key Material", key)),
        enum("Cryptographic Algorithm", algorithm),
        integer("Cryptographic Length", len(key) * 8),
    )
    attrs = s(
        "Attributes",
        integer("Cryptographic Usage Mask", MASK),
        Item(tag("Activation Date"), ItemType.DATE_TIME, datetime.now(UTC) - timedelta(hours=1)),
    )
    return Operation.REGISTER, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs, s("Symmetric Key", block)]


PARAM_NAMES = {"tag_length": "Tag Length", "iv_length": "IV Length"}


def params(mode: int | None = None, **ints: int) -> Item:
    children = [enum("Block Cipher Mode", mode)] if mode is not None else []
    children += [integer(PARAM_NAMES[name], value) for name, value in ints.items()]
    return s("Cryptographic Parameters", *children)


def crypt_items(
    op: Operation, p: Item, data: bytes, iv: bytes | None = None, **extra: bytes
) -> tuple[Operation, list[Item]]:
    items = [p, bstr("Data", data)]
    if iv is not None:
        items.append(bstr("IV/Counter/Nonce", iv))
    items += [bstr(name, value) for name, value in extra.items()]
    return op, items


def run(ex: Executor, *items: tuple[Operation, list[Item]], policy_peer: Peer = ALICE) -> Response:
    out = ex.process(request(V, *items), policy_peer)
    assert out is not None
    return Response(out)


@pytest.fixture(scope="module")
def executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executor]:
    store = open_store("sqlite", str(tmp_path_factory.mktemp("nist") / "kms.db"))
    yield Executor(store, ExecutorSettings())
    store.close()


@pytest.fixture(scope="module")
def nonfips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executor]:
    store = open_store("sqlite", str(tmp_path_factory.mktemp("nist-nf") / "kms.db"))
    yield Executor(store, ExecutorSettings(policy=Policy(non_fips=True)))
    store.close()


COUNTS: dict[str, int] = {}


def _count(kind: str, n: int) -> None:
    COUNTS[kind] = COUNTS.get(kind, 0) + n


def check_cipher(ex: Executor, key: bytes, mode: int, pt: bytes, ct: bytes, iv: bytes | None) -> None:
    p = params(mode)
    r = run(
        ex,
        register_item(key, CryptographicAlgorithm.AES),
        crypt_items(Operation.ENCRYPT, p, pt, iv),
        crypt_items(Operation.DECRYPT, p, ct, iv),
    )
    assert [r.status(i) for i in range(3)] == [ResultStatus.SUCCESS] * 3, r.message(1) or r.message(2)
    assert r.get("Data", 1) == ct and r.get("Data", 2) == pt


# -- block modes -------------------------------------------------------------------------
BLOCK_FILES = [
    (f"ciphers/AES/{m}/{m}{kind}{bits}.rsp", m)
    for m in ("ECB", "CBC")
    for kind in ("GFSbox", "KeySbox", "VarKey", "VarTxt", "MMT")
    for bits in (128, 192, 256)
]


@pytest.mark.parametrize(("path", "mode_name"), BLOCK_FILES, ids=[p for p, _ in BLOCK_FILES])
def test_ecb_cbc(executor: Executor, path: str, mode_name: str) -> None:
    mode = BlockCipherMode.ECB if mode_name == "ECB" else BlockCipherMode.CBC
    cases = load(path, 6, section="ENCRYPT") + load(path, 2, section="DECRYPT")
    for v in cases:
        iv = hx(v["IV"]) if mode == BlockCipherMode.CBC else None
        check_cipher(executor, hx(v["KEY"]), mode, hx(v["PLAINTEXT"]), hx(v["CIPHERTEXT"]), iv)
    _count(mode_name, len(cases))
    assert len(cases) >= 3


@pytest.mark.parametrize("bits", [128, 192, 256])
def test_ctr_rfc3686(executor: Executor, bits: int) -> None:
    cases = load(f"ciphers/AES/CTR/aes-{bits}-ctr.txt", section="ENCRYPT")
    for v in cases:
        check_cipher(executor, hx(v["KEY"]), BlockCipherMode.CTR, hx(v["PLAINTEXT"]), hx(v["CIPHERTEXT"]), hx(v["IV"]))
    _count("CTR", len(cases))
    assert cases


@pytest.mark.parametrize("bits", [128, 192, 256])
def test_gcm_encrypt(executor: Executor, bits: int) -> None:
    """gcmEncryptExtIV: every tag length SP 800-38D allows, IVs of 8..128 bytes."""
    done = 0
    for v in load(f"ciphers/AES/GCM/gcmEncryptExtIV{bits}.rsp"):
        iv, tag_bytes = hx(v["IV"]), int(v["TAGLEN"]) // 8
        if not 8 <= len(iv) <= 128 or v["COUNT"] not in ("0", "1") or int(v["PTLEN"]) % 8 or int(v["AADLEN"]) % 8:
            continue
        p = params(BlockCipherMode.GCM, tag_length=tag_bytes, iv_length=len(iv) * 8)
        aad = {"Authenticated Encryption Additional Data": hx(v["AAD"])} if v["AAD"] else {}
        pt, ct, expected_tag = hx(v["PT"]), hx(v["CT"]), hx(v["TAG"])
        r = run(
            executor,
            register_item(hx(v["KEY"]), CryptographicAlgorithm.AES),
            crypt_items(Operation.ENCRYPT, p, pt, iv, **aad),
            crypt_items(Operation.DECRYPT, p, ct, iv, **aad, **{"Authenticated Encryption Tag": expected_tag}),
        )
        assert [r.status(i) for i in range(3)] == [ResultStatus.SUCCESS] * 3, r.message(1) or r.message(2)
        assert r.get("Data", 1) == ct and r.get("Authenticated Encryption Tag", 1) == expected_tag
        assert r.get("Data", 2) == pt
        done += 1
    _count("GCM", done)
    assert done >= 50


@pytest.mark.parametrize("bits", [128, 256])
def test_gcm_decrypt_with_failures(executor: Executor, bits: int) -> None:
    """gcmDecrypt: the FAIL vectors must be a clean Cryptographic Failure."""
    done = failures = 0
    for v in load(f"ciphers/AES/GCM/gcmDecrypt{bits}.rsp"):
        iv, tag_bytes = hx(v["IV"]), int(v["TAGLEN"]) // 8
        if len(iv) != 12 or int(v["COUNT"]) > 3 or int(v["PTLEN"]) % 8 or int(v["AADLEN"]) % 8:
            continue
        p = params(BlockCipherMode.GCM, tag_length=tag_bytes)
        aad = {"Authenticated Encryption Additional Data": hx(v["AAD"])} if v["AAD"] else {}
        r = run(
            executor,
            register_item(hx(v["KEY"]), CryptographicAlgorithm.AES),
            crypt_items(Operation.DECRYPT, p, hx(v["CT"]), iv, **aad, **{"Authenticated Encryption Tag": hx(v["TAG"])}),
        )
        if "FAIL" in v:
            assert r.status(1) == ResultStatus.OPERATION_FAILED and r.reason(1) == ResultReason.CRYPTOGRAPHIC_FAILURE
            failures += 1
        else:
            assert r.status(1) == ResultStatus.SUCCESS and r.get("Data", 1) == hx(v["PT"])
        done += 1
    _count("GCM", done)
    assert done >= 50 and failures >= 10


def test_xts(executor: Executor) -> None:
    done = 0
    for v in load("ciphers/AES/XTS/tweak-128hexstr/XTSGenAES128.rsp"):
        if int(v["DATAUNITLEN"]) % 8 or done >= 60:
            continue
        key = hx(v["KEY"])
        if key[:16] == key[16:]:
            continue
        check_cipher(executor, key, BlockCipherMode.XTS, hx(v["PT"]), hx(v["CT"]), hx(v["I"]))
        done += 1
    _count("XTS", done)
    assert done >= 50


@pytest.mark.parametrize(
    ("name", "mode"), [("KW", BlockCipherMode.NISTKEYWRAP), ("KWP", BlockCipherMode.AESKEYWRAPPADDING)]
)
@pytest.mark.parametrize("bits", [128, 192, 256])
def test_key_wrap(executor: Executor, name: str, mode: int, bits: int) -> None:
    wraps = load(f"keywrap/kwtestvectors/{name}_AE_{bits}.txt")[::25][:8]
    for v in wraps:
        check_cipher(executor, hx(v["K"]), mode, hx(v["P"]), hx(v["C"]), None)
    unwraps = load(f"keywrap/kwtestvectors/{name}_AD_{bits}.txt")[::25][:8]
    for v in unwraps:
        r = run(
            executor,
            register_item(hx(v["K"]), CryptographicAlgorithm.AES),
            crypt_items(Operation.DECRYPT, params(mode), hx(v["C"])),
        )
        if "FAIL" in v:
            assert r.reason(1) == ResultReason.CRYPTOGRAPHIC_FAILURE
        else:
            assert r.get("Data", 1) == hx(v["P"])
    _count(name, len(wraps) + len(unwraps))
    assert wraps and unwraps


# -- MAC and Hash --------------------------------------------------------------------------
HMACS = {
    "sha1": (CryptographicAlgorithm.HMAC_SHA1, "rfc-2202-sha1.txt"),
    "sha224": (CryptographicAlgorithm.HMAC_SHA224, "rfc-4231-sha224.txt"),
    "sha256": (CryptographicAlgorithm.HMAC_SHA256, "rfc-4231-sha256.txt"),
    "sha384": (CryptographicAlgorithm.HMAC_SHA384, "rfc-4231-sha384.txt"),
    "sha512": (CryptographicAlgorithm.HMAC_SHA512, "rfc-4231-sha512.txt"),
}


@pytest.mark.parametrize("name", sorted(HMACS))
def test_hmac(nonfips: Executor, name: str) -> None:
    """RFC 2202/4231 (some keys are shorter than FIPS's 112 bits: non-FIPS server)."""
    algorithm, path = HMACS[name]
    cases = load(f"HMAC/{path}")
    for v in cases:
        key, msg, md = hx(v["KEY"]), hx(v["MSG"]), hx(v["MD"])
        r = run(
            nonfips,
            register_item(key, algorithm),
            (Operation.MAC, [bstr("Data", msg)]),
            (Operation.MAC_VERIFY, [bstr("Data", msg), bstr("MAC Data", md)]),
        )
        assert r.get("MAC Data", 1) == md, r.message(0) or r.message(1)
        assert r.get("Validity Indicator", 2) == ValidityIndicator.VALID
    _count("HMAC", len(cases))
    assert cases


@pytest.mark.parametrize("bits", [128, 192, 256])
def test_cmac(executor: Executor, bits: int) -> None:
    cases = [v for v in load(f"CMAC/nist-800-38b-aes{bits}.txt") if "KEY" in v and "MESSAGE" in v]
    for v in cases:
        r = run(
            executor,
            register_item(hx(v["KEY"]), CryptographicAlgorithm.AES),
            (Operation.MAC, [params(BlockCipherMode.CMAC), bstr("Data", hx(v["MESSAGE"]))]),
        )
        assert r.get("MAC Data", 1) == hx(v["OUTPUT"]), r.message(1)
    _count("CMAC", len(cases))
    assert cases


HASH_FILES = [
    ("hashes/SHA2/SHA224ShortMsg.rsp", HashingAlgorithm.SHA_224),
    ("hashes/SHA2/SHA256ShortMsg.rsp", HashingAlgorithm.SHA_256),
    ("hashes/SHA2/SHA384ShortMsg.rsp", HashingAlgorithm.SHA_384),
    ("hashes/SHA2/SHA512ShortMsg.rsp", HashingAlgorithm.SHA_512),
    ("hashes/SHA3/SHA3_256ShortMsg.rsp", HashingAlgorithm.SHA3_256),
    ("hashes/SHA3/SHA3_512ShortMsg.rsp", HashingAlgorithm.SHA3_512),
]


@pytest.mark.parametrize(("path", "algorithm"), HASH_FILES, ids=[p.rsplit("/", 1)[1] for p, _ in HASH_FILES])
def test_hash(executor: Executor, path: str, algorithm: int) -> None:
    cases = load(path)[::4][:24]
    p = s("Cryptographic Parameters", enum("Hashing Algorithm", algorithm))
    # Twenty-four vectors per request: Hash has no key, so one batch carries them all.
    msgs = [b"" if v["LEN"] == "0" else hx(v["MSG"]) for v in cases]
    r = run(executor, *[(Operation.HASH, [p, bstr("Data", m)]) for m in msgs])
    for i, v in enumerate(cases):
        assert r.get("Data", i) == hx(v["MD"])
    _count("Hash", len(cases))


# -- over TLS ---------------------------------------------------------------------------------
def _tls_roundtrip(server: RunningServer, message: bytes) -> Item:
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.load_cert_chain(server.admin_cert, server.admin_key)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(message)
            head = _read(tls, 8)
            body = _read(tls, struct.unpack(">I", head[4:])[0])
    return ttlv.decode(head + body)


def _read(sock: ssl.SSLSocket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return bytes(buf)


def test_vectors_over_tls(kmsd_server: RunningServer) -> None:
    """A batch of GCM and CBC vectors through a real ``kmsd serve`` over TLS."""
    items: list[tuple[Operation, list[Item]]] = []
    expected: list[bytes] = []
    for v in load("ciphers/AES/GCM/gcmEncryptExtIV256.rsp"):
        if len(hx(v["IV"])) != 12 or v["TAGLEN"] != "128" or int(v["COUNT"]) > 1 or int(v["PTLEN"]) % 8:
            continue
        aad = {"Authenticated Encryption Additional Data": hx(v["AAD"])} if v["AAD"] else {}
        p = params(BlockCipherMode.GCM, tag_length=16)
        items += [
            register_item(hx(v["KEY"]), CryptographicAlgorithm.AES),
            crypt_items(Operation.ENCRYPT, p, hx(v["PT"]), hx(v["IV"]), **aad),
        ]
        expected.append(hx(v["CT"]) + hx(v["TAG"]))
        if len(expected) == 12:
            break
    response = _tls_roundtrip(kmsd_server, request(V, *items))
    batch = response.find_all(tags.BatchItem)
    assert len(batch) == len(items)
    for i, want in enumerate(expected):
        item = batch[2 * i + 1]
        assert item.get(tags.ResultStatus) == ResultStatus.SUCCESS, item.get(tags.ResultMessage)
        payload = item.find(tags.ResponsePayload)
        assert payload is not None
        assert payload.get(tags.Data) + payload.get(tags.AuthenticatedEncryptionTag) == want  # type: ignore[operator]
    _count("TLS", len(expected))


def test_total_vector_count() -> None:
    """Runs last in this module (pytest keeps file order): the evidence total."""
    total = sum(v for k, v in COUNTS.items() if k != "TLS")
    print("NIST/RFC vectors through the server:", dict(sorted(COUNTS.items())), "total", total)
    if len(COUNTS) >= 10:  # the whole module ran
        assert total >= 300
