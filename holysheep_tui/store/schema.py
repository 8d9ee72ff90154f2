"""Dataclass fields as table columns: the metadata a field carries, and what is derived from it.

The message schema is ``store.models.Message``: its fields name the columns of the ``messages`` table
and their metadata says how each travels in the JSON export. The store's SELECT and INSERT, its row
reader, the JSON writer and the import's validation are all derived from those fields.
"""

from __future__ import annotations

import dataclasses
import re
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


def to_iso(moment: datetime) -> str:
    """UTC, microseconds, fixed width: these strings sort in time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class JsonRule:
    """How a field travels in the JSON export."""

    exported: bool = True
    """Written to the export."""
    imported: bool = True
    """Read back by ``holysheep import``; when False the store or the enclosing object sets it."""
    minimum: int | None = None
    """The import refuses a smaller number."""


def json_rule(
    *, exported: bool = True, imported: bool = True, minimum: int | None = None
) -> dict[str, JsonRule]:
    """Field metadata: ``field(default=None, metadata=json_rule(minimum=0))``."""
    return {"json": JsonRule(exported, imported, minimum)}


_PLAIN = JsonRule()


@dataclass(frozen=True, slots=True)
class Column:
    """One field of a schema dataclass, resolved once."""

    name: str
    annotation: Any
    """The field's type as the import validates it (``int | None``, a ``Literal``, ``datetime``)."""
    base: type
    """The type without ``None``: str, int, float, bool or datetime (a ``Literal``'s value type)."""
    default: Any
    """``dataclasses.MISSING`` when the field is required."""
    json: JsonRule

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING

    @property
    def nullable(self) -> bool:
        return get_origin(self.annotation) in (Union, types.UnionType) and type(None) in get_args(
            self.annotation
        )


def _base(annotation: Any) -> type:
    if get_origin(annotation) in (Union, types.UnionType):
        (annotation,) = (a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return type(get_args(annotation)[0])
    if not isinstance(annotation, type):
        raise TypeError(f"unsupported column type {annotation!r}")
    return annotation


def columns_of(cls: type) -> tuple[Column, ...]:
    """The columns of a schema dataclass, in field order."""
    hints = get_type_hints(cls)
    return tuple(
        Column(f.name, hints[f.name], _base(hints[f.name]), f.default, f.metadata.get("json", _PLAIN))
        for f in dataclasses.fields(cls)
    )


_TO_SQL: dict[type, Callable[[Any], Any]] = {datetime: to_iso, bool: int}
_FROM_SQL: dict[type, Callable[[Any], Any]] = {datetime: datetime.fromisoformat, bool: bool}
_TO_JSON: dict[type, Callable[[Any], Any]] = {datetime: to_iso}


def _converter(table: dict[type, Callable[[Any], Any]], column: Column) -> Callable[[Any], Any] | None:
    convert = table.get(column.base)
    if convert is None or not column.nullable:
        return convert
    return lambda value: None if value is None else convert(value)


def sql_writer(column: Column) -> Callable[[Any], Any] | None:
    """How a value is stored (None: as it is)."""
    return _converter(_TO_SQL, column)


def sql_reader(column: Column) -> Callable[[Any], Any] | None:
    """How a stored value is read back (None: as it is)."""
    return _converter(_FROM_SQL, column)


def json_writer(column: Column) -> Callable[[Any], Any] | None:
    """How a value is written to the JSON export (None: as it is)."""
    return _converter(_TO_JSON, column)


_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_MAX = 2**63 - 1


def replace_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (unencodable in UTF-8) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def bindable(params: Sequence[Any]) -> tuple[Any, ...]:
    """Statement parameters SQLite can bind: lone surrogates replaced, integers clamped to 64 bits."""
    out: list[Any] = []
    for value in params:
        if isinstance(value, str):
            value = replace_surrogates(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            value = max(-_INT_MAX - 1, min(value, _INT_MAX))
        out.append(value)
    return tuple(out)
