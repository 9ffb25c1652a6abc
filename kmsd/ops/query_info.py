"""The Query functions beyond operations/objects/server information.

Theory of operation.  Every answer states what kmsd really does, so a client
may rely on it; test cases that pin another server's answers (an RNG it does
not use, a validation it does not hold, profiles it has not passed) stay
failing and expected.toml says why.  Enumeration values are per protocol
version where KMIP renumbered them (Profile Name), and fields appear only in
the versions that define them (Capability Information's 1.3 fields).

- RNGs: the operating system's CSPRNG (os.urandom / getrandom(2)), which no
  RNG Algorithm value names: Unspecified (as the Random Number Generator
  attribute of generated keys says, kmsd.ops.newobject).
- Profiles: those whose OASIS test cases all pass in conformance/EXPECTED.md:
  Symmetric Key Lifecycle, Symmetric Key Foundry, Asymmetric Key Lifecycle,
  Opaque Managed Object Store, Basic Cryptographic, Storage Array with
  Self-Encrypting Drives and Tape Library servers; 1.x requests get every
  "… KMIP v1.x" edition up to the request's version.  Not (yet) Baseline
  (certificate attributes, issue 5), Complete, RNG/Advanced Cryptographic,
  HTTPS/XML/JSON (the 1.4 MSGENC cases pass, the 2.1 ones need Certificate
  Request objects, which Query Objects does not list yet).
- Capabilities (1.3+ fields): unwrap mode unspecified; Destroy deletes the key
  material and keeps the metadata (Key Material Deleted); no shredding
  (Unsupported); RNG mode unspecified.
- Client registration: kmsd issues client certificates (``kmsd certs issue``:
  Server Pre-Generated) and accepts certificates a trusted CA signed for a
  key the client made (Client Generated).
- Extensions: kmsd's own tags (kmsd.ops.access): Access Grant/User/Right/Owner.
- Validations, attestation types, application namespaces: none.
- Defaults Information (2.x): kmsd fills in no cryptographic defaults for the
  client (Create needs algorithm and length): an empty structure.
- Storage protection masks: Software.
"""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import ProfileName as P
from kmsd.kmip.enums import ProtectionStorageMask, QueryFunction, RngAlgorithm
from ttlv import REGISTRY, Item, ItemType

Version = tuple[int, int]

# 1.x Profile Name values by family, one per "KMIP v1.x" edition (0 … 4).
_FAMILIES_1X: dict[str, tuple[P | None, ...]] = {
    "SKLC": (
        P.SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_0,
        P.SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_1,
        P.SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_2,
        P.SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_3,
        P.SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_4,
    ),
    "SKFF": (
        P.SYMMETRIC_KEY_FOUNDRY_SERVER_KMIP_V1_0,
        P.SYMMETRIC_KEY_FOUNDRY_SERVER_KMIP_V1_1,
        P.SYMMETRIC_KEY_FOUNDRY_SERVER_KMIP_V1_2,
        P.SYMMETRIC_KEY_FOUNDRY_SERVER_KMIP_V1_3,
        P.SYMMETRIC_KEY_FOUNDRY_SERVER_KMIP_V1_4,
    ),
    "AKLC": (
        P.ASYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_0,
        P.ASYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_1,
        P.ASYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_2,
        P.ASYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_3,
        P.ASYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_4,
    ),
    "OMOS": (
        P.OPAQUE_MANAGED_OBJECT_STORE_SERVER_KMIP_V1_0,
        P.OPAQUE_MANAGED_OBJECT_STORE_SERVER_KMIP_V1_1,
        P.OPAQUE_MANAGED_OBJECT_STORE_SERVER_KMIP_V1_2,
        P.OPAQUE_MANAGED_OBJECT_STORE_SERVER_KMIP_V1_3,
        P.OPAQUE_MANAGED_OBJECT_STORE_SERVER_KMIP_V1_4,
    ),
    "CS-BC": (
        None,
        None,
        P.BASIC_CRYPTOGRAPHIC_SERVER_KMIP_V1_2,
        P.BASIC_CRYPTOGRAPHIC_SERVER_KMIP_V1_3,
        P.BASIC_CRYPTOGRAPHIC_SERVER_KMIP_V1_4,
    ),
    "SASED": (
        P.STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER_KMIP_V1_0,
        P.STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER_KMIP_V1_1,
        P.STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER_KMIP_V1_2,
        P.STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER_KMIP_V1_3,
        P.STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER_KMIP_V1_4,
    ),
    "TL": (
        P.TAPE_LIBRARY_SERVER_KMIP_V1_0,
        P.TAPE_LIBRARY_SERVER_KMIP_V1_1,
        P.TAPE_LIBRARY_SERVER_KMIP_V1_2,
        P.TAPE_LIBRARY_SERVER_KMIP_V1_3,
        P.TAPE_LIBRARY_SERVER_KMIP_V1_4,
    ),
}
_PROFILES_2X = (
    P.SYMMETRIC_KEY_LIFECYCLE_SERVER,
    P.SYMMETRIC_KEY_FOUNDRY_SERVER,
    P.ASYMMETRIC_KEY_LIFECYCLE_SERVER,
    P.OPAQUE_MANAGED_OBJECT_STORE_SERVER,
    P.BASIC_CRYPTOGRAPHIC_SERVER,
    P.STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER,
    P.TAPE_LIBRARY_SERVER,
)

