"""Which attributes a client may set, change or delete, and how many instances.

After the "Attribute rules" tables of the KMIP specification (section 4 of
2.x, section 3 of 1.x).  One row per attribute; anything not listed is
treated as read-only except custom (vendor / x- / y-) attributes, which the
client owns.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmsd.kmip import attributes as A
from kmsd.kmip import tags
from kmsd.kmip.enums import ResultReason
from kmsd.kmip.errors import KmipError
from ttlv import Item


@dataclass(frozen=True, slots=True)
class Rule:
    on_create: bool  # the client may supply it in Create/Register
    modify: bool  # the client may change it afterwards
    delete: bool  # the client may delete it
    multi: bool  # several instances allowed


RW_MULTI = Rule(True, True, True, True)
RW_SINGLE = Rule(True, True, True, False)
SET_ONCE = Rule(True, False, False, False)
SET_MODIFY = Rule(True, True, False, False)
SERVER_ONLY = Rule(False, False, False, False)
SERVER_MULTI = Rule(False, False, False, True)

RULES: dict[str, Rule] = {
    "Unique Identifier": SERVER_ONLY,
    "Name": RW_MULTI,
    "Object Type": SERVER_ONLY,
    "Cryptographic Algorithm": SET_ONCE,
    "Cryptographic Length": SET_ONCE,
    "Cryptographic Parameters": RW_MULTI,
    "Cryptographic Domain Parameters": SET_ONCE,
    "Certificate Type": SET_ONCE,
    "Certificate Length": SERVER_ONLY,
    "Digital Signature Algorithm": SERVER_MULTI,
    "Digest": SERVER_MULTI,
    "Operation Policy Name": RW_SINGLE,
    "Cryptographic Usage Mask": SET_ONCE,
    "Lease Time": SERVER_ONLY,
    "Usage Limits": SET_MODIFY,
    "State": SERVER_ONLY,
    "Initial Date": SERVER_ONLY,
    "Activation Date": SET_MODIFY,
    "Process Start Date": SET_MODIFY,
    "Protect Stop Date": SET_MODIFY,
    "Deactivation Date": SET_MODIFY,
    "Destroy Date": SERVER_ONLY,
    "Compromise Occurrence Date": SERVER_ONLY,
    "Compromise Date": SERVER_ONLY,
    "Revocation Reason": SERVER_ONLY,
    "Archive Date": SERVER_ONLY,
    "Object Group": RW_MULTI,
    "Fresh": SET_MODIFY,
    "Link": RW_MULTI,
    "Application Specific Information": RW_MULTI,
    "Contact Information": RW_SINGLE,
    "Last Change Date": SERVER_ONLY,
    "Alternative Name": RW_MULTI,
    "Key Value Present": SERVER_ONLY,
    "Key Value Location": RW_MULTI,
    "Original Creation Date": SET_ONCE,  # "MAY be set by the client during a Register operation"
    "Random Number Generator": SET_ONCE,
    "PKCS#12 Friendly Name": RW_SINGLE,
    "Description": RW_SINGLE,
    "Comment": RW_SINGLE,
    "Sensitive": SET_MODIFY,
    "Always Sensitive": SERVER_ONLY,
    "Extractable": SET_MODIFY,
    "Never Extractable": SERVER_ONLY,
    "Short Unique Identifier": SERVER_ONLY,
    "Protection Level": SET_ONCE,
    "Protection Period": SET_ONCE,
    "Protection Storage Masks": SET_ONCE,
    "Protection Storage Mask": SET_ONCE,
    "Quantum Safe": SET_ONCE,
    "Key Format Type": SERVER_ONLY,
    "NIST Key Type": SET_ONCE,
    "Object Group Member": RW_SINGLE,
    "Certificate Identifier": SERVER_ONLY,
    "Certificate Subject": SERVER_ONLY,
    "Certificate Issuer": SERVER_ONLY,
    "X.509 Certificate Identifier": SERVER_ONLY,
    "X.509 Certificate Subject": SERVER_ONLY,
    "X.509 Certificate Issuer": SERVER_ONLY,
    "Rotate Interval": RW_SINGLE,
    "Rotate Automatic": RW_SINGLE,
    "Rotate Offset": RW_SINGLE,
    "Rotate Name": RW_SINGLE,
    "Rotate Name Type": RW_SINGLE,
}
CLIENT_CUSTOM = RW_MULTI


def rule_for(item: Item) -> Rule:
    key = A.attribute_key(item)
    if item.tag == tags.Attribute:
        # Server-defined (y-) custom attributes are read-only for clients.
        return SERVER_MULTI if key.startswith("y-") else CLIENT_CUSTOM
    return RULES.get(key, SERVER_ONLY)


def read_only(item: Item) -> KmipError:
    return KmipError(ResultReason.ATTRIBUTE_READ_ONLY, f"attribute {A.attribute_key(item)} is read-only")


def check_initial(items: tuple[Item, ...]) -> None:
    """Attributes supplied at Create/Register: settable, and single ones once."""
    seen: set[str] = set()
    for item in items:
        rule = rule_for(item)
        key = A.attribute_key(item)
        if not rule.on_create:
            raise read_only(item)
        if not rule.multi and key in seen:
            raise KmipError(ResultReason.ATTRIBUTE_SINGLE_VALUED, f"attribute {key} allows one instance only")
        seen.add(key)
