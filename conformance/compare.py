"""Compare an actual response message with the expected one, under :mod:`rules`.

Theory of operation: :meth:`Comparer.response` walks the expected tree and
the actual tree together and returns the first :class:`Mismatch` (its path,
expected and actual text) or None.  Structures are compared in order —
KMIP fields have a defined order — except the lists the rules make sets,
which are matched element by element (expected ⊆ actual, or the same
multiset for Locate results).  Set matching tries candidates; a try that
fails must leave no bindings behind, so the comparer's proposed placeholder
bindings and literal carries live in two dicts that are snapshotted around
each try and committed to :class:`~conformance.bindings.Bindings` by the
runner after the whole response has been judged.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import ttlv
from ttlv import REGISTRY, Item, ItemType, Value, Version

from . import rules
from .bindings import Bindings, _hashable, now_offset, placeholder_name

T = ItemType
BY_ORIGIN_TYPES = frozenset({T.BYTE_STRING, T.BIG_INTEGER, T.DATE_TIME, T.DATE_TIME_EXTENDED})
SHOW_LIMIT = 160


@dataclass(frozen=True, slots=True)
class Mismatch:
    path: tuple[str, ...]
    expected: str
    actual: str

    @property
    def where(self) -> str:
        return " / ".join(self.path)

    def __str__(self) -> str:
        return f"{self.where}: expected {self.expected}, actual {self.actual}"


@dataclass(frozen=True, slots=True)
class Scope:
    """What the comparer knows about the current position."""

    operation: int | None = None
    request_payload: Item | None = None
    attribute_name: str | None = None  # of the enclosing 1.x Attribute
    logical: int | None = None  # the attribute's tag, for its Attribute Value
    parent: int | None = None
    by_origin: bool = False


def _short(text: str) -> str:
    return text if len(text) <= SHOW_LIMIT else text[: SHOW_LIMIT - 1] + "…"


class Comparer:
    def __init__(self, bindings: Bindings, version: Version, bends: tuple[rules.Bend, ...] = ()) -> None:
        self.bindings = bindings
        self.version = version
        self.bends = bends
        self.new: dict[str, Value] = {}
        self.literals: dict[tuple[int, object], Value] = {}

    # -- presentation ----------------------------------------------------------
    def name(self, tag: int) -> str:
        return REGISTRY.tag_camel(tag, self.version) or f"0x{tag:06x}"

    def show(self, item: Item, attribute_name: str | None = None) -> str:
        try:
            if item.type is T.STRUCTURE:
                return _short(ttlv.xml.encode(item, self.version, indent=False))
            return _short(f"{self.name(item.tag)}={ttlv.xml.value_text(item, self.version, attribute_name)}")
        except ttlv.TTLVError:
            return _short(repr(item))

    def label(self, item: Item, siblings: tuple[Item, ...]) -> str:
        if item.tag == rules.ATTRIBUTE:
            return f"Attribute[{item.get(rules.ATTRIBUTE_NAME)!s}]"
        same = [s for s in siblings if s.tag == item.tag]
        if len(same) > 1 or item.tag == rules.BATCH_ITEM:
            return f"{self.name(item.tag)}[{next(i for i, s in enumerate(same) if s is item)}]"
        return self.name(item.tag)

    # -- entry -------------------------------------------------------------------
    def response(self, index: int, expected: Item, actual: Item, request: Item) -> Mismatch | None:
        self._request_items = request.find_all(rules.BATCH_ITEM)
        root = (f"msg {index}",)
        # Batch items first: when the counts differ, what went wrong in the
        # first differing item says more than "Batch Count: 8 vs 1".
        pairs = zip(expected.find_all(rules.BATCH_ITEM), actual.find_all(rules.BATCH_ITEM), strict=False)
        for position, (e, a) in enumerate(pairs):
            self._batch_seen = position
            mismatch = self.item(e, a, (*root, f"BatchItem[{position}]"), Scope())
            if mismatch is not None:
                return mismatch
        self._batch_seen = 0
        return self.item(expected, actual, root, Scope())

    def _try(self, attempt: Callable[[], Mismatch | None]) -> Mismatch | None:
        saved = dict(self.new), dict(self.literals)
        result = attempt()
        if result is not None:
            self.new, self.literals = saved
        return result

    # -- items -------------------------------------------------------------------
    def item(self, e: Item, a: Item, path: tuple[str, ...], scope: Scope) -> Mismatch | None:
        where = " / ".join(path)
        if any(where.startswith(bend.path) for bend in self.bends):
            return None
        if e.tag != a.tag:
            return Mismatch(path, self.name(e.tag), self.name(a.tag))
        if e.type is not a.type:
            return Mismatch(path, f"a {e.type.camel_name}", f"a {a.type.camel_name}: {self.show(a)}")
        logical = scope.logical if e.tag == rules.ATTRIBUTE_VALUE and scope.logical is not None else e.tag
        name = placeholder_name(e)
        if logical in rules.VARIABLE:
            if name is not None and now_offset(name) is None and not rules.IDENTITY.match(name):
                self.new[name] = a.value
            return None
        if name is not None:
            return self._placeholder(name, a, path)
        if logical in rules.IDENTIFIERS:
            self._carry(logical, e.value, a.value)
            return None
        if e.type is T.STRUCTURE:
            inner = dataclasses.replace(scope, by_origin=scope.by_origin or logical in rules.BY_ORIGIN)
            return self.structure(e, a, path, inner)
        if (logical in rules.BY_ORIGIN or scope.by_origin) and e.type in BY_ORIGIN_TYPES:
            if not self.bindings.sent_by_client(e.value):
                self._carry(logical, e.value, a.value)
                return None
        if logical == rules.KEY_FORMAT_TYPE and scope.parent == rules.KEY_BLOCK and not self._asked_format(scope):
            return None
        if e.value != a.value:
            return Mismatch(path, self.show(e, scope.attribute_name), self.show(a, scope.attribute_name))
        return None

    def _placeholder(self, name: str, a: Item, path: tuple[str, ...]) -> Mismatch | None:
        if now_offset(name) is not None:
            return None  # §PV / README: $NOW in a response is any time
        if rules.IDENTITY.match(name):
            bound = self.new.get(name, self.bindings.values.get(name))
            if bound is None:
                self.new[name] = a.value
            elif bound != a.value:
                return Mismatch(path, f"{name} (bound to {bound!r})", repr(a.value))
            return None
        self.new[name] = a.value
        return None

    def _carry(self, logical: int, expected: Value, actual: Value) -> None:
        if expected != actual:
            self.literals[(logical, _hashable(expected))] = actual

    @staticmethod
    def _asked_format(scope: Scope) -> bool:
        payload = scope.request_payload
        return payload is not None and any(i.tag == rules.KEY_FORMAT_TYPE for i in payload.walk())

    # -- structures ---------------------------------------------------------------
    def _set_rule(self, e: Item, scope: Scope) -> tuple[frozenset[int] | None, bool]:
        """(tags of the children matched as a set — None: all —, extras allowed)."""
        if e.tag == rules.ATTRIBUTES:
            return None, True
        if e.tag == rules.RESPONSE_PAYLOAD:
            op = scope.operation
            if op == rules.OP_QUERY:
                return None, True
            if op == rules.OP_LOCATE:
                return frozenset({rules.UNIQUE_IDENTIFIER}), False
            if op == rules.OP_GET_ATTRIBUTE_LIST:
                return rules.ATTRIBUTE_LIST_CHILDREN | rules.ATTRIBUTE_SET_CHILDREN, True
            if op == rules.OP_DISCOVER_VERSIONS:
                asked = scope.request_payload is not None and scope.request_payload.find(rules.PROTOCOL_VERSION)
                if not asked:
                    return frozenset({rules.PROTOCOL_VERSION}), True
        return rules.ATTRIBUTE_SET_CHILDREN, True

    def structure(self, e: Item, a: Item, path: tuple[str, ...], scope: Scope) -> Mismatch | None:
        set_tags, extras = self._set_rule(e, scope)

        def in_set(item: Item) -> bool:
            return set_tags is None or item.tag in set_tags

        child_scope = dataclasses.replace(scope, parent=e.tag, logical=None, attribute_name=None)
        if e.tag == rules.ATTRIBUTE:
            attribute_name = e.get(rules.ATTRIBUTE_NAME)
            if isinstance(attribute_name, str):
                child_scope = dataclasses.replace(
                    child_scope, attribute_name=attribute_name, logical=_tag_or_none(attribute_name)
                )
        if e.tag == rules.BATCH_ITEM:
            mismatch, child_scope = self._batch_item(e, a, path, child_scope)
            if mismatch is not None:
                return mismatch
        ordered = self._ordered(
            e.children,
            tuple(c for c in e.children if not in_set(c)),
            tuple(c for c in a.children if not in_set(c)),
            path,
            child_scope,
        )
        if ordered is not None:
            return ordered
        return self._unordered(
            e.children,
            tuple(c for c in e.children if in_set(c)),
            tuple(c for c in a.children if in_set(c)),
            extras,
            path,
            child_scope,
        )

    def _batch_item(self, e: Item, a: Item, path: tuple[str, ...], scope: Scope) -> tuple[Mismatch | None, Scope]:
        index = self._batch_seen
        self._batch_seen += 1
        request_item = self._request_items[index] if index < len(self._request_items) else None
        operation = e.get(rules.OPERATION)
        if not isinstance(operation, int) and request_item is not None:
            operation = request_item.get(rules.OPERATION)
        payload = request_item.find(rules.REQUEST_PAYLOAD) if request_item is not None else None
        scope = dataclasses.replace(
            scope, operation=operation if isinstance(operation, int) else None, request_payload=payload
        )
        expected_status, actual_status = e.find(rules.RESULT_STATUS), a.find(rules.RESULT_STATUS)
        if expected_status is not None and actual_status is not None and expected_status.value != actual_status.value:
            extra = [self.show(i) for i in (a.find(rules.RESULT_REASON), a.find(rules.RESULT_MESSAGE)) if i is not None]
            detail = f" ({', '.join(extra)})" if extra else ""
            return Mismatch(
                (*path, "ResultStatus"), self.show(expected_status), self.show(actual_status) + detail
            ), scope
        return None, scope

    def _may_be_absent(self, item: Item) -> bool:
        return item.tag in rules.OPTIONAL or (item.tag == rules.ATTRIBUTE_INDEX and item.value == 0)

    _may_be_extra = _may_be_absent

    def _ordered(
        self,
        siblings: tuple[Item, ...],
        expected: tuple[Item, ...],
        actual: tuple[Item, ...],
        path: tuple[str, ...],
        scope: Scope,
    ) -> Mismatch | None:
        position = 0
        for child in expected:
            found = next((k for k in range(position, len(actual)) if actual[k].tag == child.tag), None)
            child_path = (*path, self.label(child, siblings))
            if found is None:
                if self._may_be_absent(child):
                    continue
                return Mismatch(child_path, self.show(child, scope.attribute_name), "absent")
            for skipped in actual[position:found]:
                if not self._may_be_extra(skipped):
                    return Mismatch((*path, self.name(skipped.tag)), "absent (or later)", self.show(skipped))
            mismatch = self.item(child, actual[found], child_path, scope)
            if mismatch is not None:
                return mismatch
            position = found + 1
        for extra in actual[position:]:
            if not self._may_be_extra(extra):
                return Mismatch((*path, self.name(extra.tag)), "absent", self.show(extra))
        return None

    def _unordered(
        self,
        siblings: tuple[Item, ...],
        expected: tuple[Item, ...],
        actual: tuple[Item, ...],
        extras: bool,
        path: tuple[str, ...],
        scope: Scope,
    ) -> Mismatch | None:
        used = [False] * len(actual)
        # Items whose identifiers are already known go first, so that an
        # unbound placeholder binds to what is left, not to a known object.
        for child in sorted(expected, key=self._unbound_count):
            child_path = (*path, self.label(child, siblings))
            for k, candidate in enumerate(actual):
                if used[k] or candidate.tag != child.tag:
                    continue
                attempt = functools.partial(self.item, child, candidate, child_path, scope)
                if self._try(attempt) is None:
                    used[k] = True
                    break
            else:
                same_key = [c for k, c in enumerate(actual) if not used[k] and _key(c) == _key(child)]
                # A near miss (same attribute, other value) shows the inner
                # difference; in a list of plain values it would mislead.
                if same_key and (child.type is T.STRUCTURE or scope.parent == rules.ATTRIBUTES):
                    return self.item(child, same_key[0], child_path, scope) or Mismatch(
                        child_path, self.show(child), "no matching item"
                    )
                return Mismatch(child_path, self.show(child, scope.attribute_name), "absent")
        if not extras:
            for k, candidate in enumerate(actual):
                if not used[k]:
                    return Mismatch((*path, self.name(candidate.tag)), "absent", self.show(candidate))
        return None

    def _unbound_count(self, item: Item) -> int:
        count = 0
        for leaf in item.walk():
            name = placeholder_name(leaf)
            if name is not None and rules.IDENTITY.match(name):
                count += name not in self.new and name not in self.bindings.values
        return count


def _key(item: Item) -> tuple[object, ...]:
    if item.tag == rules.ATTRIBUTE:
        return (item.tag, item.get(rules.ATTRIBUTE_NAME))
    return (item.tag,)


def _tag_or_none(attribute_name: str) -> int | None:
    try:
        return REGISTRY.tag(attribute_name)
    except ttlv.UnknownName:
        return None
