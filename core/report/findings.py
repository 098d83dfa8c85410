"""Findings of both engines, the built-in rules' and Sigma's, as the rows of one table: what
`findings --json`, `--csv` and `--md` write.

`--csv` and `--md` wrote the Sigma matches only, so without `--sigma` a file held a header and
nothing, while the text output showed the built-in findings (two high "mimikatz" ones). A row
says which engine made it (`engine`: `built-in` or `sigma`) and fills the columns both have
(title and rule id, level, time, computer, record and event id, the fields that made it fire);
what one engine alone has stays empty for the other (a Sigma rule's author, a built-in
finding's `message`). Every row names its input file (`file`), as `query` and `export` do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.findings.engine import Finding, findings_json
from core.findings.sigma.report import COLUMNS
from core.model.event import iso_from_filetime
from core.model.rows import source_of
from core.store.store import Store

#: The table's columns: the Sigma ones first, in their order (a script reading `findings --csv`
#: by position keeps working), then what a built-in finding adds.
TABLE_COLUMNS = (*COLUMNS, "message", "file")
BUILT_IN = "built-in"


def source_paths(store: Store) -> dict[int, str]:
    """Each input's path by its source id (`Event.source`, the top bits of a store id)."""
    return {s.id: s.path for s in store.sources()}


def file_of(paths: Mapping[int, str], store_id: int) -> str:
    """The input path of the event of `store_id` ("" for an id of no input)."""
    return paths.get(source_of(store_id), "")


def builtin_json(finding: Finding, paths: Mapping[int, str]) -> dict[str, Any]:
    """A built-in finding in `findings --json`: its keys as before (`findings_json`), then the
    engine and the input file (Sigma's items have both)."""
    return {**findings_json(finding), "engine": BUILT_IN, "file": file_of(paths, finding.store_id)}


def builtin_row(finding: Finding, title: str, paths: Mapping[int, str]) -> dict[str, Any]:
    """A built-in finding as a row of `TABLE_COLUMNS`: severity as `level`, the rule's id and
    title, its evidence as `fields` (a name it holds twice keeps its last value, as a Sigma
    match's fields do)."""
    return {
        "engine": BUILT_IN,
        "time": iso_from_filetime(finding.time),
        "level": finding.severity,
        "title": title,
        "rule_id": finding.rule,
        "computer": finding.computer,
        "record_id": finding.record_id,
        "event_id": finding.event_id,
        "fields": dict(finding.evidence),
        "message": finding.message,
        "file": file_of(paths, finding.store_id),
    }
