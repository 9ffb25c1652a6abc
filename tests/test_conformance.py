"""The OASIS conformance harness: its rules on hand-made messages, its runner on
hand-written case files (tests/conformance_cases/, not OASIS files), and the
OASIS test cases themselves against a server started here.

The rules are tested through :class:`conformance.compare.Comparer` with small
XML snippets; every test says which permitted variation (or which strictness)
it pins down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import ttlv
from conformance import expected as exp
from conformance import rules
from conformance.bindings import Bindings, Unbound
from conformance.cases import discover, load, profile_of, version_from_name
from conformance.cli import main
from conformance.compare import Comparer, Mismatch
from conformance.runner import run_all, run_path
from conformance.transport import InProcessTransport, ServerProcess, TlsTransport
from ttlv import Item

from .db_fixtures import Database

HERE = Path(__file__).parent
OWN_CASES = HERE / "conformance_cases"
OASIS = Path(__file__).parents[1].parent / "shared" / "kmip-testcases"
needs_oasis = pytest.mark.skipif(not OASIS.is_dir(), reason=f"OASIS test cases not present at {OASIS}")


# -- helpers ---------------------------------------------------------------------
def header(kind: str, version: tuple[int, int], count: int = 1, extra: str = "") -> str:
    major, minor = version
    return (
        f"<{kind}><ProtocolVersion><ProtocolVersionMajor type='Integer' value='{major}'/>"
        f"<ProtocolVersionMinor type='Integer' value='{minor}'/></ProtocolVersion>{extra}"
        f"<BatchCount type='Integer' value='{count}'/></{kind}>"
    )


def response(payload: str, op: str = "GetAttributes", version: tuple[int, int] = (1, 4), head: str = "") -> Item:
    stamp = "<TimeStamp type='DateTime' value='$NOW'/>" + head
    return ttlv.xml.decode(
        f"<ResponseMessage>{header('ResponseHeader', version, extra=stamp)}<BatchItem>"
        f"<Operation type='Enumeration' value='{op}'/><ResultStatus type='Enumeration' value='Success'/>"
        f"<ResponsePayload>{payload}</ResponsePayload></BatchItem></ResponseMessage>"
    )


def request(payload: str, op: str = "GetAttributes", version: tuple[int, int] = (1, 4)) -> Item:
    return ttlv.xml.decode(
        f"<RequestMessage>{header('RequestHeader', version)}<BatchItem>"
        f"<Operation type='Enumeration' value='{op}'/><RequestPayload>{payload}</RequestPayload>"
        "</BatchItem></RequestMessage>"
    )


def attr(name: str, value: str, kind: str = "TextString", index: int | None = None) -> str:
    idx = f"<AttributeIndex type='Integer' value='{index}'/>" if index is not None else ""
    return (
        f"<Attribute><AttributeName type='TextString' value='{name}'/>{idx}"
        f"<AttributeValue type='{kind}' value='{value}'/></Attribute>"
    )


UID = "<UniqueIdentifier type='TextString' value='{}'/>"


def compare(expected: Item, actual: Item, req: Item | None = None, bindings: Bindings | None = None) -> Mismatch | None:
    bindings = bindings or Bindings()
    comparer = Comparer(bindings, ttlv.xml.item_version(expected) or ttlv.LATEST)
    mismatch = comparer.response(1, expected, actual, req or request(""))
    if mismatch is None:
        bindings.commit(comparer.new, comparer.literals)
    return mismatch


# -- placeholders ----------------------------------------------------------------------
def test_identifier_binds_from_the_first_response_then_must_match() -> None:
    bindings = Bindings()
    assert compare(response(UID.format("$UNIQUE_IDENTIFIER_0")), response(UID.format("abc")), bindings=bindings) is None
    assert bindings.values["$UNIQUE_IDENTIFIER_0"] == "abc"
    mismatch = compare(response(UID.format("$UNIQUE_IDENTIFIER_0")), response(UID.format("xyz")), bindings=bindings)
    assert mismatch is not None
    assert mismatch.where == "msg 1 / BatchItem[0] / ResponsePayload / UniqueIdentifier"
    assert "abc" in mismatch.expected and "xyz" in mismatch.actual


def test_bound_identifier_is_substituted_into_later_requests() -> None:
    bindings = Bindings()
    bindings.commit({"$UNIQUE_IDENTIFIER_1": "id-1"}, {})
    prepared = bindings.prepare(request(UID.format("$UNIQUE_IDENTIFIER_1")))
    assert [i.value for i in prepared.walk() if i.tag == rules.UNIQUE_IDENTIFIER] == ["id-1"]


def test_unbound_identifier_in_a_request_is_an_error() -> None:
    with pytest.raises(Unbound):
        Bindings().prepare(request(UID.format("$UNIQUE_IDENTIFIER_3")))


def test_random_identifier_gets_a_fresh_value_once() -> None:
    bindings = Bindings()
    first = bindings.prepare(request(UID.format("$UNIQUE_IDENTIFIER_RANDOM_0")))
    second = bindings.prepare(request(UID.format("$UNIQUE_IDENTIFIER_RANDOM_0")))
    value = [i.value for i in first.walk() if i.tag == rules.UNIQUE_IDENTIFIER]
    assert value == [i.value for i in second.walk() if i.tag == rules.UNIQUE_IDENTIFIER]
    assert isinstance(value[0], str) and not value[0].startswith("$")


def test_now_in_a_request_is_now_plus_the_offset() -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    req = request(attr("Activation Date", "$NOW-3600", "DateTime") + attr("Deactivation Date", "$NOW+60", "DateTime"))
    prepared = Bindings().prepare(req, now)
    dates = [i.value for i in prepared.walk() if i.type is ttlv.ItemType.DATE_TIME]
    assert dates == [now - timedelta(hours=1), now + timedelta(seconds=60)]


def test_now_in_a_response_is_any_time() -> None:
    expected = response(attr("Activation Date", "$NOW-3600", "DateTime"))
    actual = response(attr("Activation Date", "1999-12-31T00:00:00+00:00", "DateTime"))
    assert compare(expected, actual) is None


def test_other_placeholders_carry_the_latest_actual_value_of_their_tag() -> None:
    # An Encrypt response printed its random IV as a literal; the next Decrypt sends $IV_COUNTER_NONCE.
    bindings = Bindings()
    bindings.observe(response("<IVCounterNonce type='ByteString' value='0a0b'/>", op="Encrypt"))
    prepared = bindings.prepare(request("<IVCounterNonce type='ByteString' value='$IV_COUNTER_NONCE'/>", op="Decrypt"))
    assert [i.value for i in prepared.walk() if i.tag == rules.tag("IV/Counter/Nonce")] == [b"\x0a\x0b"]


def test_a_literal_identifier_printed_in_a_response_is_replaced_in_later_requests() -> None:
    bindings = Bindings()
    assert compare(response(UID.format("printed-1")), response(UID.format("actual-1")), bindings=bindings) is None
    prepared = bindings.prepare(request(UID.format("printed-1")))
    assert [i.value for i in prepared.walk() if i.tag == rules.UNIQUE_IDENTIFIER] == ["actual-1"]


# -- variable items and values -----------------------------------------------------------
def test_time_stamp_result_message_and_correlation_values_are_free() -> None:
    expected = response("", op="Get", version=(2, 1), head="<ServerCorrelationValue type='TextString' value='x'/>")
    actual = ttlv.xml.decode(
        "<ResponseMessage>"
        + header("ResponseHeader", (2, 1), extra="<TimeStamp type='DateTime' value='2001-01-01T00:00:00+00:00'/>")
        + "<BatchItem><Operation type='Enumeration' value='Get'/>"
        "<ResultStatus type='Enumeration' value='Success'/><ResultMessage type='TextString' value='fine'/>"
        "<ResponsePayload/></BatchItem></ResponseMessage>"
    )
    assert compare(expected, actual) is None


def test_enumerations_are_compared_by_value_with_the_path() -> None:
    mismatch = compare(
        response(attr("State", "Active", "Enumeration")), response(attr("State", "PreActive", "Enumeration"))
    )
    assert mismatch is not None
    assert mismatch.where == "msg 1 / BatchItem[0] / ResponsePayload / Attribute[State] / AttributeValue"
    assert "Active" in mismatch.expected and "PreActive" in mismatch.actual


def test_masks_are_compared_as_integers_whatever_their_spelling() -> None:
    expected = response(attr("Cryptographic Usage Mask", "Encrypt Decrypt", "Integer"))
    assert compare(expected, response(attr("Cryptographic Usage Mask", "Decrypt   Encrypt", "Integer"))) is None
    assert compare(expected, response(attr("Cryptographic Usage Mask", "0x0000000C", "Integer"))) is None
    assert compare(expected, response(attr("Cryptographic Usage Mask", "Encrypt", "Integer"))) is not None


def test_server_set_dates_are_variable_unless_the_client_set_them() -> None:
    expected = response(attr("Initial Date", "2012-01-01T00:00:00+00:00", "DateTime"))
    actual = response(attr("Initial Date", "2030-01-01T00:00:00+00:00", "DateTime"))
    assert compare(expected, actual) is None
    bindings = Bindings()
    bindings.prepare(request(attr("Activation Date", "2012-01-01T00:00:00+00:00", "DateTime"), op="Create"))
    expected = response(attr("Activation Date", "2012-01-01T00:00:00+00:00", "DateTime"))
    actual = response(attr("Activation Date", "2030-01-01T00:00:00+00:00", "DateTime"))
    assert compare(expected, actual, bindings=bindings) is not None


def key_block(material: str) -> str:
    return (
        "<SymmetricKey><KeyBlock><KeyFormatType type='Enumeration' value='Raw'/><KeyValue>"
        f"<KeyMaterial type='ByteString' value='{material}'/></KeyValue></KeyBlock></SymmetricKey>"
    )


def test_key_material_is_compared_only_when_the_client_supplied_it() -> None:
    assert compare(response(key_block("aaaa"), op="Get"), response(key_block("bbbb"), op="Get")) is None
    bindings = Bindings()
    bindings.prepare(request(key_block("aaaa"), op="Register"))
    mismatch = compare(response(key_block("aaaa"), op="Get"), response(key_block("bbbb"), op="Get"), bindings=bindings)
    assert mismatch is not None and mismatch.where.endswith("KeyValue / KeyMaterial")


def test_key_format_type_is_free_unless_the_request_asked_for_one() -> None:
    actual = response(key_block("aaaa").replace("'Raw'", "'TransparentSymmetricKey'"), op="Get")
    assert compare(response(key_block("aaaa"), op="Get"), actual) is None
    asked = request("<KeyFormatType type='Enumeration' value='Raw'/>", op="Get")
    assert compare(response(key_block("aaaa"), op="Get"), actual, req=asked) is not None


# -- structure and sets -------------------------------------------------------------------
def test_1x_attributes_are_a_subset_in_any_order() -> None:
    expected = response(attr("Cryptographic Length", "128", "Integer") + attr("State", "Active", "Enumeration"))
    actual = response(
        attr("State", "Active", "Enumeration")
        + attr("Object Group", "g")
        + attr("y-server", "s")
        + attr("Cryptographic Length", "128", "Integer", index=0)
    )
    assert compare(expected, actual) is None


def test_a_missing_attribute_is_reported_by_name() -> None:
    expected = response(attr("Cryptographic Length", "128", "Integer") + attr("Name", "n"))
    actual = response(attr("Cryptographic Length", "128", "Integer"))
    mismatch = compare(expected, actual)
    assert mismatch is not None
    assert mismatch.where == "msg 1 / BatchItem[0] / ResponsePayload / Attribute[Name]"
    assert mismatch.actual == "absent"


def test_attribute_index_zero_may_be_present_or_absent_but_not_another_index() -> None:
    assert compare(response(attr("Name", "n", index=0)), response(attr("Name", "n"))) is None
    assert compare(response(attr("Name", "n")), response(attr("Name", "n", index=0))) is None
    assert compare(response(attr("Name", "n", index=1)), response(attr("Name", "n"))) is not None


def test_2x_attributes_structure_is_a_subset() -> None:
    expected = response(
        "<Attributes><State type='Enumeration' value='Active'/>"
        "<CryptographicLength type='Integer' value='128'/></Attributes>",
        version=(2, 1),
    )
    actual = response(
        "<Attributes><CryptographicLength type='Integer' value='128'/><ObjectGroup type='TextString' value='g'/>"
        "<State type='Enumeration' value='Active'/></Attributes>",
        version=(2, 1),
    )
    assert compare(expected, actual) is None
    wrong = ttlv.xml.encode(actual).replace('value="128"', 'value="256"')
    mismatch = compare(expected, ttlv.xml.decode(wrong))
    assert mismatch is not None
    assert mismatch.where == "msg 1 / BatchItem[0] / ResponsePayload / Attributes / CryptographicLength"


def test_an_unexpected_item_outside_the_permitted_variations_fails() -> None:
    mismatch = compare(
        response(UID.format("u")), response(UID.format("u") + "<LocatedItems type='Integer' value='1'/>")
    )
    assert mismatch is not None and mismatch.where.endswith("LocatedItems") and mismatch.expected == "absent"


def test_query_lists_may_be_supersets() -> None:
    ops = "".join(f"<Operation type='Enumeration' value='{o}'/>" for o in ("Create", "Get", "Destroy"))
    expected = response("<Operation type='Enumeration' value='Get'/>", op="Query")
    assert compare(expected, response(ops, op="Query")) is None
    assert compare(response(ops, op="Query"), expected) is not None


def test_locate_results_bind_in_any_order_but_must_be_complete() -> None:
    bindings = Bindings()
    bindings.commit({"$UNIQUE_IDENTIFIER_0": "a"}, {})
    expected = response(UID.format("$UNIQUE_IDENTIFIER_1") + UID.format("$UNIQUE_IDENTIFIER_0"), op="Locate")
    assert compare(expected, response(UID.format("a") + UID.format("b"), op="Locate"), bindings=bindings) is None
    assert bindings.values["$UNIQUE_IDENTIFIER_1"] == "b"
    assert compare(
        expected, response(UID.format("a") + UID.format("b") + UID.format("c"), op="Locate"), bindings=bindings
    )


def test_a_failed_status_shows_the_reason_and_message() -> None:
    actual = ttlv.xml.decode(
        "<ResponseMessage>"
        + header("ResponseHeader", (1, 4), extra="<TimeStamp type='DateTime' value='$NOW'/>")
        + "<BatchItem><Operation type='Enumeration' value='Get'/><ResultStatus type='Enumeration' "
        "value='OperationFailed'/><ResultReason type='Enumeration' value='ItemNotFound'/>"
        "<ResultMessage type='TextString' value='no such object'/></BatchItem></ResponseMessage>"
    )
    mismatch = compare(response(UID.format("u"), op="Get"), actual)
    assert mismatch is not None and mismatch.where == "msg 1 / BatchItem[0] / ResultStatus"
    assert "ItemNotFound" in mismatch.actual and "no such object" in mismatch.actual


def test_a_bend_silences_one_path_of_one_file() -> None:
    comparer = Comparer(Bindings(), (1, 4), (rules.Bend("msg 1 / BatchItem[0] / ResponsePayload / Attribute", "test"),))
    expected = response(attr("State", "Active", "Enumeration"))
    assert comparer.response(1, expected, response(attr("State", "PreActive", "Enumeration")), request("")) is None


# -- names and files ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stem", "profile", "version"),
    [
        ("SKLC-M-1-14", "SKLC", "1.4"),
        ("CS-AC-M-OAEP-10-21", "CS-AC", "2.1"),
        ("CS-RNG-O-1-21", "CS-RNG", "2.1"),
        ("SASED_M_1_10_storage_array_config", "SASED", "1.0"),
        ("TC_72_10_Unrecognized_Message_Extension", "TC", "1.0"),
        ("SUITEB_128-M-1-14", "SUITEB", "1.4"),
        ("TC-Q-CAP-1-14", "TC", "1.4"),
    ],
)
def test_profile_and_version_from_the_file_name(stem: str, profile: str, version: str) -> None:
    assert profile_of(stem) == profile
    assert version_from_name(stem) == version


def test_runs_of_spaces_in_attribute_names_are_collapsed() -> None:
    assert rules.clean_attribute_name("Cryptographic   Usage  Mask") == "Cryptographic Usage Mask"
    case = load(OWN_CASES / "OWN-LITERALS-1-10.xml")
    names = [i.value for i in case.exchanges[1].request.walk() if i.tag == rules.ATTRIBUTE_NAME]
    assert "Cryptographic Algorithm" in names


def test_expectations_give_the_four_statuses(tmp_path: Path) -> None:
    toml = tmp_path / "expected.toml"
    exp.write_toml(toml, {"A-M-1-14": "pass", "B-M-1-14": 'needs "x" (issue 9)'})
    loaded = exp.load(toml)
    assert loaded["A-M-1-14"].passes and not loaded["B-M-1-14"].passes
    assert loaded["B-M-1-14"].reason == 'needs "x" (issue 9)'
    assert exp.expectation(loaded, "unlisted").passes


# -- the runner on our own files ------------------------------------------------------------
@pytest.fixture
def in_process(database: Database) -> Iterator[InProcessTransport]:
    """On every backend (``database`` from tests/db_fixtures.py); SQLite as the CLI's default, a file per group."""
    url = None if database.kind == "sqlite" else database.url
    transport = InProcessTransport(non_fips=True, database_type=database.kind, database_url=url)
    yield transport
    transport.close()


