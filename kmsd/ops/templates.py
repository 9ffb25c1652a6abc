"""Templates (KMIP 1.x, removed in 2.0): named sets of attributes.

A client registers a Template object (a list of 1.x Attributes, one of which
is the template's own Name) and later names it in the Template-Attribute of a
Create or Register; the template's attributes then apply to the new object,
except where the request gives a single-valued attribute itself.  The 1.x
adapter turns a template reference (the Name inside a Template-Attribute) into
a ``Template`` marker holding those Names; :func:`expand` resolves it.
"""

from __future__ import annotations

from kmsd.kmip import attributes as A
from kmsd.kmip import tags
from kmsd.kmip.enums import ObjectType, ResultReason
from kmsd.kmip.errors import KmipError
from kmsd.store.base import LocateFilter
from ttlv import Item

from .attribute_rules import rule_for
from .context import Context
from .objects import ManagedObject


def own_attributes(template: Item, version: tuple[int, int]) -> tuple[tuple[Item, ...], tuple[Item, ...]]:
    """A Template object's 1.x Attributes as 2.x items: (its Names, the rest)."""
    names: list[Item] = []
    rest: list[Item] = []
    for attribute in template.find_all(tags.Attribute):
        item, _ = A.from_v1(attribute, version)
        (names if item.tag == tags.Name else rest).append(item)
    return tuple(names), tuple(rest)


def expand(ctx: Context, attrs: tuple[Item, ...]) -> tuple[Item, ...]:
    """Replace template references in ``attrs`` by the templates' attributes."""
    markers = [a for a in attrs if a.tag == tags.Template]
    if not markers:
        return attrs
    explicit = tuple(a for a in attrs if a.tag != tags.Template)
    given = {A.attribute_key(a) for a in explicit}
    inherited: list[Item] = []
    for marker in markers:
        for name in marker.find_all(tags.Name):
            for item in _template_attributes(ctx, name):
                # A single-valued attribute given in the request wins over the template's.
                if rule_for(item).multi or A.attribute_key(item) not in given:
                    inherited.append(item)
    return (*inherited, *explicit)


def _template_attributes(ctx: Context, name: Item) -> tuple[Item, ...]:
    value = name.get(tags.NameValue)
    if not isinstance(value, str):
        raise KmipError(ResultReason.INVALID_FIELD, "a template reference needs a Name Value")
    flt = LocateFilter(object_types=(int(ObjectType.TEMPLATE),), name=value, visible_to=ctx.user)
    for stored in ctx.tx.locate(flt):
        template = ManagedObject.from_stored(stored).obj
        if template is not None:
            return own_attributes(template, ctx.version)[1]
    raise KmipError(ResultReason.ITEM_NOT_FOUND, f"template {value!r} not found")
