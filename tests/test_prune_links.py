"""A response never carries a Link its version cannot express (a 2.x-only Link Type to a 1.x client)."""

from __future__ import annotations

from kmsd.kmip.adapt import prune
from kmsd.kmip.enums import LinkType
from ttlv import REGISTRY, Item, ItemType

from .kmip_builders import enum, s, text

WRAPPING_KEY_LINK = REGISTRY.enum("Link Type", "Wrapping Key Link")  # 2.0+


def _v1_link(link_type: int, uid: str) -> Item:
    value = Item(REGISTRY.tag("Attribute Value"), ItemType.STRUCTURE, (
        enum("Link Type", link_type), text("Linked Object Identifier", uid),
    ))  # fmt: skip
    return s("Attribute", text("Attribute Name", "Link"), value)


def test_a_1x_response_drops_the_whole_link_not_only_its_type() -> None:
    payload = s(
        "Response Payload",
        text("Unique Identifier", "k"),
        _v1_link(LinkType.PUBLIC_KEY_LINK, "pub"),
        _v1_link(WRAPPING_KEY_LINK, "kek"),
    )
    pruned = prune(payload, (1, 4))
    attrs = pruned.find_all(REGISTRY.tag("Attribute"))
    assert len(attrs) == 1
    value = attrs[0].find(REGISTRY.tag("Attribute Value"))
    assert value is not None and value.get(REGISTRY.tag("Linked Object Identifier")) == "pub"
    assert prune(payload, (2, 0)) is payload  # 2.0 defines both: nothing to change


def test_a_2x_link_structure_is_dropped_when_its_type_is_undefined() -> None:
    wrapping = s("Link", enum("Link Type", WRAPPING_KEY_LINK), text("Linked Object Identifier", "kek"))
    public = s("Link", enum("Link Type", LinkType.PUBLIC_KEY_LINK), text("Linked Object Identifier", "p"))
    pruned = prune(s("Response Payload", wrapping, public), (1, 4))
    assert pruned.children == (public,)
