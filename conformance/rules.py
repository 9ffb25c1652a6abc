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
    tag("Certificate Value"): "§PV Variable Items: output of a cryptographic operation with a server-generated key — "
    "a certificate the server issues (Certify, Re-certify) carries its CA's signature and the serial number and "
    "validity the server chose; a registered certificate must still come back byte for byte",
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


#: Why the TC-PKCS12-2 files' X.509 serial number is bent (see FILE_EXCEPTIONS).
_PKCS12_SERIAL = (
    "the file contradicts itself: its own Locate (msg 7) finds this certificate by the Certificate Serial "
    "Number as a DER INTEGER (020900d2f5…), as every other OASIS file spells it (TC-ECC-3, TC-IMPEXP-5, "
    "TC-CERTATTR-1, TC_134), yet this step prints the bare content octets (00d2f5…) of the same attribute"
)
#: Attributes that follow from the bytes of a certificate the server issued.
_ISSUED_CERTIFICATE_ATTRIBUTES = (
    "Certificate Identifier",
    "Certificate Issuer",
    "Certificate Length",
    "X.509 Certificate Identifier",
    "X.509 Certificate Issuer",
)
_ISSUED_CERTIFICATE = (
    "the file pins its reference server's CA: a certificate the server issues for Certify/Re-certify names "
    "the issuer the server chose (there, its own CA 'CN=KMIP,OU=OASIS,O=TEST,C=US'; kmsd, with no issuer "
    "named in the request, signs with the subject's own linked private key) and the serial number it drew, "
    "and its length follows from its extensions and signature — server output like the Certificate Value "
    "itself (§PV Variable Items)"
)


def _tc134(version: str) -> tuple[Bend, ...]:
    # Get Attributes of the certified (msg 7) and of the re-certified (msg 12) certificate.
    issued = tuple(
        Bend(f"msg {msg} / BatchItem[0] / ResponsePayload / Attribute[{name}] / AttributeValue", _ISSUED_CERTIFICATE)
        for msg in (7, 12)
        for name in _ISSUED_CERTIFICATE_ATTRIBUTES
    )
    if version != "12":
        return issued
    return issued + tuple(
        Bend(
            f"msg 12 / BatchItem[0] / ResponsePayload / Attribute[{name}]",
            "the order of the re-certified certificate's Link and Name instances (their Attribute Index) is "
            "the server's: KMIP 1.2 section 4.8 says only which Links and Names it has; TC_134_10 and "
            "TC_134_11 show the Replaced Object Link and the moved name at index 0, this file the reverse, "
            "and one server cannot answer both (the same instances are still checked in those two files)",
        )
        for name in ("Link", "Name")
    )


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
    "TC-PKCS12-2-14": (
        Bend(
            "msg 9 / BatchItem[0] / ResponsePayload / Attribute[X.509 Certificate Identifier] / AttributeValue "
            "/ CertificateSerialNumber",
            _PKCS12_SERIAL,
        ),
        Bend(
            "msg 9 / BatchItem[0] / ResponsePayload / Attribute[Certificate Identifier] / AttributeValue "
            "/ SerialNumber",
            "the 1.x Certificate Identifier's Serial Number is hex text whose letter case KMIP 1.0-1.4 leave "
            "open; the other OASIS files print it in upper case (TC_132, TC_134: 9BBA23D1B6A48F97), this one "
            "in lower case",
        ),
    ),
    "TC-PKCS12-2-21": (
        Bend(
            "msg 2 / BatchItem[0] / ResultReason",
            "the file expects Wrong Key Lifecycle State for a Register whose PKCS#12 password is not Active; "
            "KMIP 2.1 lists Bad Password, not Wrong Key Lifecycle State, among the Register errors (Table 294) "
            'and defines it as "Key Format Type is PKCS#12, but missing or multiple PKCS#12 Password Links, '
            'or not Secret Data, or not Active" (section 11.46): the spec decides (the failure is still checked)',
        ),
        Bend(
            "msg 9 / BatchItem[0] / ResponsePayload / Attributes / X_509CertificateIdentifier "
            "/ CertificateSerialNumber",
            _PKCS12_SERIAL,
        ),
    ),
    **{
        f"TC_134_{version}_Register_Key_Pair_Certify_and_Re_certify_Public_Key": _tc134(version)
        for version in ("10", "11", "12")
    },
    "TC_92_10_Existing_Key_Expired_Re_key_with_Same_Life_cycle": (
        Bend(
            "msg 3 / BatchItem[0] / ResponsePayload / Attribute[State]",
            "the file sets literal dates from its 2009 run (Activation Date 2009-02-11T13:01:59, Deactivation "
            "Date 2010-02-11T13:03:59; the 1.1 and 1.2 versions use $NOW and $NOW+120): run after 2010 the key "
            "is Deactivated as soon as the dates are set (KMIP 1.0 section 3.17), so the Active it expects "
            "here cannot be seen; Deactivated is still checked at msg 4 and the re-keyed key's state at msg 7",
        ),
    ),
}
