#!/usr/bin/env python3
"""Regenerate ttlv/registry.tsv from the OASIS KMIP specification texts.

The registry is data: one row per (table, name, value) with the first protocol
version that defines it and the first version that no longer does.  This
script extracts every "| Title |" / "| Name | Value |" table (tags,
enumerations, bit masks) from each version's "Defined Values" section and
merges the versions.  Run it when the spec texts change:

    python scripts/gen_registry.py ../shared/kmip-spec > ttlv/registry.tsv
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SPEC_FILES = {
    "1.0": "kmip-spec-1.0-os.md",
    "1.1": "kmip-spec-v1.1-os.md",
    "1.2": "kmip-spec-v1.2-os.md",
    "1.3": "kmip-spec-v1.3-os.md",
    "1.4": "kmip-spec-v1.4-os.md",
    "2.0": "kmip-spec-v2.0-os.md",
    "2.1": "kmip-spec-v2.1-os.md",
}
VERSIONS = list(SPEC_FILES)

# Table titles differ slightly between versions; fold them to one name.
# Keys are titles with all white space removed (the text renderings split some
# words, "Operatio n"); values are the table's name in the registry.
TITLE_ALIASES = {
    "BatchErrorContinuation": "Batch Error Continuation Option",
    "RecommendedCurveEnumeration": "Recommended Curve",
    "ProtectionStorageMasks": "Protection Storage Mask",
    "ProfileNameType": "Profile Name",
    "UniqueIdentifierEnumerations": "Unique Identifier",
    "ObjectGroupMemberOption": "Object Group Member",
    "DestroyActionType": "Destroy Action",
    "KeyWrapEncodingOption": "Encoding Option",
}
# Tables whose title cell in the text rendering contradicts their section
# heading: (version, title key, a row name) -> the right table.  Both are
# slips in the KMIP 2.0 and 2.1 texts ("Ticket Type Enumeration" is titled
# "State"; the Endpoint Role table is titled "Encoding Option").
MISTITLED = {
    (v, key, row): right
    for v in ("2.0", "2.1")
    for key, row, right in (("State", "Login", "Ticket Type"), ("EncodingOption", "Client", "Endpoint Role"))
}
HEADERS = {"| Name | Value |", "| Object | Tag Value |"}
ROW = re.compile(
    r"^\|\s*(?P<name>[^|]+?)\s*\|\s*(?:0x)?(?P<value>[0-9A-Fa-f]{6,8})\s*(?P<note>\([^)]*\))?\s*\|\s*$"
)


def normalize_title(title: str, spellings: dict[str, str]) -> str:
    title = re.sub(r"\s+", " ", title.strip())
    key = title.replace(" ", "")
    if key in TITLE_ALIASES:
        return TITLE_ALIASES[key]
    if key.endswith("Enumeration"):
        key = key[: -len("Enumeration")]
        title = title[: title.rindex("Enum")].strip()
    if key in TITLE_ALIASES:
        return TITLE_ALIASES[key]
    # Prefer a spelling without split words ("Operation" over "Operatio n").
    known = spellings.get(key)
    if known is None or len(title) < len(known):
        spellings[key] = title
    return key


def fold(name: str) -> str:
    """A name as compared across versions: the 1.0 rendering splits words
    ("MAC /Signature", "CBC -MAC") and one name changed case ("Object archived")."""
    return name.replace(" ", "").lower()


def parse_tables(
    text: str, spellings: dict[str, str], version: str
) -> dict[str, dict[str, tuple[int, bool]]]:
    """Every Name/Value table in one spec text, by normalized title key."""
    lines = text.splitlines()
    tables: dict[str, dict[str, tuple[int, bool]]] = {}
    for i, line in enumerate(lines):
        if line.strip() not in HEADERS or i == 0:
            continue
        title_cells = [c for c in lines[i - 1].strip().strip("|").split("|")]
        if len(title_cells) != 1:
            continue
        # A section heading right above the table names it better than the
        # table's own title cell, which the text renderings sometimes garble
        # ("11.51 Rotate Name Type Enumeration" is titled "Name Type").
        heading = lines[i - 2] if i >= 2 else ""
        if heading.startswith("#") and heading.rstrip().endswith("Enumeration"):
            title_cells = [re.sub(r"^#+\s*[\d.]+\s*", "", heading)]
        title = normalize_title(title_cells[0], spellings)
        rows: dict[str, tuple[int, bool]] = {}
        for row in lines[i + 1 :]:
            if not row.startswith("|"):
                break
            m = ROW.match(row)
            if not m:
                continue
            name = re.sub(r"\s+", " ", m["name"]).strip()
            # The text rendering flattened a superscript: "GF (2 16 )" is GF(2^16).
            name = re.sub(r"GF ?\(2 (\d+) \)", r"GF(2^\1)", name)
            if name.startswith("(") or name.lower() in ("extension", "extensions"):
                continue
            rows[name] = (int(m["value"], 16), bool(m["note"] and "deprecated" in m["note"]))
        for (v, key, row_name), right in MISTITLED.items():
            if v == version and key == title and row_name in rows:
                title = right.replace(" ", "")
                spellings[title] = right
        tables.setdefault(title, {}).update(rows)
    return tables


# KMIP 2.x defines these two enumerations by reference to PKCS#11 rather than
# by table: the function's 1-based position in CK_FUNCTION_LIST_3_0, and the
# CK_RV value (named without its CKR_ prefix, as the OASIS test cases do).
PKCS11_FUNCTIONS = """C_Initialize C_Finalize C_GetInfo C_GetFunctionList C_GetSlotList C_GetSlotInfo
C_GetTokenInfo C_GetMechanismList C_GetMechanismInfo C_InitToken C_InitPIN C_SetPIN C_OpenSession
C_CloseSession C_CloseAllSessions C_GetSessionInfo C_GetOperationState C_SetOperationState C_Login
C_Logout C_CreateObject C_CopyObject C_DestroyObject C_GetObjectSize C_GetAttributeValue
C_SetAttributeValue C_FindObjectsInit C_FindObjects C_FindObjectsFinal C_EncryptInit C_Encrypt
C_EncryptUpdate C_EncryptFinal C_DecryptInit C_Decrypt C_DecryptUpdate C_DecryptFinal C_DigestInit
C_Digest C_DigestUpdate C_DigestKey C_DigestFinal C_SignInit C_Sign C_SignUpdate C_SignFinal
C_SignRecoverInit C_SignRecover C_VerifyInit C_Verify C_VerifyUpdate C_VerifyFinal
C_VerifyRecoverInit C_VerifyRecover C_DigestEncryptUpdate C_DecryptDigestUpdate
C_SignEncryptUpdate C_DecryptVerifyUpdate C_GenerateKey C_GenerateKeyPair C_WrapKey C_UnwrapKey
C_DeriveKey C_SeedRandom C_GenerateRandom C_GetFunctionStatus C_CancelFunction C_WaitForSlotEvent
C_GetInterfaceList C_GetInterface C_LoginUser C_SessionCancel C_MessageEncryptInit
C_EncryptMessage C_EncryptMessageBegin C_EncryptMessageNext C_MessageEncryptFinal
C_MessageDecryptInit C_DecryptMessage C_DecryptMessageBegin C_DecryptMessageNext
C_MessageDecryptFinal C_MessageSignInit C_SignMessage C_SignMessageBegin C_SignMessageNext
C_MessageSignFinal C_MessageVerifyInit C_VerifyMessage C_VerifyMessageBegin C_VerifyMessageNext
C_MessageVerifyFinal""".split()
PKCS11_RETURN_CODES = {
    "OK": 0x0, "CANCEL": 0x1, "HOST_MEMORY": 0x2, "SLOT_ID_INVALID": 0x3, "GENERAL_ERROR": 0x5,
    "FUNCTION_FAILED": 0x6, "ARGUMENTS_BAD": 0x7, "NO_EVENT": 0x8, "ATTRIBUTE_READ_ONLY": 0x10,
    "ATTRIBUTE_TYPE_INVALID": 0x12, "ATTRIBUTE_VALUE_INVALID": 0x13, "DATA_INVALID": 0x20,
    "DATA_LEN_RANGE": 0x21, "DEVICE_ERROR": 0x30, "DEVICE_MEMORY": 0x31, "FUNCTION_NOT_SUPPORTED": 0x54,
    "KEY_HANDLE_INVALID": 0x60, "KEY_SIZE_RANGE": 0x62, "KEY_TYPE_INCONSISTENT": 0x63,
    "MECHANISM_INVALID": 0x70, "MECHANISM_PARAM_INVALID": 0x71, "OBJECT_HANDLE_INVALID": 0x82,
    "OPERATION_ACTIVE": 0x90, "OPERATION_NOT_INITIALIZED": 0x91, "PIN_INCORRECT": 0xA0,
    "SESSION_HANDLE_INVALID": 0xB3, "SIGNATURE_INVALID": 0xC0, "TEMPLATE_INCOMPLETE": 0xD0,
    "TOKEN_NOT_PRESENT": 0xE0, "USER_NOT_LOGGED_IN": 0x101, "BUFFER_TOO_SMALL": 0x150,
    "CRYPTOKI_NOT_INITIALIZED": 0x190, "CRYPTOKI_ALREADY_INITIALIZED": 0x191,
}


def main() -> None:
    spec_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/kmip-spec")
    spellings: dict[str, str] = {}
    per_version = {v: parse_tables((spec_dir / f).read_text(), spellings, v) for v, f in SPEC_FILES.items()}
    # (table, name, value) -> versions that define it, versions that deprecate it
    seen: dict[tuple[str, str, int], list[str]] = {}
    deprecated: dict[tuple[str, str, int], str] = {}
    latest_spelling: dict[tuple[str, str, int], str] = {}
    for tables in per_version.values():
        for key, rows in tables.items():
            for name, (value, _) in rows.items():
                latest_spelling[(key, fold(name), value)] = name
    for version, tables in per_version.items():
        for key, rows in tables.items():
            title = spellings.get(key, key)
            for raw_name, (value, is_deprecated) in rows.items():
                name = latest_spelling[(key, fold(raw_name), value)]
                if version in seen.get((title, name, value), []):
                    continue
                seen.setdefault((title, name, value), []).append(version)
                if is_deprecated:
                    deprecated.setdefault((title, name, value), version)
    for index, function in enumerate(PKCS11_FUNCTIONS, start=1):
        seen[("PKCS#11 Function", function, index)] = ["2.0", "2.1"]
    for code, value in PKCS11_RETURN_CODES.items():
        seen[("PKCS#11 Return Code", code, value)] = ["2.0", "2.1"]
    out = sys.stdout
    out.write(
        "# KMIP registry: table, name, value (hex), since, until (exclusive, '-' = still defined),"
        " deprecated since ('-' = never)\n"
    )
    out.write("# Generated by scripts/gen_registry.py from the OASIS KMIP 1.0-2.1 specification texts.\n")
    for (title, name, value), versions in sorted(seen.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        since = versions[0]
        last = VERSIONS.index(versions[-1])
        until = VERSIONS[last + 1] if last + 1 < len(VERSIONS) else "-"
        gaps = [v for v in VERSIONS[VERSIONS.index(since) : last + 1] if v not in versions]
        if gaps:
            print(f"warning: {title}/{name} missing in {gaps}", file=sys.stderr)
        width = 6 if title == "Tag" else 8
        dep = deprecated.get((title, name, value), "-")
        out.write(f"{title}\t{name}\t{value:0{width}X}\t{since}\t{until}\t{dep}\n")


if __name__ == "__main__":
    main()
