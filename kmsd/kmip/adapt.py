"""Version adapters: 1.x payloads <-> the internal 2.1-shaped payloads.

Handlers see one shape (KMIP 2.1's).  Requests from 1.x clients are lifted
here (Template-Attributes become Attributes, Attribute Names become Attribute
References …) and responses are lowered back for them.  Whatever the
version, a response never carries a tag or an attribute that the client's
version does not define: :func:`prune` removes them last.

Tables over branches: per-operation adapters are looked up by Operation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from ttlv import REGISTRY, Item, ItemType, Version

from . import attributes as A
from . import tags
from .enums import Operation
from .errors import invalid_field

V2 = (2, 0)

Adapter = Callable[[Item, Version], Item]

# 1.x template structures and their 2.x replacements.
_TEMPLATE_TAGS = {
    "TemplateAttribute": "Attributes",
    "CommonTemplateAttribute": "CommonAttributes",
    "PrivateKeyTemplateAttribute": "PrivateKeyAttributes",
    "PublicKeyTemplateAttribute": "PublicKeyAttributes",
}


def _template_to_attributes(template: Item, version: Version) -> Item:
    """Template-Attribute -> Attributes.  The Names in it reference registered
    Template objects: they travel as one ``Template`` marker that the handler
    resolves (kmsd.ops.templates)."""
    converted = []
    names = tuple(child for child in template.children if child.tag == tags.Name)
    if names:
        converted.append(Item(tags.Template, ItemType.STRUCTURE, names))
    for child in template.children:
        if child.tag == tags.Attribute:
            item, _ = A.from_v1(child, version)
            converted.append(item)
    new_tag = getattr(tags, _TEMPLATE_TAGS[REGISTRY.tag_camel(template.tag) or ""])
    return Item(new_tag, ItemType.STRUCTURE, tuple(converted))


def _lift_generic(payload: Item, version: Version) -> Item:
    """Template-Attributes anywhere at the top of the payload become Attributes."""
    template_tags = {getattr(tags, name) for name in _TEMPLATE_TAGS}
    children = tuple(_template_to_attributes(c, version) if c.tag in template_tags else c for c in payload.children)
    return Item(payload.tag, payload.type, children)


def _lift_get_attributes(payload: Item, version: Version) -> Item:
    children = []
    for c in payload.children:
        if c.tag == tags.AttributeName and isinstance(c.value, str):
            children.append(_reference_for_name(c.value, version))
        else:
            children.append(c)
    return Item(payload.tag, payload.type, tuple(children))


def _reference_for_name(name: str, version: Version) -> Item:
    if name.startswith(A.CUSTOM_PREFIXES):
        vendor, _, short = name.partition("-")
        return Item(
            tags.AttributeReference,
            ItemType.STRUCTURE,
            (
                Item(tags.VendorIdentification, ItemType.TEXT_STRING, vendor),
                Item(tags.AttributeName, ItemType.TEXT_STRING, short),
            ),
        )
    entry = REGISTRY.tags.by_name(name, version)
    if entry is None:
        # Unknown names match nothing, as the spec asks of Get Attributes.
        return Item(
            tags.AttributeReference, ItemType.STRUCTURE, (Item(tags.AttributeName, ItemType.TEXT_STRING, name),)
        )
    return Item(tags.AttributeReference, ItemType.ENUMERATION, entry.value)


def _lift_locate(payload: Item, version: Version) -> Item:
    attrs = []
    rest = []
    for c in payload.children:
        if c.tag == tags.Attribute:
            item, _ = A.from_v1(c, version)
            attrs.append(item)
        else:
            rest.append(c)
    return Item(payload.tag, payload.type, (*rest, Item(tags.Attributes, ItemType.STRUCTURE, tuple(attrs))))


def _lift_single_attribute(new_tag_name: str) -> Adapter:
    """Add/Modify Attribute: a 1.x ``Attribute`` becomes NewAttribute (+ index)."""

    def lift(payload: Item, version: Version) -> Item:
        children = []
        for c in payload.children:
            if c.tag == tags.Attribute:
                item, index = A.from_v1(c, version)
                children.append(Item(getattr(tags, new_tag_name), ItemType.STRUCTURE, (item,)))
                if index is not None:
                    children.append(Item(tags.AttributeIndex, ItemType.INTEGER, index))
            else:
                children.append(c)
        return Item(payload.tag, payload.type, tuple(children))

    return lift


def _lift_delete_attribute(payload: Item, version: Version) -> Item:
    children = []
    for c in payload.children:
        if c.tag == tags.AttributeName and isinstance(c.value, str):
            children.append(_reference_for_name(c.value, version))
        else:
            children.append(c)
    return Item(payload.tag, payload.type, tuple(children))


_LIFT: dict[int, Adapter] = {
    Operation.GET_ATTRIBUTES: _lift_get_attributes,
    Operation.LOCATE: _lift_locate,
    Operation.ADD_ATTRIBUTE: _lift_single_attribute("NewAttribute"),
    Operation.MODIFY_ATTRIBUTE: _lift_single_attribute("NewAttribute"),
    Operation.DELETE_ATTRIBUTE: _lift_delete_attribute,
    # Put / Notify received from a peer (kmsd.ops.notify_put): repeated Attribute -> Attributes, as for Locate.
    Operation.PUT: _lift_locate,
    Operation.NOTIFY: _lift_locate,
}


def lift_request(operation: int, payload: Item, version: Version) -> Item:
    """A request payload of ``version`` -> the internal 2.1 shape."""
    if version >= V2:
        return payload
    payload = _lift_generic(payload, version)
    adapter = _LIFT.get(operation)
    return adapter(payload, version) if adapter else payload


# -- responses ------------------------------------------------------------------
def _lower_get_attributes(payload: Item, version: Version) -> Item:
    children: list[Item] = []
    for c in payload.children:
        if c.tag == tags.Attributes:
            children.extend(A.list_to_v1(c.children, version))
        else:
            children.append(c)
    return Item(payload.tag, payload.type, tuple(children))


def _lower_get_attribute_list(payload: Item, version: Version) -> Item:
    children: list[Item] = []
    for c in payload.children:
        if c.tag != tags.AttributeReference:
            children.append(c)
            continue
        if c.type is ItemType.ENUMERATION and isinstance(c.value, int):
            entry = REGISTRY.tags.by_value(c.value, version)
            if entry is None or not entry.defined_in(version) or not A.attribute_defined(entry.name, version):
                continue
            name = entry.name
        else:
            vendor, short = c.get(tags.VendorIdentification), c.get(tags.AttributeName)
            name = f"{vendor!s}-{short!s}" if vendor else f"{short!s}"
        children.append(Item(tags.AttributeName, ItemType.TEXT_STRING, name))
    return Item(payload.tag, payload.type, tuple(children))


def _lower_changed_attribute(payload: Item, version: Version) -> Item:
    """Add/Modify/Delete Attribute: 1.x responses echo the attribute."""
    uid = payload.find(tags.UniqueIdentifier)
    index = payload.get(tags.AttributeIndex)
    changed = payload.find(tags.NewAttribute) or payload.find(tags.CurrentAttribute)
    children: list[Item] = [uid] if uid else []
    if changed is not None and changed.children:
        converted = A.to_v1(changed.children[0], version, index if isinstance(index, int) else None)
        if converted is not None:
            children.append(converted)
    return Item(payload.tag, payload.type, tuple(children))


def _strip_changed_attribute(payload: Item, version: Version) -> Item:
    """2.x Add/Modify/Delete Attribute responses carry only the identifier."""
    keep = {tags.UniqueIdentifier}
    return Item(payload.tag, payload.type, tuple(c for c in payload.children if c.tag in keep))


def _lower_attributes_in_payload(payload: Item, version: Version) -> Item:
    """Create/Register/Re-Key responses: server-set attributes as a Template-Attribute."""
    children: list[Item] = []
    for c in payload.children:
        if c.tag == tags.Attributes:
            converted = A.list_to_v1(c.children, version)
            if converted:
                children.append(Item(tags.TemplateAttribute, ItemType.STRUCTURE, tuple(converted)))
        else:
            children.append(c)
    return Item(payload.tag, payload.type, tuple(children))


def _lower_encrypt(payload: Item, version: Version) -> Item:
    """KMIP 1.2/1.3 have no Authenticated Encryption Tag field: the tag follows the ciphertext."""
    tag = payload.get(tags.AuthenticatedEncryptionTag)
    if version >= (1, 4) or not isinstance(tag, bytes):
        return payload
    data = payload.get(tags.Data)
    joined = Item(tags.Data, ItemType.BYTE_STRING, (data if isinstance(data, bytes) else b"") + tag)
    children = [c for c in payload.children if c.tag not in (tags.Data, tags.AuthenticatedEncryptionTag)]
    return Item(payload.tag, payload.type, (*children[:1], joined, *children[1:]))


_LOWER: dict[int, Adapter] = {
    Operation.ENCRYPT: _lower_encrypt,
    Operation.GET_ATTRIBUTES: _lower_get_attributes,
    Operation.GET_ATTRIBUTE_LIST: _lower_get_attribute_list,
    Operation.ADD_ATTRIBUTE: _lower_changed_attribute,
    Operation.MODIFY_ATTRIBUTE: _lower_changed_attribute,
    Operation.DELETE_ATTRIBUTE: _lower_changed_attribute,
    Operation.CREATE: _lower_attributes_in_payload,
    Operation.REGISTER: _lower_attributes_in_payload,
}


def _lower_pkcs12_key_value(payload: Item, version: Version) -> Item:
    """KMIP 1.4 carries a PKCS#12 bag as the Key Value byte string itself."""
    if version < (1, 3):
        return payload

    def fix(item: Item) -> Item:
        if item.tag == tags.KeyBlock and item.get(tags.KeyFormatType) == 0x16:  # PKCS#12: the bag itself
            value = item.find(tags.KeyValue)
            bag = value.find(tags.KeyMaterial) if value is not None and value.type is ItemType.STRUCTURE else None
            if bag is not None:
                return Item(item.tag, item.type, tuple(
                    Item(tags.KeyValue, ItemType.BYTE_STRING, bag.value) if c.tag == tags.KeyValue else c
                    for c in item.children
                ))  # fmt: skip
        if item.type is ItemType.STRUCTURE:
            return Item(item.tag, item.type, tuple(fix(c) for c in item.children))
        return item

    return fix(payload)


