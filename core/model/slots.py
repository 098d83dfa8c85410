"""Makers of frozen, slotted dataclass instances that skip the generated `__init__`.

A frozen dataclass sets each field through `object.__setattr__` (its own `__setattr__` refuses):
about 0.1 us a field. The decoder makes an `Event` per record and the store one per row read
(~6 us each that way, ~1.5 through the slots), and the correlation build freezes every handle
and process instance of a log at once (a tenth of its CPU time was their `__init__`s). Only for classes
whose `__init__` does nothing else (no `__post_init__`, every field passed, in field order), so
that an instance made either way is equal field for field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

_T = TypeVar("_T")


def slot_maker(cls: type[_T]) -> Callable[..., _T]:
    """`cls(*values)` (every field, in order) without its `__init__`; `cls` itself when it is
    not a slotted dataclass without `__post_init__`."""
    if hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__:
        return cls
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"NEW": object.__new__, "CLS": cls}
    lines = [f"def make({', '.join(names)}):", "    made = NEW(CLS)"]
    for i, name in enumerate(names):
        namespace[f"S{i}"] = cls.__dict__[name].__set__
        lines.append(f"    S{i}(made, {name})")
    lines.append("    return made")
    exec("\n".join(lines), namespace)  # noqa: S102 - our own code, field names from the dataclass
    maker: Callable[..., _T] = namespace["make"]
    return maker
