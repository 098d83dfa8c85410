"""What the Process access list reads of its processes and handles, from the tables' columns.

The list ranks every access before its first line: it needs each source's names, each target's
name and label, each lone 4656's handle object and how often it was duplicated. Made as `Process`
and `Handle` objects one by one (87,000 sources, 160,000 handles at ten million events), that
was most of the list's first 20,000 lines (2.5 s there, 0.9 s read here); read a column at a time
(`ProcessTable.values`, `HandleTable.object_name`), the same values without the objects. Plain
sequences of objects (hand-made models in tests) are read the object way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from core.correlate.evidence import SYSTEM_PID, Ref, basename
from core.correlate.handle_table import HandleTable
from core.correlate.handles import Handle
from core.correlate.process_instance import Process, process_label, process_name
from core.correlate.process_table import ProcessTable


def own_names_of(processes: Sequence[Process], indexes: set[int]) -> dict[int, frozenset[str]]:
    """Per instance of `indexes`: every file name (case-folded) the image index may file it
    under, and more (one set for the instances of one image path and no other name)."""
    order = sorted(indexes)
    fields: Iterable[tuple[int, str | None, tuple[tuple[str, Ref | int], ...] | None]]
    if isinstance(processes, ProcessTable):
        fields = zip(processes.values("pid", order), processes.values("image", order),
                     processes.values("names_at", order), strict=True)
    else:
        fields = ((p.pid, p.image, p.names_at) for p in map(processes.__getitem__, order))
    by_image: dict[tuple[str | None, bool], frozenset[str]] = {}
    out: dict[int, frozenset[str]] = {}
    for i, (pid, image, names_at) in zip(order, fields, strict=True):
        if names_at is None:
            key = (image, not image and pid == SYSTEM_PID)
            names = by_image.get(key)
            if names is None:
                names = by_image[key] = frozenset({process_name(pid, image).casefold(), "?", "",
                                                   basename(image).casefold()})
            out[i] = names
        else:
            out[i] = frozenset({process_name(pid, image).casefold(), "?", "",
                                *(basename(path).casefold() for path, _ in names_at)})
    return out


def names_of(processes: Sequence[Process], indexes: set[int]) -> dict[int, tuple[str, str]]:
    """(`Process.name`, `Process.label`) of each instance of `indexes`, none made from a table."""
    order = sorted(indexes)
    fields: Iterable[tuple[int, str | None]]
    if isinstance(processes, ProcessTable):
        fields = zip(processes.values("pid", order), processes.values("image", order), strict=True)
    else:
        fields = ((p.pid, p.image) for p in map(processes.__getitem__, order))
    return {i: (process_name(pid, image), process_label(pid, image)) for i, (pid, image) in zip(order, fields,
                                                                                                  strict=True)}


def object_name_reader(handles: Sequence[Handle]) -> Callable[[int], str | None]:
    """`handles[i].object_name` as a function of i, without making the `Handle` from a table."""
    if isinstance(handles, HandleTable):
        return handles.object_name
    return lambda i: handles[i].object_name


def object_names_of(handles: Sequence[Handle], indexes: Sequence[int]) -> list[str | None]:
    """`handles[i].object_name` of each of `indexes`, without making a `Handle` from a table."""
    if isinstance(handles, HandleTable):
        return handles.object_names(indexes)
    return [handles[i].object_name for i in indexes]


def duplication_count_reader(handles: Sequence[Handle]) -> Callable[[int], int]:
    """`len(handles[i].duplications)` as a function of i, without making the `Handle` from a table."""
    if isinstance(handles, HandleTable):
        return handles.duplication_count
    return lambda i: len(handles[i].duplications)
