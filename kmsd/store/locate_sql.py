"""The Locate pre-filter as SQL, shared by the three stores.

Theory of operation: the filters are the same everywhere — object type and
state lists, name and group through their index tables, algorithm, length,
and the access filter — and every one can be served by an index.  What
differs per database is only how a parameter is written, how a list binds,
and how "a grant holds any of these operations" is asked of a JSON list.
Each store passes a :class:`Dialect` with those three pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .base import LocateFilter

Clause = tuple[str, list[object]]


@dataclass(frozen=True, slots=True)
class Dialect:
    #: The parameter marker ("?" or "%s").
    p: str
    #: ``column`` is one of ``values`` (non-empty).
    one_of: Callable[[str, Sequence[int]], Clause]
    #: Owned by ``user``, or granted to ``user`` or ``*`` with any of ``operations``.
    visible: Callable[[str, Sequence[str]], Clause]


def locate_query(flt: LocateFilter, d: Dialect) -> Clause | None:
    """The SQL selecting matching ``sequence`` numbers, or None if none can match."""
    where: list[str] = []
    params: list[object] = []

    def add(clause: Clause) -> None:
        where.append(clause[0])
        params.extend(clause[1])

    for column, values in (("o.object_type", flt.object_types), ("o.state", flt.states)):
        if values is not None:
            if not values:
                return None
            add(d.one_of(column, values))
    if flt.name is not None:
        add((f"o.id IN (SELECT n.id FROM object_names n WHERE n.name = {d.p})", [flt.name]))
    if flt.object_group is not None:
        add((f"o.id IN (SELECT g.id FROM object_groups g WHERE g.grp = {d.p})", [flt.object_group]))
    if flt.cryptographic_algorithm is not None:
        add((f"o.cryptographic_algorithm = {d.p}", [flt.cryptographic_algorithm]))
    if flt.cryptographic_length is not None:
        add((f"o.cryptographic_length = {d.p}", [flt.cryptographic_length]))
    if flt.visible_to is not None:
        if flt.visible_with:
            add(d.visible(flt.visible_to, flt.visible_with))
        else:
            add((f"o.owner = {d.p}", [flt.visible_to]))
    sql = "SELECT o.sequence FROM objects o"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY o.sequence", params
