"""Run-time values of one file: placeholder bindings and values carried forward.

Theory of operation: a :class:`Bindings` lives for one file.  Before a
request is sent, :meth:`Bindings.prepare` walks it and replaces each
placeholder (``$NOW±k`` -> the current time plus k seconds; a bound name ->
its value; an unbound non-identifier -> the latest actual value of the same
tag, see :mod:`conformance.rules`) and each literal that an earlier expected
response printed where the server answered something else (the 1.0 files
print literal identifiers and random outputs).  It also records every value
the client has sent, which the comparer needs for the "by origin" rule.
After a response is compared, the comparer's new bindings are committed with
:meth:`Bindings.commit`, and :meth:`Bindings.observe` records the actual
values by tag.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from ttlv import Item, ItemType, Placeholder, Value

from . import rules


class Unbound(Exception):
    """A request uses a placeholder that nothing has given a value."""

    def __init__(self, name: str) -> None:
        super().__init__(f"placeholder {name} has no value yet (no earlier response showed it)")
        self.name = name


def placeholder_name(item: Item) -> str | None:
    value = item.value
    if isinstance(value, Placeholder):
        return value.name
    if item.type is ItemType.TEXT_STRING and rules.is_placeholder_text(value):
        assert isinstance(value, str)
        return value
    return None


def now_offset(name: str) -> int | None:
    """Seconds of ``$NOW±k``, or None for any other name."""
    match = rules.NOW.match(name)
    if match is None:
        return None
    sign, digits = match.groups()
    return 0 if digits is None else (int(digits) if sign == "+" else -int(digits))


def _hashable(value: Value) -> object:
    return value if not isinstance(value, tuple) or isinstance(value, Placeholder) else None


class Bindings:
    def __init__(self) -> None:
        self.values: dict[str, Value] = {}
        self.by_tag: dict[int, Value] = {}
        self.literals: dict[tuple[int, object], Value] = {}
        self.client_values: set[object] = set()

    # -- requests ------------------------------------------------------------
    def prepare(self, request: Item, now: datetime | None = None) -> Item:
        """The request with every run-time value filled in (raises :class:`Unbound`)."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        prepared = self._fill(request, moment)
        for item in prepared.walk():
            if item.type is not ItemType.STRUCTURE:
                self.client_values.add(_hashable(item.value))
        return prepared

    def _fill(self, item: Item, now: datetime) -> Item:
        if item.type is ItemType.STRUCTURE:
            return Item(item.tag, item.type, tuple(self._fill(child, now) for child in item.children))
        name = placeholder_name(item)
        if name is None:
            key = (item.tag, _hashable(item.value))
            return Item(item.tag, item.type, self.literals[key]) if key in self.literals else item
        return Item(item.tag, item.type, self._value_for(name, item, now))

    def _value_for(self, name: str, item: Item, now: datetime) -> Value:
        offset = now_offset(name)
        if offset is not None:
            return now + timedelta(seconds=offset)
        if name in self.values:
            return self.values[name]
        if rules.RANDOM.search(name):
            fresh: Value = secrets.token_hex(16) if item.type is ItemType.TEXT_STRING else secrets.token_bytes(16)
            self.values[name] = fresh
            return fresh
        if not rules.IDENTITY.match(name) and item.tag in self.by_tag:
            return self.by_tag[item.tag]
        raise Unbound(name)

    # -- responses -----------------------------------------------------------
    def commit(self, new_values: Mapping[str, Value], literals: Mapping[tuple[int, object], Value]) -> None:
        self.values.update(new_values)
        self.literals.update(literals)

    def observe(self, response: Item) -> None:
        for item in response.walk():
            if item.type is not ItemType.STRUCTURE:
                self.by_tag[item.tag] = item.value

    def sent_by_client(self, value: Value) -> bool:
        return _hashable(value) in self.client_values