_LOWER[Operation.GET] = _lower_pkcs12_key_value
_LOWER[Operation.EXPORT] = _lower_attributes_in_payload  # 1.4: the attributes as a Template-Attribute
_LOWER_V2: dict[int, Adapter] = {
    Operation.ADD_ATTRIBUTE: _strip_changed_attribute,
    Operation.MODIFY_ATTRIBUTE: _strip_changed_attribute,
    Operation.DELETE_ATTRIBUTE: _strip_changed_attribute,
}


def lower_response(operation: int, payload: Item, version: Version) -> Item:
    """An internal response payload -> the shape ``version`` defines."""
    table = _LOWER if version < V2 else _LOWER_V2
    adapter = table.get(operation)
    if adapter is not None:
        payload = adapter(payload, version)
    return prune(payload, version)


def prune(item: Item, version: Version) -> Item:
    """Drop every item (and attribute) whose tag ``version`` does not define,
    and every enumeration value it does not define, below ``item``.

    Runs on every response, so the look-ups are cached and an unchanged
    subtree is returned as it is rather than rebuilt."""
    if item.type is not ItemType.STRUCTURE:
        return item
    children = item.children
    kept = []
    changed = False
    for child in children:
        if not _tag_defined(child.tag, version) or (
            child.type is ItemType.ENUMERATION
            and isinstance(child.value, int)
            and not _enum_defined(child.tag, child.value, version)
        ):
            changed = True
            continue
        pruned = prune(child, version) if child.type is ItemType.STRUCTURE else child
        if pruned is not child and _lost_its_meaning(child, pruned):
            changed = True
            continue
        changed = changed or pruned is not child
        kept.append(pruned)
    return Item(item.tag, item.type, tuple(kept)) if changed else item