def test_own_cases_pass_and_the_wrong_one_fails_at_its_path(in_process: InProcessTransport) -> None:
    results = {r.id: r for r in run_all(discover([OWN_CASES]), in_process)}
    assert set(results) == {"OWN-LITERALS-1-10", "OWN-PLACEHOLDERS-1-12", "OWN-SHAPES-1-21", "OWN-WRONG-1-21"}
    for case_id in ("OWN-LITERALS-1-10", "OWN-PLACEHOLDERS-1-12", "OWN-SHAPES-1-21"):
        assert results[case_id].passed, results[case_id].detail
    wrong = results["OWN-WRONG-1-21"]
    assert not wrong.passed
    assert wrong.where == "msg 2 / BatchItem[0] / ResponsePayload / Attributes / CryptographicLength"
    assert "256" in wrong.expected and "128" in wrong.actual


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        # The created key's length, inside the second batch item's key block.
        (
            '<CryptographicLength type="Integer" value="256"/>',
            '<CryptographicLength type="Integer" value="512"/>',
            "msg 4 / BatchItem[1] / ResponsePayload / SymmetricKey / KeyBlock / CryptographicLength",
        ),
        # Locate must find the registered object, not the created one.
        (
            '<ResponsePayload><UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/></ResponsePayload>\n'
            "  </BatchItem>\n</ResponseMessage>\n\n<RequestMessage>\n  <RequestHeader>\n    <ProtocolVersion>"
            '<ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="2"/>'
            '</ProtocolVersion>\n    <BatchCount type="Integer" value="1"/>\n  </RequestHeader>\n  <BatchItem>\n'
            '    <Operation type="Enumeration" value="Get"/>',
            '<ResponsePayload><UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_1"/></ResponsePayload>\n'
            "  </BatchItem>\n</ResponseMessage>\n\n<RequestMessage>\n  <RequestHeader>\n    <ProtocolVersion>"
            '<ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="2"/>'
            '</ProtocolVersion>\n    <BatchCount type="Integer" value="1"/>\n  </RequestHeader>\n  <BatchItem>\n'
            '    <Operation type="Enumeration" value="Get"/>',
            "msg 5 / BatchItem[0] / ResponsePayload / UniqueIdentifier",
        ),
        # The error's Result Reason is compared.
        ('value="ItemNotFound"', 'value="PermissionDenied"', "msg 6 / BatchItem[0] / ResultReason"),
    ],
)
def test_a_changed_expectation_fails_where_it_was_changed(
    in_process: InProcessTransport, tmp_path: Path, old: str, new: str, where: str
) -> None:
    text = (OWN_CASES / "OWN-PLACEHOLDERS-1-12.xml").read_text()
    assert text.count(old) == 1
    changed = tmp_path / "OWN-CHANGED-1-12.xml"
    changed.write_text(text.replace(old, new))
    result = run_path(changed, in_process)
    assert not result.passed
    assert result.where == where, result.detail


