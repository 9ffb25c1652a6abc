"""The audit log: records, the hash chain and MACs, tampering found by ``kmsd audit verify``.

Files are made by the real pipeline (``AuditLogger`` + ``FileSink``), then
edited the way an intruder would (a line changed, deleted, inserted, moved,
a rotated file dropped, a chain recomputed without the key), and the
verifier must name the first broken record.  The executor tests run the
message layer in process and count records against batch items, under
threads too; the secret-grep test checks that nothing secret ever reaches
the audit output.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kmsd.audit import AuditLogger, FileSink, MacSigner, StreamSink, SyslogSink, capture_audit, load_or_create_key
from kmsd.audit.chain import GENESIS, MAC_EVENT, canonical, digest
from kmsd.audit.cli import audit_group
from kmsd.audit.observer import ServerObserver
from kmsd.audit.pipeline import allow_listed
from kmsd.audit.verify import audit_files, verify
from kmsd.kmip.enums import (
    BatchErrorContinuation,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    ObjectType,
    Operation,
    ResultStatus,
    SecretDataType,
)
from kmsd.metrics.catalog import ServerMetrics
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.peer import Peer
from kmsd.store import Store

from .auth_helpers import authentication, username_password
from .kmip_builders import Response, attributes, bstr, enum, integer, name_value, request, s, text

KEY = bytes(range(32))
ALICE = Peer(identity="alice", address="127.0.0.1:1111", certificate_der=b"cert")
BOB = Peer(identity="bob", address="127.0.0.1:2222", certificate_der=b"cert")
V2 = (2, 1)


# -- building audit files ----------------------------------------------------------------------


def write_log(path: Path, count: int, *, mac_every: int = 5, rotate_bytes: int = 1 << 30, keep: int = 10) -> None:
    """``count`` operation records through the real pipeline, then a clean close (final MAC)."""
    sink = FileSink(path, rotate_bytes=rotate_bytes, keep=keep)
    logger = AuditLogger([sink], mac=MacSigner(KEY, mac_every), head=sink.recover())
    for i in range(count):
        logger.emit({"event": "kmip.operation", "user": f"user{i % 3}", "operation": "Get", "result": "success"})
    logger.close()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def rewrite(path: Path, new: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in new))


def check(*paths: Path, key: bytes | None = KEY) -> Any:
    return verify(list(paths), key)


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write_log(path, 20)
    return path


def test_records_chain_and_macs(log_file: Path) -> None:
    records = [json.loads(line) for line in lines(log_file)]
    # 20 records, a MAC after every 5 (the last one doubles as the shutdown seal).
    assert len(records) == 24
    assert [r["seq"] for r in records] == list(range(1, 25))
    assert records[0]["prev"] == GENESIS
    for before, after, raw in zip(records, records[1:], lines(log_file), strict=False):
        assert after["prev"] == digest(raw)
        assert canonical(before) == raw
    macs = [r for r in records if r["event"] == MAC_EVENT]
    assert [m["seq"] for m in macs] == [6, 12, 18, 24] and all(m["covers"] == 5 for m in macs)
    report = check(log_file)
    assert report.ok and report.records == 24 and report.macs_checked == 4 and report.unauthenticated_tail == 0


def test_cli_verify_ok_and_exit_status(log_file: Path) -> None:
    key_file = log_file.parent / "audit.key"
    key_file.write_text(KEY.hex() + "\n")
    result = CliRunner().invoke(audit_group, ["verify", "--key", str(key_file), str(log_file)])
    assert result.exit_code == 0, result.output
    assert "OK: chain holds over 24 record(s)" in result.output and "4 MAC record(s) verified" in result.output
    rewrite(log_file, [line.replace('"user1"', '"mallory"') for line in lines(log_file)])
    result = CliRunner().invoke(audit_group, ["verify", "--key", str(key_file), str(log_file)])
    assert result.exit_code == 1
    assert f"BROKEN: {log_file}:2 (seq 2): edited" in result.output


def test_cli_verify_needs_the_key_or_skip_mac(log_file: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(audit_group, ["verify", "--data-dir", str(tmp_path / "none"), str(log_file)])
    assert result.exit_code == 2 and "no audit key" in result.output
    result = CliRunner().invoke(audit_group, ["verify", "--skip-mac", str(log_file)])
    assert result.exit_code == 0 and "4 not checked (no key)" in result.output


def test_edited_record_is_named(log_file: Path) -> None:
    content = lines(log_file)
    content[7] = content[7].replace('"success"', '"failure"')  # line 8, seq 8
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert (problem.kind, problem.line, problem.seq) == ("edited", 8, 8)


def test_edited_last_record_is_caught_by_the_final_mac(log_file: Path) -> None:
    content = lines(log_file)
    content[-1] = content[-1].replace('"covers":5', '"covers":4')
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert (problem.kind, problem.line) == ("mac", 24)


def test_hand_reformatted_line_is_edited(log_file: Path) -> None:
    content = lines(log_file)
    content[2] = json.dumps(json.loads(content[2]))  # same content, spaces added
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert (problem.kind, problem.line) == ("edited", 3)


def test_deleted_record_is_named(log_file: Path) -> None:
    content = lines(log_file)
    del content[9]  # seq 10
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert (problem.kind, problem.line, problem.seq) == ("deleted", 10, 11)
    assert "seq 10 missing" in problem.detail


def test_several_deleted_records(log_file: Path) -> None:
    content = lines(log_file)
    del content[3:6]  # seq 4..6
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert problem.kind == "deleted" and "seq 4..6 missing" in problem.detail and problem.line == 4


def test_inserted_forged_record_is_named(log_file: Path) -> None:
    content = lines(log_file)
    forged = json.loads(content[4])
    forged.update(user="mallory", seq=6, prev=digest(content[4]))  # chains perfectly to line 5
    content.insert(5, canonical(forged))
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert (problem.kind, problem.line) == ("inserted", 6)


def test_inserted_copy_of_another_record(log_file: Path) -> None:
    content = lines(log_file)
    content.insert(3, content[10])
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert (problem.kind, problem.line) == ("inserted", 4)


def test_reordered_records_are_named(log_file: Path) -> None:
    content = lines(log_file)
    content[12], content[13] = content[13], content[12]  # seq 13 and 14 swapped
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert (problem.kind, problem.line, problem.seq) == ("reordered", 13, 14)


def test_record_moved_far_is_reordered(log_file: Path) -> None:
    content = lines(log_file)
    moved = content.pop(2)  # seq 3 moved to the end of the file
    content.append(moved)
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert (problem.kind, problem.line) == ("reordered", 3)


def test_rechained_edit_is_caught_by_the_mac(log_file: Path) -> None:
    """An intruder without the key edits seq 8 and recomputes every hash after it."""
    records = [json.loads(line) for line in lines(log_file)]
    records[7]["user"] = "mallory"
    out: list[str] = []
    for i, record in enumerate(records):
        if i:
            record["prev"] = digest(out[-1])
        out.append(canonical(record))
    rewrite(log_file, out)
    problem = check(log_file).problem
    assert (problem.kind, problem.line, problem.seq) == ("mac", 12, 12)
    # Without the key only the chain is checked, and the rewrite holds: that is what the MAC is for.
    assert check(log_file, key=None).ok


def test_wrong_key_fails(log_file: Path) -> None:
    problem = check(log_file, key=b"\x01" * 32).problem
    assert problem.kind == "wrong_key" and problem.line == 6


def test_first_record_must_start_from_genesis(log_file: Path) -> None:
    content = lines(log_file)
    first = json.loads(content[0])
    first["prev"] = "1" * 64
    content[0] = canonical(first)
    rewrite(log_file, content)
    problem = check(log_file).problem
    assert (problem.kind, problem.line) == ("edited", 1)


def test_garbage_and_torn_lines(log_file: Path) -> None:
    content = lines(log_file)
    content[4] = "not json"
    rewrite(log_file, content)
    assert check(log_file).problem.kind == "malformed"
    log_file.write_text("\n".join(lines(log_file)[:3]) + "\n" + '{"seq":4,')
    problem = check(log_file).problem
    assert (problem.kind, problem.line) == ("malformed", 4) and "incomplete" in problem.detail


def test_truncated_tail_is_reported_as_unauthenticated(log_file: Path) -> None:
    rewrite(log_file, lines(log_file)[:-3])  # the last MAC and two records gone
    report = check(log_file)
    assert report.ok and report.unauthenticated_tail == 3
    assert any("last 3 record(s) follow the last MAC" in note for note in report.notes)


def test_chain_continues_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 7)
    write_log(path, 7)
    report = check(path)
    assert report.ok and report.records == 2 * (7 + 2)  # 7 records, a MAC after 5, a seal at close


def test_torn_line_after_a_crash_is_isolated(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    with path.open("a") as fh:
        fh.write('{"event":"kmip.oper')  # the process died mid-write
    write_log(path, 3)
    report = check(path)
    assert report.problem is not None and report.problem.kind == "malformed"
    assert lines(path)[4] == '{"event":"kmip.oper'
    # The records after the torn line chain to the last complete one.
    assert json.loads(lines(path)[5])["prev"] == digest(lines(path)[3])


# -- rotated sets ------------------------------------------------------------------------------------


@pytest.fixture
def rotated(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    write_log(directory / "audit.jsonl", 60, mac_every=7, rotate_bytes=2048, keep=20)
    return directory


def test_rotation_keeps_one_chain(rotated: Path) -> None:
    files = audit_files([rotated])
    assert len(files) >= 4
    assert files[-1].name == "audit.jsonl" and files[0].name.endswith(f".{len(files) - 1}")
    assert all(f.stat().st_size <= 2048 for f in files)
    # The first record of each file chains to the last of the previous one.
    for older, newer in itertools.pairwise(files):
        assert json.loads(lines(newer)[0])["prev"] == digest(lines(older)[-1])
    report = check(rotated)
    assert report.ok and report.records == 60 + 60 // 7 + 1 and len(report.files) == len(files)
    result = CliRunner().invoke(audit_group, ["verify", "--skip-mac", str(rotated)])
    assert result.exit_code == 0 and f"in {len(files)} file(s)" in result.output


def test_deleted_rotated_file_is_named(rotated: Path) -> None:
    files = audit_files([rotated])
    gone = files[1]
    first_seq_gone = json.loads(lines(gone)[0])["seq"]
    gone.unlink()
    problem = check(*[f for f in files if f != gone]).problem
    assert problem.kind == "deleted" and problem.file == files[2] and problem.line == 1
    assert f"seq {first_seq_gone}.." in problem.detail


def test_edit_in_a_rotated_file_is_named(rotated: Path) -> None:
    files = audit_files([rotated])
    target = files[1]
    content = lines(target)
    content[-2] = content[-2].replace('"Get"', '"Destroy"')
    rewrite(target, content)
    problem = check(rotated).problem
    assert (problem.kind, problem.file, problem.line) == ("edited", target, len(content) - 1)


def test_last_line_of_a_rotated_file_edited(rotated: Path) -> None:
    files = audit_files([rotated])
    target = files[0]
    content = lines(target)
    content[-1] = content[-1].replace('"v":1', '"v":2')
    rewrite(target, content)
    problem = check(rotated).problem
    assert problem.file == target and problem.line == len(content) and problem.kind in ("edited", "mac")


def test_rotated_files_given_out_of_order(rotated: Path) -> None:
    files = audit_files([rotated])
    swapped = [files[1], files[0], *files[2:]]
    problem = check(*swapped).problem
    assert problem.kind in ("reordered", "inserted") and problem.file == files[0] and problem.line == 1


def test_records_moved_between_rotated_files(rotated: Path) -> None:
    files = audit_files([rotated])
    a, b = lines(files[1]), lines(files[2])
    b.insert(0, a.pop())  # the last record of one file moved to the start of the next
    rewrite(files[1], a)
    rewrite(files[2], b)
    assert check(rotated).ok  # the same order, split differently: nothing was changed
    b[0], b[1] = b[1], b[0]
    rewrite(files[2], b)
    problem = check(rotated).problem
    assert (problem.kind, problem.file, problem.line) == ("reordered", files[2], 1)


# -- pipeline, sinks, capture --------------------------------------------------------------------------


def test_allow_list_drops_unknown_fields() -> None:
    with capture_audit() as records:
        AuditLogger().emit({"event": "kmip.operation", "key_material": "00ff", "password": "x", "user": "u"})
    assert "key_material" not in records[0] and "password" not in records[0] and records[0]["user"] == "u"
    assert allow_listed({"event": "e", "payload": 1}) == {"event": "e"}


def test_capture_nests_and_filters_macs() -> None:
    logger = AuditLogger(mac=MacSigner(KEY, 2))
    with capture_audit() as outer, capture_audit(include_mac=True) as inner:
        logger.emit_many([{"event": "a"}, {"event": "b"}, {"event": "c"}])
    assert [r["event"] for r in outer] == ["a", "b", "c"]
    assert [r["event"] for r in inner] == ["a", "b", MAC_EVENT, "c"]
    assert [r["seq"] for r in inner] == [1, 2, 3, 4]


def test_failing_sink_is_counted_and_others_still_write() -> None:
    class Broken:
        name = "file"

        def write(self, line: str) -> None:
            raise OSError("disk full")

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    metrics = ServerMetrics()
    stream = io.StringIO()
    logger = AuditLogger(
        [Broken(), StreamSink(stream)], on_sink_error=lambda sink, _: metrics.audit_sink_errors.inc(sink=sink)
    )
    logger.emit({"event": "x"})
    logger.emit({"event": "y"})
    assert metrics.audit_sink_errors.value(sink="file") == 2
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["x", "y"]


def test_syslog_sink_over_udp_loopback() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    try:
        sink = SyslogSink(f"udp:127.0.0.1:{receiver.getsockname()[1]}")
        AuditLogger([sink]).emit({"event": "kmip.operation", "user": "alice"})
        data = receiver.recv(65536).decode()
    finally:
        receiver.close()
    # <PRI>: facility auth (4) * 8 + info (6) = 38.
    assert data.startswith("<38>kmsd-audit: {") and '"user":"alice"' in data


def test_syslog_sink_over_a_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(5)
    try:
        AuditLogger([SyslogSink(path)]).emit({"event": "tls.handshake_failure"})
        assert b'"event":"tls.handshake_failure"' in receiver.recv(65536)
    finally:
        receiver.close()


def test_key_file_is_created_once_0600(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    assert len(key) == 32 and (tmp_path / "audit.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(tmp_path) == key


def test_search(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    logger = AuditLogger([FileSink(path)], mac=MacSigner(KEY, 2))
    logger.emit_many(
        [
            {"event": "kmip.operation", "user": "alice", "operation": "Create", "object_ids": ["k1"],
             "result": "success", "time": "2026-01-01T10:00:00.000000Z"},
            {"event": "kmip.operation", "user": "bob", "operation": "Get Attributes", "object_ids": ["k1"],
             "result": "failure", "time": "2026-01-02T10:00:00.000000Z"},
            {"event": "kmip.operation", "user": "alice", "operation": "Destroy", "object_ids": ["k2"],
             "result": "success", "time": "2026-01-03T10:00:00.000000Z"},
        ]
    )  # fmt: skip
    logger.close()

    def run(*args: str) -> list[dict[str, Any]]:
        result = CliRunner().invoke(audit_group, ["search", *args, str(path)])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]

    assert [r["operation"] for r in run("--user", "alice")] == ["Create", "Destroy"]
    assert [r["user"] for r in run("--object", "k1")] == ["alice", "bob"]
    assert [r["user"] for r in run("--operation", "GetAttributes")] == ["bob"]
    assert [r["user"] for r in run("--result", "failure")] == ["bob"]
    assert [r["operation"] for r in run("--since", "2026-01-02", "--until", "2026-01-02T23:00:00+00:00")] == [
        "Get Attributes"
    ]
    assert run("--user", "carol") == []
    assert len(run()) == 3  # MAC records are not search results


# -- the executor in process -----------------------------------------------------------------------------


@pytest.fixture
def audited(tmp_path: Path, executor_store: Store) -> Iterator[tuple[Executor, AuditLogger, ServerMetrics, Path]]:
    store = executor_store  # on every backend (tests/db_fixtures.py)
    path = tmp_path / "audit" / "audit.jsonl"
    metrics = ServerMetrics()
    logger = AuditLogger([FileSink(path)], mac=MacSigner(KEY, 10), on_record=lambda _: metrics.audit_records.inc())
    executor = Executor(store, ExecutorSettings(observer=ServerObserver(logger, metrics)))
    yield executor, logger, metrics, path
    logger.close()


def call(ex: Executor, data: bytes, peer: Peer = ALICE) -> Response:
    out = ex.process(data, peer)
    assert out is not None
    return Response(out)


def create_request(name: str = "k") -> bytes:
    mask = CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT
    attrs = attributes(
        V2,
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", 256),
        integer("Cryptographic Usage Mask", mask),
        name_value(name),
    )
    return request(V2, (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs]))


def test_one_record_per_item_with_the_facts(audited: tuple[Executor, AuditLogger, ServerMetrics, Path]) -> None:
    executor, _, _, _ = audited
    with capture_audit() as records:
        uid = call(executor, create_request()).get("Unique Identifier")
        call(executor, request(V2, (Operation.GET, [text("Unique Identifier", uid)])))
        call(executor, request(V2, (Operation.GET, [text("Unique Identifier", "no-such-key")])))
    create, get, missing = records
    assert create["event"] == "kmip.operation" and create["operation"] == "Create"
    assert create["user"] == "alice" and create["auth"] == "mtls" and create["source"] == "127.0.0.1:1111"
    assert create["protocol"] == "kmip" and create["version"] == "2.1" and create["result"] == "success"
    assert create["object_ids"] == [uid] and create["object_types"] == ["Symmetric Key"]
    assert create["item"] == 0 and create["items"] == 1 and create["duration_ms"] >= 0
    assert get["object_ids"] == [uid] and get["object_types"] == ["Symmetric Key"]
    assert missing["result"] == "failure" and missing["reason"] == "Object Not Found"  # 2.x (1.x: Item Not Found)
    assert missing["object_ids"] == ["no-such-key"]
    assert len({create["request_id"], get["request_id"], missing["request_id"]}) == 3


def test_batch_items_share_a_request_id_and_stop_leaves_not_executed(
    audited: tuple[Executor, AuditLogger, ServerMetrics, Path],
) -> None:
    executor, _, _, _ = audited
    bad_get = (Operation.GET, [text("Unique Identifier", "missing")])
    data = request(
        V2,
        (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), create_request_attrs()]),
        bad_get,
        (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), create_request_attrs()]),
        header_extra=[enum("Batch Error Continuation Option", BatchErrorContinuation.UNDO)],
    )
    with capture_audit() as records:
        call(executor, data)
    assert [r["result"] for r in records] == ["undone", "failure", "not_executed"]
    assert len({r["request_id"] for r in records}) == 1 and [r["item"] for r in records] == [0, 1, 2]


def create_request_attrs() -> Any:
    return attributes(
        V2,
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", 128),
        integer("Cryptographic Usage Mask", CryptographicUsageMask.ENCRYPT),
    )


def test_permission_denied_and_refused_messages(audited: tuple[Executor, AuditLogger, ServerMetrics, Path]) -> None:
    executor, _, metrics, _ = audited
    uid = call(executor, create_request()).get("Unique Identifier")
    with capture_audit() as records:
        r = call(executor, request(V2, (Operation.GET, [text("Unique Identifier", uid)])), BOB)
        assert r.status() == ResultStatus.OPERATION_FAILED
        call(executor, request(V2, (Operation.GET, [])), Peer(identity=None, address="127.0.0.1:3"))
        call(executor, request((9, 9), (Operation.GET, [])))
    denied, anonymous, refused = records
    assert denied["event"] == "kmip.permission_denied" and denied["user"] == "bob" and denied["object_ids"] == [uid]
    assert anonymous["event"] == "kmip.authentication_failure" and "user" not in anonymous
    assert refused["event"] == "kmip.request_refused" and refused["reason"] == "Invalid Message"
    assert metrics.permission_denials.value(protocol="kmip") == 1
    assert metrics.authentication_failures.value(protocol="kmip") == 1


def test_no_secret_reaches_the_audit_output(audited: tuple[Executor, AuditLogger, ServerMetrics, Path]) -> None:
    """A run with known key bytes, a password secret and a KMIP credential; then grep for them."""
    executor, logger, _, path = audited
    key_bytes = bytes.fromhex("8f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0")
    password = b"correct horse battery staple 42"
    credential_password = "s3cr3t-credential-pw"
    auth = [authentication(username_password("alice", credential_password))]
    symmetric = s(
        "Symmetric Key",
        s(
            "Key Block",
            enum("Key Format Type", KeyFormatType.RAW),
            s("Key Value", bstr("Key Material", key_bytes)),
            enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
            integer("Cryptographic Length", 256),
        ),
    )
    secret = s(
        "Secret Data",
        enum("Secret Data Type", SecretDataType.PASSWORD),
        s("Key Block", enum("Key Format Type", KeyFormatType.OPAQUE), s("Key Value", bstr("Key Material", password))),
    )
    usage = integer("Cryptographic Usage Mask", CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT)
    uids = []
    for object_type, body, attrs in (
        (ObjectType.SYMMETRIC_KEY, symmetric, attributes(V2, usage)),
        (ObjectType.SECRET_DATA, secret, attributes(V2)),
    ):
        r = call(
            executor,
            request(V2, (Operation.REGISTER, [enum("Object Type", object_type), attrs, body]), header_extra=auth),
        )
        assert r.status() == ResultStatus.SUCCESS, r.message()
        uids.append(r.get("Unique Identifier"))
    for uid in uids:
        r = call(executor, request(V2, (Operation.GET, [text("Unique Identifier", uid)]), header_extra=auth))
        assert r.status() == ResultStatus.SUCCESS
    call(executor, create_request())
    logger.close()
    text_out = path.read_text()
    assert text_out.count("\n") >= 5 and all(uid in text_out for uid in uids)
    forms = [
        key_bytes.hex(),
        key_bytes.hex().upper(),
        base64.b64encode(key_bytes).decode(),
        base64.urlsafe_b64encode(key_bytes).decode().rstrip("="),
        password.decode(),
        password.hex(),
        base64.b64encode(password).decode(),
        credential_password,
    ]
    for form in forms:
        assert form not in text_out, form
        assert form[:16] not in text_out, form  # not even a prefix


def test_threads_keep_the_chain_linear_and_count_every_item(
    audited: tuple[Executor, AuditLogger, ServerMetrics, Path],
) -> None:
    """8 threads x 50 mixed requests: every item recorded exactly once, one linear chain."""
    executor, logger, metrics, path = audited
    expected: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        peer = Peer(identity=f"user{n}", address=f"127.0.0.1:{4000 + n}", certificate_der=b"c")
        try:
            uid = None
            for i in range(50):
                kind = i % 5
                if kind == 0 or uid is None:
                    r = call(executor, create_request(f"t{n}-{i}"), peer)
                    uid = r.get("Unique Identifier")
                    ops = ["Create"]
                elif kind == 1:
                    call(executor, request(V2, (Operation.GET, [text("Unique Identifier", uid)])), peer)
                    ops = ["Get"]
                elif kind == 2:
                    get = (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])
                    call(executor, request(V2, get, (Operation.GET, [text("Unique Identifier", uid)])), peer)
                    ops = ["Get Attributes", "Get"]
                elif kind == 3:
                    call(executor, request(V2, (Operation.LOCATE, [])), peer)
                    ops = ["Locate"]
                else:
                    call(executor, request(V2, (Operation.GET, [text("Unique Identifier", "nope")])), peer)
                    ops = ["Get"]
                with lock:
                    expected.update(f"user{n}/{op}" for op in ops)
        except BaseException as exc:
            errors.append(exc)

    with capture_audit() as records:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert not errors, errors
    got = Counter(f"{r['user']}/{r['operation']}" for r in records)
    assert got == expected and sum(got.values()) == 8 * 50 + 8 * 10
    # Each request's items sit together, in order, and no request id repeats elsewhere.
    by_request: dict[str, list[int]] = {}
    for r in records:
        by_request.setdefault(r["request_id"], []).append(r["item"])
    assert all(items == list(range(len(items))) for items in by_request.values())
    assert len(by_request) == 8 * 50
    logger.close()
    report = verify([path], KEY)
    assert report.ok, report.summary()
    file_records = [json.loads(line) for line in lines(path)]
    assert [r["seq"] for r in file_records] == list(range(1, len(file_records) + 1))
    assert sum(1 for r in file_records if r["event"] != MAC_EVENT) == sum(expected.values())
    assert metrics.audit_records.value() == len(file_records)
    total = sum(
        metrics.requests.value(protocol="kmip", operation=op, version="2.1", result=res)
        for op in ("Create", "Get", "Get Attributes", "Locate")
        for res in ("success", "failure")
    )
    assert total == sum(expected.values())
