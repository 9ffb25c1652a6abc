"""Every rule by which an actual response may differ from the expected one.

Theory of operation: the OASIS profiles say that a test case defines the
request and response content, and then list the "Permitted Test Case
Variations" (KMIP Profiles 1.x, and the Additional Message Encodings
profile, section 8.4; KMIP Profiles 2.1, section 4.1 — cited below as
"§PV"); "other variations not explicitly noted … SHALL be deemed
non-conformant".  This module is that list, as data, each entry with its
reason.  :mod:`conformance.compare` applies it and knows nothing else about
KMIP; when a rule must bend for one file, the bend goes in
:data:`FILE_EXCEPTIONS` at the end, with why.

Rules are keyed by *logical* tags: in a 1.x ``Attribute`` structure the
``AttributeValue`` takes the tag of its ``AttributeName`` ("Initial Date"
-> Initial Date), so one rule covers the 1.x and 2.x spellings of an attribute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ttlv import REGISTRY


def _tags(*names: str) -> frozenset[int]:
    return frozenset(REGISTRY.tag(name) for name in names)


def tag(name: str) -> int:
    return REGISTRY.tag(name)


# ---------------------------------------------------------------------------
# Placeholders (kmip-testcases README, "Placeholders and what may differ")
# ---------------------------------------------------------------------------
#: ``$NOW``, ``$NOW-3600``: in a request the current time plus the offset in
#: seconds; in an expected response any Date-Time.
NOW = re.compile(r"^\$NOW(?:([+-])(\d+))?$")
#: Identifiers are bound once, from the first expected response that shows
#: them, and from then on must be equal wherever they appear (a later Locate
#: or Get must name the same object).  ``…_RANDOM_n`` names an object that
#: does not exist: a fresh random value when first used in a request.
IDENTITY = re.compile(r"^\$(?:SHORT_)?UNIQUE_IDENTIFIER(?:_\d+)?$")
RANDOM = re.compile(r"_RANDOM(?:_\d+)?$")
#: Every other ``$…`` ($DATA_n, $IV_COUNTER_NONCE, $MAC_DATA, $KEY_MATERIAL,
#: $CORRELATION_VALUE, $TICKET_VALUE …) is bound from the actual response
#: where it appears (the latest one wins), and when a request uses one that
#: no response has shown, the latest actual value of that request item's tag
#: is carried forward (an Encrypt response printed its random IV as a literal,
#: the next Decrypt sends ``$IV_COUNTER_NONCE``).


def is_placeholder_text(value: object) -> bool:
    return isinstance(value, str) and value.startswith("$") and len(value) > 1


# ---------------------------------------------------------------------------
# Reading the files
# ---------------------------------------------------------------------------
_SPACES = re.compile(r"\s{2,}")


def clean_attribute_name(name: str) -> str:
    """README "Known oddities": the 1.0-1.2 profile files were re-extracted
    from the OASIS HTML and carry runs of spaces inside names
    (``"Cryptographic   Usage Mask"``); no attribute name has two spaces in a
    row, so runs are collapsed in Attribute Name values, requests and
    expected responses alike, when a file is read."""
    return _SPACES.sub(" ", name)


# ---------------------------------------------------------------------------
# Values never compared (any value of the right type)
# ---------------------------------------------------------------------------
VARIABLE: dict[int, str] = {
    tag("Time Stamp"): "§PV Variable Items: TimeStamp",
    tag("Unique Batch Item ID"): "§PV Variable Items: UniqueBatchItemIdentifier",
    tag("Asynchronous Correlation Value"): "§PV Variable Items: AsynchronousCorrelationValue",
    tag("Result Message"): "§PV: ResultMessage may vary from the text in the test case",
    tag("Vendor Identification"): "§PV: VendorIdentification may vary",
    tag("Server Information"): "§PV: Query's Server Information is vendor-specific content",
    tag("Client Correlation Value"): "README: in 2.x correlation values are present or absent, any value",
    tag("Server Correlation Value"): "README: in 2.x correlation values are present or absent, any value",
    tag("Digest"): "§PV Variable Items: Digest — the Hashing Algorithm the server chose and the Digest Value",
    tag("Digest Value"): "§PV Variable Items: DigestValue",
    tag("Application Namespace"): "§PV: Application Namespaces reported in Query",
    tag("Extension Information"): "§PV: Extensions reported in Query for ExtensionList and ExtensionMap",
    tag("Random Number Generator"): "the attribute describes the server's own random number generator "
    "(server-specific, like Server Information); that it is present is still checked",
}

#: Identifiers: a literal value in the expected response is whatever that
#: server chose (§PV Variable Items: UniqueIdentifier, Private/Public Key
#: Unique Identifier, LinkedObjectIdentifier); a placeholder binds (IDENTITY).
IDENTIFIERS: dict[int, str] = {
    tag("Unique Identifier"): "§PV Variable Items: UniqueIdentifier",
    tag("Private Key Unique Identifier"): "§PV Variable Items: PrivateKeyUniqueIdentifier",
    tag("Public Key Unique Identifier"): "§PV Variable Items: PublicKeyUniqueIdentifier",
    tag("Linked Object Identifier"): "§PV Variable Items: LinkedObjectIdentifier",
}

#: Values that are the server's own output unless the client supplied them:
#: compared only when the expected value was sent by the client earlier in the
#: same file (a registered key must come back as registered, a decryption must
#: give back the plaintext; a set date must be kept), otherwise variable.
BY_ORIGIN: dict[int, str] = {
    **{
        tag(n): "§PV Variable Items: key material generated by the server, and wrapped keys"
        for n in ("Key Material", "Key Value", "Key")
    },
    **{
        tag(n): "§PV Variable Items: output of a cryptographic operation with a server-generated key or variable output"
        for n in ("Data", "Signature Data", "MAC Data", "IV/Counter/Nonce", "Authenticated Encryption Tag")
    },
    **{
        tag(n): "§PV Variable Items: Date-Time attributes not specified in the request as a fixed value"
        for n in (
            "Activation Date",
            "Archive Date",
            "Compromise Date",
            "Compromise Occurrence Date",
            "Deactivation Date",
            "Destroy Date",
            "Initial Date",
            "Last Change Date",
            "Protect Stop Date",
            "Process Start Date",
            "Validity Date",
            "Original Creation Date",
        )
    },
}

#: Key Format Type inside a returned Key Block: §PV Variable Items "the key
#: format type selected by the server when it creates managed objects" —
#: variable unless the request asked for one.
KEY_FORMAT_TYPE = tag("Key Format Type")
KEY_BLOCK = tag("Key Block")


# ---------------------------------------------------------------------------
# Items that may be absent where expected, or present where not expected
# ---------------------------------------------------------------------------
OPTIONAL: dict[int, str] = {
    tag("Result Message"): "§PV: ResultMessage may or may not be included",
    tag("Client Correlation Value"): "README: 2.x correlation values present or absent",
    tag("Server Correlation Value"): "README: 2.x correlation values present or absent",
    tag("Template-Attribute"): "§PV: TemplateAttribute may or may not be included where the spec makes it optional",
    tag("Message Extension"): "§PV: Message Extensions — additional non-critical vendor extensions",
    tag("Server Information"): "Server Information is optional in Query responses (vendor-specific)",
}
#: §PV: "AttributeIndex – May or may not include Attribute Index value where
#: the Attribute Index value is 0" (1.1 and above).
ATTRIBUTE_INDEX = tag("Attribute Index")


# ---------------------------------------------------------------------------
# Lists compared as sets
# ---------------------------------------------------------------------------
ATTRIBUTE = tag("Attribute")
ATTRIBUTES = tag("Attributes")
ATTRIBUTE_NAME = tag("Attribute Name")
ATTRIBUTE_VALUE = tag("Attribute Value")
ATTRIBUTE_REFERENCE = tag("Attribute Reference")

SET_REASONS = {
    "attributes": "§PV: additional attributes beyond those noted, Object Group values and y- attributes "
    "may be returned, in any order (expected ⊆ actual)",
    "query": "§PV: Query lists (operations, object types, extensions, namespaces…) may be supersets",
    "locate": "Locate results name the same objects; the tests do not depend on their order",
    "versions": "§PV: Discover Versions may list additional versions when the client sent none",
}

#: 1.x attribute lists (Get Attributes, templates, Template objects): the
#: repeated ``Attribute`` children of any structure; 2.x: every child of an
#: ``Attributes`` structure; Get Attribute List: the repeated names/references.
ATTRIBUTE_SET_CHILDREN = frozenset({ATTRIBUTE})
ATTRIBUTE_LIST_CHILDREN = frozenset({ATTRIBUTE_NAME, ATTRIBUTE_REFERENCE})

OPERATION = tag("Operation")
RESPONSE_PAYLOAD = tag("Response Payload")
REQUEST_PAYLOAD = tag("Request Payload")
BATCH_ITEM = tag("Batch Item")
RESULT_STATUS = tag("Result Status")
RESULT_REASON = tag("Result Reason")
RESULT_MESSAGE = tag("Result Message")
PROTOCOL_VERSION = tag("Protocol Version")
UNIQUE_IDENTIFIER = tag("Unique Identifier")

OP_QUERY = REGISTRY.enum("Operation", "Query")
OP_LOCATE = REGISTRY.enum("Operation", "Locate")
OP_DISCOVER_VERSIONS = REGISTRY.enum("Operation", "Discover Versions")
OP_GET_ATTRIBUTE_LIST = REGISTRY.enum("Operation", "Get Attribute List")


# ---------------------------------------------------------------------------
# Server state between files
# ---------------------------------------------------------------------------
#: README: "Some files depend on objects made by an earlier file of the same
#: profile (TL-M-3 after TL-M-2, SASED-M-3 after SASED-M-2)": such a series
#: runs on one store, in name order.  Every other file gets a fresh store
#: where the transport can give one (in process): clean-up steps are optional
#: (§PV 8.4.2), and objects one file leaves behind ("Key1" in many 1.x TC
#: files) must not change another file's Locate results.
SHARED_STATE = re.compile(r"^(TL|SASED)[-_]M[-_]", re.IGNORECASE)


def state_group(case_id: str, version: str) -> str:
    match = SHARED_STATE.match(case_id)
    return f"{version}/{match.group(1).upper()}-M" if match else f"{version}/{case_id}"


# ---------------------------------------------------------------------------
# Bends for single files
# ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Bend:
    """Ignore a mismatch in one file at paths starting with ``path``."""

    path: str
    reason: str


#: case id -> bends.  Keep this short; each entry says why the file, not the
#: server, is wrong.
FILE_EXCEPTIONS: dict[str, tuple[Bend, ...]] = {
    "OMOS-O-1-14": (
        Bend(
            "msg 2 / ResponseHeader / ProtocolVersion",
            "the OASIS file's last response says protocol 1.3 although all its requests are 1.4; "
            "a server answers in the request's version (KMIP 1.4 §7.1 / Protocol Version)",
        ),
    ),
}
