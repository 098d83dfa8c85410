"""Sigma rules written by the tests and run over hand-made events (`write_rule`, `run_rules`)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from core.findings.sigma.engine import SigmaResult, compile_rules, run_compiled
from core.findings.sigma.ruleset import load_rules
from core.model.event import Event
from core.store.sigma_reads import candidates
from core.store.store import Store


def run_rules(rules: list[Path], events: list[Event], **kw: Any) -> SigmaResult:
    """The rules (files or folders) run over `events` in a store of their own."""
    compiled = compile_rules(load_rules(rules, cache=False, **kw))
    store = Store(":memory:")
    store.add_events(events)
    query = compiled.query()
    return run_compiled(candidates(store, *query), compiled)


def write_rule(tmp_path: Path, name: str, body: str) -> Path:
    """`body` (dedented) as the rule file `name`.yml in `tmp_path`."""
    path = tmp_path / f"{name}.yml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


#: A low-level failed-logon rule and an event_count correlation over it: three failures of one
#: account within five minutes.
CORRELATED = """
title: Failed Logon
id: 0e95725d-7320-415d-80f7-004da920fc11
name: failed_logon
status: test
level: low
logsource: {product: windows, service: security}
detection:
    selection: {EventID: 4625}
    condition: selection
---
title: Brute Force Per Account
id: 0e95725d-7320-415d-80f7-004da920fc12
status: test
level: high
author: Jane Doe
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [TargetUserName]
    timespan: 5m
    condition: {gte: 3}
"""
