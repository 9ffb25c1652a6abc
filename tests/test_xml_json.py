"""The XML and JSON encodings: every value type both ways, names, masks,
placeholders, the generic TTLV form, versions, and strict failure."""

from __future__ import annotations

import json as stdjson
from datetime import UTC, datetime
from typing import Any

import pytest

from ttlv import REGISTRY, DecodeError, EncodeError, Item, ItemType, Placeholder, structure
from ttlv import json as tjson
from ttlv import xml as txml

T = ItemType
tag = REGISTRY.tag

ACTIVATION_DATE = tag("Activation Date")
ATTRIBUTE = tag("Attribute")
ATTRIBUTE_NAME = tag("Attribute Name")
ATTRIBUTE_VALUE = tag("Attribute Value")
BATCH_COUNT = tag("Batch Count")
CRYPTO_ALGORITHM = tag("Cryptographic Algorithm")
HASHING_ALGORITHM = tag("Hashing Algorithm")
OBJECT_TYPE = tag("Object Type")
USAGE_MASK = tag("Cryptographic Usage Mask")
STORAGE_MASK = tag("Storage Status Mask")
NOW = datetime(2012, 4, 27, 8, 12, 24, tzinfo=UTC)


def xml_value(item: Item) -> str:
    """The ``value`` attribute XML writes for a single item."""
    text = txml.encode(item, (2, 1), indent=False)
    return text.split('value="', 1)[1].rsplit('"', 1)[0]


def message(version: tuple[int, int], *payload: Item) -> Item:
    """A request message in ``version`` whose batch item holds ``payload``."""
    pv = structure(
        tag("Protocol Version"),
        Item(tag("Protocol Version Major"), T.INTEGER, version[0]),
        Item(tag("Protocol Version Minor"), T.INTEGER, version[1]),
    )
    header = structure(tag("Request Header"), pv, Item(BATCH_COUNT, T.INTEGER, 1))
    batch = structure(tag("Batch Item"), structure(tag("Request Payload"), *payload))
    return structure(tag("Request Message"), header, batch)


def payload_of(msg: Item) -> tuple[Item, ...]:
    return msg.children[1].children[0].children


# ---------------------------------------------------------------------------
# each value type, both ways
# ---------------------------------------------------------------------------
CASES: list[tuple[Item, str, Any]] = [
    (Item(BATCH_COUNT, T.INTEGER, 10), "10", 10),
    (Item(BATCH_COUNT, T.INTEGER, -1), "-1", -1),
    (Item(tag("Usage Limits Count"), T.LONG_INTEGER, 2**60), str(2**60), "0x1000000000000000"),
    (Item(tag("Usage Limits Count"), T.LONG_INTEGER, -2), "-2", -2),
    (Item(tag("Usage Limits Count"), T.LONG_INTEGER, -(2**63)), str(-(2**63)), "0x8000000000000000"),
    (Item(tag("Modulus"), T.BIG_INTEGER, 0), "0000000000000000", "0x0000000000000000"),
    (Item(tag("Modulus"), T.BIG_INTEGER, -1), "ffffffffffffffff", "0xffffffffffffffff"),
    (Item(tag("Modulus"), T.BIG_INTEGER, 2**64 - 1), "0000000000000000" + "f" * 16, "0x0000000000000000" + "f" * 16),
    (Item(OBJECT_TYPE, T.ENUMERATION, 2), "SymmetricKey", "SymmetricKey"),
    (Item(OBJECT_TYPE, T.ENUMERATION, 0x80000001), "0x80000001", "0x80000001"),
    (Item(tag("Batch Order Option"), T.BOOLEAN, True), "true", True),
    (Item(tag("Batch Order Option"), T.BOOLEAN, False), "false", False),
    (
        Item(tag("Unique Identifier"), T.TEXT_STRING, 'a "quoted" <b> & c'),
        "a &quot;quoted&quot; &lt;b&gt; &amp; c",
        None,
    ),
    (Item(tag("Unique Identifier"), T.TEXT_STRING, "é\tline\nbreak"), "é&#9;line&#10;break", "é\tline\nbreak"),
    (Item(tag("Nonce Value"), T.BYTE_STRING, b"\xc5\x0f\x77"), "c50f77", "c50f77"),
    (Item(tag("Nonce Value"), T.BYTE_STRING, b""), "", ""),
    (Item(ACTIVATION_DATE, T.DATE_TIME, NOW), "2012-04-27T08:12:24+00:00", "2012-04-27T08:12:24+00:00"),
    (
        Item(ACTIVATION_DATE, T.DATE_TIME_EXTENDED, NOW.replace(microsecond=5)),
        "2012-04-27T08:12:24.000005+00:00",
        "2012-04-27T08:12:24.000005+00:00",
    ),
    (Item(tag("Offset"), T.INTERVAL, 2**32 - 1), str(2**32 - 1), 2**32 - 1),
]