def test_cli_prints_lines_table_and_summary_and_sets_the_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "expected.toml"
    toml.write_text('[cases]\n"OWN-WRONG-1-21" = "a deliberately wrong expectation"\n')
    out_json = tmp_path / "r.json"
    status = main(["run", "--in-process", "--expected", str(toml), "--json", str(out_json), str(OWN_CASES)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert status == 0
    assert lines[-1] == "3 passed, 1 failed"
    assert any(line.startswith("XFAIL") and "OWN-WRONG-1-21" in line for line in lines)
    data = json.loads(out_json.read_text())
    assert data["passed"] == 3 and data["failed"] == 1 and data["unexpected_failures"] == []
    assert main(["run", "--in-process", "--no-expected", str(OWN_CASES)]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1] == "3 passed, 1 failed"


def test_tls_through_kmsd_serve() -> None:
    files = [*sorted(OWN_CASES.glob("OWN-[LPS]*.xml"))]
    if OASIS.is_dir():
        files += [OASIS / "1.4" / "mandatory" / "SKLC-M-1-14.xml", OASIS / "2.1" / "mandatory" / "SKLC-M-2-21.xml"]
    with ServerProcess(("--non-fips",)) as server:
        results = run_all(files, TlsTransport(server.tls_settings()))
    assert [r.detail for r in results if not r.passed] == []


# -- the OASIS test cases ----------------------------------------------------------------------
@needs_oasis
def test_oasis_cases_expected_to_pass_do_pass(in_process: InProcessTransport) -> None:
    expectations = exp.load(exp.DEFAULT_TOML)
    assert expectations, "conformance/expected.toml is missing"
    results = run_all(discover([OASIS]), in_process)
    failures = [f"{r.id}: {r.detail}" for r in results if not r.passed and exp.expectation(expectations, r.id).passes]
    assert failures == [], "\n".join(failures)