#: Children without which a structure says nothing: a Link whose Link Type the
#: version lacks (a 2.x Wrapping Key Link to a 1.x client), a 1.x Attribute
#: whose value went with it.
_DEFINING_CHILDREN = {tags.LinkType, tags.AttributeValue}


def _lost_its_meaning(before: Item, after: Item) -> bool:
    return any(
        before.find(t) is not None and after.find(t) is None for t in _DEFINING_CHILDREN
    )


@lru_cache(maxsize=4096)
def _tag_defined(tag: int, version: Version) -> bool:
    if tag >> 16 != 0x42:
        return True  # extension tags are the client's and the server's business
    entry = REGISTRY.tags.by_value(tag, version)
    return entry is not None and entry.defined_in(version)


@lru_cache(maxsize=8192)
def _enum_defined(tag: int, value: int, version: Version) -> bool:
    table = REGISTRY.enum_table_for_tag(tag)
    if table is None or value & 0x80000000 or table.name == "Tag":
        return True  # extensions and enumerations we cannot judge pass through
    entry = table.by_value(value, version)
    return entry is None or entry.defined_in(version)


def enum_defined(tag: int, value: int, version: Version) -> bool:
    """Whether ``version`` defines this value of the enumeration at ``tag`` (extensions count as defined)."""
    return _enum_defined(tag, value, version)


def require_structure(item: Item | None, what: str) -> Item:
    if item is None or item.type is not ItemType.STRUCTURE:
        raise invalid_field(f"{what} must be a structure")
    return item