@pytest.mark.parametrize(("item", "xml_text", "json_value"), CASES)
def test_value_types(item: Item, xml_text: str, json_value: Any) -> None:
    assert xml_value(item) == xml_text
    assert txml.decode(txml.encode(item)) == item
    obj = tjson.to_obj(item, (2, 1))
    assert obj["type"] == item.type.camel_name
    if json_value is not None:
        assert obj["value"] == json_value
    assert tjson.from_obj(obj, (2, 1)) == item
    assert tjson.decode(tjson.encode(item)) == item


@pytest.mark.parametrize(
    ("type_name", "text", "value"),
    [
        ("Integer", "0xffffffff", -1),
        ("Integer", "0x0000000A", 10),
        ("Integer", "+7", 7),
        ("LongInteger", "0xfffffffffffffffe", -2),
        ("BigInteger", "0x00000000000000FF", 255),
        ("BigInteger", "FF", -1),  # two's complement of the digits given
        ("Enumeration", "0x00000002", 2),
        ("Enumeration", "symmetrickey", 2),  # the registry accepts any case
        ("Boolean", "1", True),
        ("Boolean", "0", False),
        ("ByteString", "C50F77", b"\xc5\x0f\x77"),
        ("Interval", "0x0000001b", 27),
        ("DateTime", "2001-01-01T10:00:00+10:00", datetime(2001, 1, 1, 0, 0, tzinfo=UTC)),
        ("DateTime", "2001-01-01T00:00:00Z", datetime(2001, 1, 1, tzinfo=UTC)),
        ("DateTime", "2001-01-01T00:00:00", datetime(2001, 1, 1, tzinfo=UTC)),
        ("DateTime", "2001-01-01T00:00:00.999-01:30", datetime(2001, 1, 1, 1, 30, tzinfo=UTC)),
        ("DateTime", "0x000000003a505520", datetime(2001, 1, 1, 10, 0, tzinfo=UTC)),  # seconds since 1970
        ("DateTimeExtended", "2001-01-01T00:00:00.1234567Z", datetime(2001, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_accepted_input_forms(type_name: str, text: str, value: object) -> None:
    element = f'<ObjectType type="{type_name}" value="{text}"/>'
    decoded = txml.decode(element)
    assert decoded.value == value
    if isinstance(value, datetime):
        assert isinstance(decoded.value, datetime) and decoded.value.tzinfo is UTC
    obj = {"tag": "ObjectType", "type": type_name, "value": text}
    assert tjson.from_obj(obj).value == value


def test_json_numbers_and_hex() -> None:
    assert tjson.from_obj({"tag": "BatchCount", "type": "Integer", "value": "0x0000000A"}).value == 10
    assert tjson.from_obj({"tag": "ObjectType", "type": "Enumeration", "value": 2}).value == 2
    assert tjson.from_obj({"tag": "Modulus", "type": "BigInteger", "value": 5}).value == 5
    assert tjson.from_obj({"tag": "BatchOrderOption", "type": "Boolean", "value": "0x0000000000000001"}).value is True
    assert tjson.to_obj(Item(tag("Usage Limits Count"), T.LONG_INTEGER, 2**52 - 1))["value"] == 2**52 - 1


def test_structure_type_defaults_and_empty_structures() -> None:
    item = structure(tag("TemplateAttribute"))
    assert txml.encode(item) == "<TemplateAttribute/>\n"
    assert txml.decode('<TemplateAttribute type="Structure"></TemplateAttribute>') == item
    assert tjson.to_obj(item) == {"tag": "TemplateAttribute", "value": []}
    assert tjson.from_obj({"tag": "TemplateAttribute", "value": None}) == item
    assert tjson.from_obj({"tag": "TemplateAttribute", "type": "Structure", "value": []}) == item
    # The spec's optional "name" property is informative only.
    assert tjson.from_obj({"tag": "0x420091", "name": "Whatever", "value": []}) == item


# ---------------------------------------------------------------------------
# masks
# ---------------------------------------------------------------------------
def test_masks_by_names_hex_and_decimal() -> None:
    assert txml.decode('<CryptographicUsageMask type="Integer" value="Encrypt   Decrypt"/>').value == 12
    assert txml.decode(
        '<CryptographicUsageMask type="Integer" value="CertificateSign 0x00000004 0x0000008"/>'
    ).value == (0x100C)
    assert txml.decode('<CryptographicUsageMask type="Integer" value="0x0000100c"/>').value == 0x100C
    assert txml.decode('<CryptographicUsageMask type="Integer" value="12"/>').value == 12
    assert txml.decode('<StorageStatusMask type="Integer" value="ArchivalStorage OnLineStorage"/>').value == 3
    obj = {"tag": "CryptographicUsageMask", "type": "Integer", "value": "CertificateSign|0x0000000c"}
    assert tjson.from_obj(obj).value == 0x100C


def test_masks_encode_as_names_then_leftover_hex() -> None:
    mask = Item(USAGE_MASK, T.INTEGER, 0x0C | 0x40000000)
    assert xml_value(mask) == "Encrypt Decrypt 0x40000000"
    assert tjson.to_obj(mask)["value"] == "Encrypt|Decrypt|0x40000000"
    assert xml_value(Item(USAGE_MASK, T.INTEGER, 0)) == "0x00000000"
    high = Item(USAGE_MASK, T.INTEGER, -(2**31))  # bit 31 of a signed Integer
    assert txml.decode(txml.encode(high)) == high
    assert tjson.decode(tjson.encode(high)) == high


def test_mask_bits_follow_the_version() -> None:
    # 0x400 is "Content Commitment (Non Repudiation)" in 1.x and reserved in 2.x.
    v14 = message((1, 4), Item(USAGE_MASK, T.INTEGER, 0x404))
    v21 = message((2, 1), Item(USAGE_MASK, T.INTEGER, 0x404))
    assert 'value="Encrypt ContentCommitmentNonRepudiation"' in txml.encode(v14)
    assert 'value="Encrypt 0x00000400"' in txml.encode(v21)
    # The 2.1 OASIS files write it "ContentCommitment": accepted on input.
    assert txml.decode('<CryptographicUsageMask type="Integer" value="ContentCommitment"/>').value == 0x400


# ---------------------------------------------------------------------------
# enumerations, attribute values, attribute references, versions
# ---------------------------------------------------------------------------
def test_unknown_enumeration_name_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="not a Object Type name"):
        txml.decode('<ObjectType type="Enumeration" value="NoSuchThing"/>')
    with pytest.raises(DecodeError, match="not a Object Type name"):
        tjson.from_obj({"tag": "ObjectType", "type": "Enumeration", "value": "NoSuchThing"})


def _attribute(name: str, value: Item) -> Item:
    return structure(ATTRIBUTE, Item(ATTRIBUTE_NAME, T.TEXT_STRING, name), value)


def test_attribute_value_uses_the_sibling_attribute_name() -> None:
    xml = (
        '<Attribute><AttributeName type="TextString" value="Cryptographic Algorithm"/>'
        '<AttributeValue type="Enumeration" value="AES"/></Attribute>'
    )
    item = txml.decode(xml)
    assert item == _attribute("Cryptographic Algorithm", Item(ATTRIBUTE_VALUE, T.ENUMERATION, 3))
    assert 'value="AES"' in txml.encode(item)
    assert {"tag": "AttributeValue", "type": "Enumeration", "value": "AES"} in tjson.to_obj(item)["value"]
    assert tjson.decode(tjson.encode(item)) == item

    masked = _attribute("Cryptographic Usage Mask", Item(ATTRIBUTE_VALUE, T.INTEGER, 12))
    assert 'value="Encrypt Decrypt"' in txml.encode(masked)
    assert txml.decode(txml.encode(masked)) == masked
    assert tjson.decode(tjson.encode(masked)) == masked


def test_custom_attribute_enumerations_are_hex_only() -> None:
    custom = _attribute("x-Custom", Item(ATTRIBUTE_VALUE, T.ENUMERATION, 3))
    assert 'value="0x00000003"' in txml.encode(custom)
    assert txml.decode(txml.encode(custom)) == custom
    with pytest.raises(DecodeError, match="0x hex"):
        txml.decode(
            '<Attribute><AttributeName type="TextString" value="x-Custom"/>'
            '<AttributeValue type="Enumeration" value="AES"/></Attribute>'
        )


def test_attribute_reference_names_a_tag() -> None:
    reference = Item(tag("Attribute Reference"), T.ENUMERATION, CRYPTO_ALGORITHM)
    msg = message((2, 1), reference)
    assert '<AttributeReference type="Enumeration" value="CryptographicAlgorithm"/>' in txml.encode(msg)
    assert txml.decode(txml.encode(msg)) == msg
    assert tjson.decode(tjson.encode(msg)) == msg


@pytest.mark.skipif(
    REGISTRY.tables["Hashing Algorithm"].by_name("SHA-3-256") is None, reason="registry lacks the 1.4 name"
)
def test_names_follow_the_message_version() -> None:
    sha3 = Item(HASHING_ALGORITHM, T.ENUMERATION, 0x0F)
    v14, v21 = message((1, 4), sha3), message((2, 1), sha3)
    assert 'value="SHA_3_256"' in txml.encode(v14)
    assert 'value="SHA3_256"' in txml.encode(v21)
    assert tjson.to_obj(v21)["value"][1]["value"][0]["value"][0]["value"] == "SHA3_256"
    # An explicit version overrides the message's own.
    assert 'value="SHA3_256"' in txml.encode(v14, (2, 0))
    # Either spelling decodes in either version (names fall back across versions).
    for text in (txml.encode(v14), txml.encode(v14).replace("SHA_3_256", "SHA3_256")):
        assert txml.decode(text) == v14
    assert txml.decode(txml.encode(v21).replace("SHA3_256", "SHA_3_256")) == v21


def test_values_a_version_does_not_define_are_written_in_hex() -> None:
    # Hashing Algorithm SHA3-256 (0x0F) arrived in 1.4.
    msg = message((1, 0), Item(HASHING_ALGORITHM, T.ENUMERATION, 0x0F))
    assert 'value="0x0000000f"' in txml.encode(msg)
    assert txml.decode(txml.encode(msg)) == msg


# ---------------------------------------------------------------------------
# placeholders
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("type_name", "text"),
    [("ByteString", "$DATA_0"), ("DateTime", "$NOW-3600"), ("DateTimeExtended", "$NOW"), ("Integer", "$COUNT")],
)
def test_placeholders_survive(type_name: str, text: str) -> None:
    element = f'<NonceValue type="{type_name}" value="{text}"/>'
    item = txml.decode(element)
    assert item.value == Placeholder(text)
    assert txml.encode(item, indent=False) == element
    assert tjson.to_obj(item)["value"] == text
    assert tjson.decode(tjson.encode(item)) == item


def test_text_string_placeholders_stay_text() -> None:
    item = txml.decode('<UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>')
    assert item.value == "$UNIQUE_IDENTIFIER_0" and type(item.value) is str


# ---------------------------------------------------------------------------
# generic TTLV form, containers, leniency
# ---------------------------------------------------------------------------
def test_generic_ttlv_form() -> None:
    item = txml.decode('<TTLV tag="0x540001" name="SomeExtension" type="TextString" value="na"/>')
    assert item == Item(0x540001, T.TEXT_STRING, "na")
    assert txml.encode(item, indent=False) == '<TTLV tag="0x540001" type="TextString" value="na"/>'
    assert txml.decode('<TTLV tag="0x420057" type="Enumeration" value="SymmetricKey"/>').tag == OBJECT_TYPE
    assert txml.decode('<x540001 type="LongInteger" value="-2"/>') == Item(0x540001, T.LONG_INTEGER, -2)
    unknown = structure(0x54FFFF, Item(0x42FFFF, T.INTEGER, 1))
    text = txml.encode(unknown, indent=False)
    assert text == '<TTLV tag="0x54ffff" type="Structure"><TTLV tag="0x42ffff" type="Integer" value="1"/></TTLV>'
    assert txml.decode(text) == unknown
    assert tjson.to_obj(unknown) == {"tag": "0x54ffff", "value": [{"tag": "0x42ffff", "type": "Integer", "value": 1}]}
    assert tjson.decode(tjson.encode(unknown)) == unknown


def test_namespace_is_accepted() -> None:
    xml = '<ActivationDate xmlns="urn:oasis:tc:kmip:xmlns" type="DateTime" value="2012-04-27T08:12:24+00:00"/>'
    assert txml.decode(xml) == Item(ACTIVATION_DATE, T.DATE_TIME, NOW)


def test_containers_text_nodes_and_duplicate_closing_root() -> None:
    one, two = message((1, 0)), message((1, 2))
    doc = txml.encode_messages([one, two])
    assert doc.startswith("<KMIP>\n") and txml.decode_messages(doc) == [one, two]
    legacy = doc.replace("<KMIP>", "<KmipTestCase>\n# TIME 0\n").replace("</KMIP>", "# TIME 1\n</KmipTestCase>")
    assert txml.decode_messages(legacy) == [one, two]
    # The OASIS file 1.4/testcases/TC-ECDSA-SIGN-1-14.xml ends "</KMIP>\n\n</KMIP>".
    assert txml.decode_messages(doc + "\n</KMIP>\n") == [one, two]
    assert txml.decode_messages(txml.encode(one)) == [one]
    assert tjson.decode_messages(tjson.encode_messages([one, two])) == [one, two]
    assert tjson.decode_messages(tjson.encode(one)) == [one]
    with pytest.raises(DecodeError, match="decode_messages"):
        txml.decode(doc)


def test_each_message_uses_its_own_version() -> None:
    sha3 = Item(HASHING_ALGORITHM, T.ENUMERATION, 0x0F)
    doc = txml.encode_messages([message((1, 4), sha3), message((2, 1), sha3)])
    assert "SHA_3_256" in doc and "SHA3_256" in doc


# ---------------------------------------------------------------------------
# security and strictness
# ---------------------------------------------------------------------------
BOMB = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]><BatchCount/>'


@pytest.mark.parametrize(
    "doc",
    [
        BOMB,
        BOMB.encode(),
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>'.encode("utf-16"),
        "<!doctype r><r/>",
    ],
)
def test_doctype_and_entities_are_refused(doc: str | bytes) -> None:
    with pytest.raises(DecodeError, match="DOCTYPE"):
        txml.decode(doc)


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ("", "malformed"),
        ("<BatchCount", "malformed"),
        ("<BatchCount type='Integer' value='1'/><x/>", "malformed"),
        ("<NoSuchTag/>", "unknown tag name"),
        ("<BatchCount type='Integr' value='1'/>", "unknown type"),
        ("<BatchCount type='Integer'/>", "without a value"),
        ("<BatchCount type='Integer' value='1'><BatchCount/></BatchCount>", "child elements"),
        ("<RequestHeader value='1'/>", "not a value attribute"),
        ("<BatchCount type='Integer' value='2147483648'/>", "out of range"),
        ("<BatchCount type='Integer' value='0x123456789'/>", "hex"),
        ("<BatchCount type='Integer' value='1_0'/>", "decimal"),
        ("<BatchCount type='Integer' value='١٢'/>", "decimal"),
        ("<BatchCount type='Interval' value='-1'/>", "out of range"),
        ("<BatchCount type='Boolean' value='yes'/>", "boolean"),
        ("<BatchCount type='ByteString' value='abc'/>", "hex digits"),
        ("<BatchCount type='ByteString' value='ab cd'/>", "hex digits"),
        ("<BatchCount type='BigInteger' value=''/>", "not hex"),
        ("<BatchCount type='DateTime' value='2012-02-30T00:00:00Z'/>", "not a valid date-time"),
        ("<BatchCount type='DateTime' value='yesterday'/>", "ISO 8601"),
        ("<TTLV type='Integer' value='1'/>", "tag attribute"),
        ("<TTLV tag='0x430001' type='Integer' value='1'/>", "extension"),
        ("<TTLV tag='0x5400' type='Integer' value='1'/>", "hex"),
        ("<CryptographicUsageMask type='Integer' value='Encrypt Fly'/>", "not a Cryptographic Usage Mask name"),
        ("<CryptographicUsageMask type='Integer' value=' '/>", "empty"),
        ("<x:BatchCount xmlns:x='urn:other' type='Integer' value='1'/>", "foreign namespace"),
    ],
)
def test_malformed_xml_is_a_decode_error(doc: str, where: str) -> None:
    with pytest.raises(DecodeError, match=where):
        txml.decode(doc)


