"""Object groups: which member Locate serves for Group Member Fresh / Default.

Theory of operation.  The spec leaves both choices to "server policy"
(KMIP 1.1+ Locate: "If there are no more fresh objects in the group, the
server MAY choose to generate a new object on-the-fly, based on server policy.
If the value specified for Object Group Member is 'Group Member Default', the
server locates the default object as defined by server policy").  kmsd's
policy, documented here and fixed by tests/test_version_details.py:

- A group is served as a queue: matching members oldest first.
- Group Member Fresh: only fresh members (never served by Get), oldest first.
- Group Member Default: the oldest fresh member; when none is fresh, the
  oldest member.  Since Get clears Fresh, Locate+Get pairs walk the group in
  creation order and then start again from the oldest (round robin).
- On-the-fly generation only for the server's own default group
  (``DEFAULT_OBJECT_GROUP``, which cryptographic objects created without an
  Object Group join): when a Group Member Fresh Locate on it finds nothing and
  asks for nothing but the group (optionally Object Type Symmetric Key,
  Cryptographic Algorithm and Length), the server creates a new symmetric key
  in it (AES-256 unless asked otherwise) and returns that.  Groups a client
  names itself are client-managed: an exhausted one stays empty.
"""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicAlgorithm, CryptographicUsageMask, ObjectGroupMember, ObjectType
from ttlv import Item, ItemType

from .context import Context
from .newobject import DEFAULT_OBJECT_GROUP

#: What an on-the-fly Locate may ask for besides the group (attribute keys).
_GENERATABLE = {"Object Group", "Object Type", "Cryptographic Algorithm", "Cryptographic Length"}


def order_members(found: list[str], fresh: set[str], member: int) -> list[str]:
    """``found`` is in creation order (oldest first)."""
    if member == ObjectGroupMember.GROUP_MEMBER_DEFAULT:
        return [u for u in found if u in fresh] + [u for u in found if u not in fresh]
    return list(found)


def may_generate(member: object, wanted: dict[str, list[Item]]) -> bool:
    if member != ObjectGroupMember.GROUP_MEMBER_FRESH:
        return False
    groups = wanted.get("Object Group", [])
    if len(groups) != 1 or groups[0].value != DEFAULT_OBJECT_GROUP or not set(wanted) <= _GENERATABLE:
        return False
    types = wanted.get("Object Type", [])
    return all(t.value == ObjectType.SYMMETRIC_KEY for t in types) and all(
        len(wanted.get(k, [])) <= 1 for k in _GENERATABLE
    )


def generate_member(ctx: Context, wanted: dict[str, list[Item]]) -> str:
    from .create import create  # the Create handler does the policy checks

    def given(key: str, tag: int, default: int) -> Item:
        items = wanted.get(key, [])
        value = items[0].value if items and isinstance(items[0].value, int) else default
        kind = ItemType.ENUMERATION if tag == tags.CryptographicAlgorithm else ItemType.INTEGER
        return Item(tag, kind, value)

    usage = int(CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT)
    attrs = (
        given("Cryptographic Algorithm", tags.CryptographicAlgorithm, int(CryptographicAlgorithm.AES)),
        given("Cryptographic Length", tags.CryptographicLength, 256),
        Item(tags.CryptographicUsageMask, ItemType.INTEGER, usage),
        Item(tags.ObjectGroup, ItemType.TEXT_STRING, DEFAULT_OBJECT_GROUP),
    )
    request = Item(
        tags.RequestPayload,
        ItemType.STRUCTURE,
        (
            Item(tags.ObjectType, ItemType.ENUMERATION, int(ObjectType.SYMMETRIC_KEY)),
            Item(tags.Attributes, ItemType.STRUCTURE, attrs),
        ),
    )
    response = create(ctx, request)
    uid = response.get(tags.UniqueIdentifier)
    assert isinstance(uid, str)
    return uid
