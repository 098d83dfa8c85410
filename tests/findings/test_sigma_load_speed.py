"""A cold parse of a rule directory (no parsed-rule cache yet) reads the YAML with libyaml, not
PyYAML's pure-Python loader (80% of a cold SigmaHQ parse), with the same answers: rules load,
a file that does not parse is listed with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.findings.sigma.ruleset import load_rules

GOOD = """\
title: Cleared
id: 11111111-1111-1111-1111-111111111111
status: stable
level: high
author: Jane Doe
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 1102
    condition: selection
"""


def test_cold_parse_uses_libyaml_and_still_lists_bad_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML without libyaml")
    (tmp_path / "good.yml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.yml").write_text("title: x\ndetection: [unclosed\n", encoding="utf-8")

    def pure_python(*args: object, **kwargs: object) -> None:
        pytest.fail("parsed with PyYAML's pure-Python loader")

    monkeypatch.setattr(yaml.SafeLoader, "get_data", pure_python)
    loaded = load_rules([tmp_path], cache=False)
    assert [meta.title for meta, _ in loaded.rules] == ["Cleared"]
    assert [(Path(p).name, reason.split(":")[0]) for p, reason in loaded.errors] == [("bad.yml", "ParserError")]