def test_errors_name_the_element_path() -> None:
    doc = txml.encode(message((2, 1), Item(OBJECT_TYPE, T.ENUMERATION, 2))).replace("SymmetricKey", "Nope")
    with pytest.raises(DecodeError) as info:
        txml.decode(doc)
    assert "/RequestMessage/BatchItem[1]/RequestPayload[0]/ObjectType[0]:" in str(info.value)
    obj = stdjson.loads(tjson.encode(message((2, 1), Item(OBJECT_TYPE, T.ENUMERATION, 2))).replace("Symmetric", "X"))
    with pytest.raises(DecodeError) as info:
        tjson.from_obj(obj)
    assert "/RequestMessage/BatchItem[1]/RequestPayload[0]/ObjectType[0]:" in str(info.value)


def test_nesting_is_bounded() -> None:
    deep = "<RequestPayload>" * 200 + "</RequestPayload>" * 200
    with pytest.raises(DecodeError, match="nested deeper"):
        txml.decode(deep)
    # The leniency for a repeated closing root tag touches nothing else.
    with pytest.raises(DecodeError, match="malformed"):
        txml.decode("<RequestPayload></RequestPayload></RequestPayload>")
    obj: dict[str, Any] = {"tag": "RequestPayload", "value": []}
    for _ in range(200):
        obj = {"tag": "RequestPayload", "value": [obj]}
    with pytest.raises(DecodeError, match="nested deeper"):
        tjson.from_obj(obj)
    with pytest.raises(DecodeError):
        tjson.decode("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "malformed JSON"),
        ("{", "malformed JSON"),
        (b"\xff\xfe\xfd", "malformed JSON"),
        ("NaN", "JSON object"),
        ("[1]", "JSON object"),
        ('{"type": "Integer", "value": 1}', "string 'tag'"),
        ('{"tag": "BatchCount", "type": 5, "value": 1}', "unknown type"),
        ('{"tag": "BatchCount", "type": ["Integer"], "value": 1}', "unknown type"),
        ('{"tag": "BatchCount", "type": "Integer", "value": 1.5}', "cannot be written"),
        ('{"tag": "BatchCount", "type": "Integer", "value": true}', "cannot be written"),
        ('{"tag": "BatchCount", "type": "Integer", "value": 2147483648}', "out of range"),
        ('{"tag": "BatchCount", "type": "Boolean", "value": 1}', "cannot be written"),
        ('{"tag": "BatchCount", "type": "TextString", "value": null}', "cannot be written"),
        ('{"tag": "BatchCount", "value": {"a": 1}}', "array or null"),
        ('{"tag": "BatchCount", "value": [7]}', "JSON object"),
        ('{"tag": "0x12345", "type": "Integer", "value": 1}', "hex"),
        ('{"tag": "ObjectType", "type": "Enumeration", "value": -1}', "out of range"),
        ('{"tag": "NonceValue", "type": "ByteString", "value": "0xab"}', "hex digits"),
    ],
)
def test_malformed_json_is_a_decode_error(text: str | bytes, where: str) -> None:
    with pytest.raises(DecodeError, match=where):
        tjson.decode(text)


def test_text_xml_cannot_carry_is_an_encode_error() -> None:
    with pytest.raises(EncodeError, match=r"XML 1\.0"):
        txml.encode(Item(tag("Unique Identifier"), T.TEXT_STRING, "a\x00b"))
    # JSON can carry it.
    item = Item(tag("Unique Identifier"), T.TEXT_STRING, "a\x00b")
    assert tjson.decode(tjson.encode(item)) == item


@pytest.mark.parametrize(
    "item",
    [
        Item(BATCH_COUNT, T.INTEGER, 2**31),
        Item(BATCH_COUNT, T.INTEGER, "1"),
        Item(BATCH_COUNT, T.INTEGER, True),
        Item(BATCH_COUNT, T.BYTE_STRING, 5),
        Item(BATCH_COUNT, T.DATE_TIME, "now"),
        Item(BATCH_COUNT, T.ENUMERATION, -1),
        Item(BATCH_COUNT, T.STRUCTURE, 1),
    ],
)
def test_bad_items_are_encode_errors(item: Item) -> None:
    with pytest.raises(EncodeError):
        txml.encode(item)
    with pytest.raises(EncodeError):
        tjson.encode(item)