# Capability Information's 1.3 fields (values from the 1.3+ enumerations).
UNWRAP_MODE_UNSPECIFIED = 0x1
DESTROY_ACTION_KEY_MATERIAL_DELETED = 0x2
SHREDDING_ALGORITHM_UNSUPPORTED = 0x3
RNG_MODE_UNSPECIFIED = 0x1
CLIENT_REGISTRATION_SERVER_PRE_GENERATED = 0x2
CLIENT_REGISTRATION_CLIENT_GENERATED = 0x4

# kmsd's extension tags (kmsd.ops.access): name, tag, Item Type value.
EXTENSIONS = (
    ("Access Grant", 0x540001, int(ItemType.STRUCTURE)),
    ("Access User", 0x540002, int(ItemType.TEXT_STRING)),
    ("Access Right", 0x540003, int(ItemType.TEXT_STRING)),
    ("Access Owner", 0x540004, int(ItemType.TEXT_STRING)),
)


def _defined(table: str, value: int, version: Version) -> bool:
    entry = REGISTRY.tables[table].by_value(value, version)
    return entry is not None and bool(entry.defined_in(version))


def profiles(version: Version) -> list[int]:
    if version >= (2, 0):
        return [int(p) for p in _PROFILES_2X]
    out: list[int] = []
    for editions in _FAMILIES_1X.values():
        for minor, name in enumerate(editions):
            if name is not None and minor <= version[1] and _defined("Profile Name", name, version):
                out.append(int(name))
    return out


def capability_fields(version: Version) -> tuple[Item, ...]:
    """The Capability Information fields KMIP 1.3 added."""
    if version < (1, 3):
        return ()
    return (
        Item(tags.UnwrapMode, ItemType.ENUMERATION, UNWRAP_MODE_UNSPECIFIED),
        Item(tags.DestroyAction, ItemType.ENUMERATION, DESTROY_ACTION_KEY_MATERIAL_DELETED),
        Item(tags.ShreddingAlgorithm, ItemType.ENUMERATION, SHREDDING_ALGORITHM_UNSUPPORTED),
        Item(tags.RNGMode, ItemType.ENUMERATION, RNG_MODE_UNSPECIFIED),
    )


def answer(functions: set[int], version: Version) -> list[Item]:
    """Items for the Query functions kmsd.ops.query does not handle itself."""
    out: list[Item] = []
    if QueryFunction.QUERY_EXTENSION_LIST in functions or QueryFunction.QUERY_EXTENSION_MAP in functions:
        full = QueryFunction.QUERY_EXTENSION_MAP in functions
        for name, tag, kind in EXTENSIONS:
            fields = [Item(tags.ExtensionName, ItemType.TEXT_STRING, name)]
            if full:
                fields.append(Item(tags.ExtensionTag, ItemType.INTEGER, tag))
                fields.append(Item(tags.ExtensionType, ItemType.INTEGER, kind))
            out.append(Item(tags.ExtensionInformation, ItemType.STRUCTURE, tuple(fields)))
    if QueryFunction.QUERY_RNGS in functions:
        rng = Item(tags.RNGAlgorithm, ItemType.ENUMERATION, int(RngAlgorithm.UNSPECIFIED))
        out.append(Item(tags.RNGParameters, ItemType.STRUCTURE, (rng,)))
    if QueryFunction.QUERY_PROFILES in functions:
        for value in profiles(version):
            profile = Item(tags.ProfileName, ItemType.ENUMERATION, value)
            out.append(Item(tags.ProfileInformation, ItemType.STRUCTURE, (profile,)))
    if QueryFunction.QUERY_CLIENT_REGISTRATION_METHODS in functions:
        for method in (CLIENT_REGISTRATION_SERVER_PRE_GENERATED, CLIENT_REGISTRATION_CLIENT_GENERATED):
            out.append(Item(tags.ClientRegistrationMethod, ItemType.ENUMERATION, method))
    if QueryFunction.QUERY_DEFAULTS_INFORMATION in functions and version >= (2, 0):
        out.append(Item(tags.DefaultsInformation, ItemType.STRUCTURE, ()))
    if QueryFunction.QUERY_STORAGE_PROTECTION_MASKS in functions and version >= (2, 0):
        mask = Item(tags.ProtectionStorageMask, ItemType.INTEGER, int(ProtectionStorageMask.SOFTWARE))
        out.append(Item(tags.ProtectionStorageMasks, ItemType.STRUCTURE, (mask,)))
    return out
