"""Exports of a forged log: a spreadsheet must not run a CSV cell as a formula, whatever blank
comes first; a Markdown renderer must not turn log text into an image, a link, HTML, code or
extra table cells. Rendered with markdown-it (CommonMark with HTML on, plus GFM tables)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from cli.main import main
from core.report.case import Case
from core.report.export import marks_report
from core.store.store import Store
from tests.logs import event_xml, write_events

T = "2024-03-01T10:00:0{}.0000000Z"


def _render(markdown: str) -> str:
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    assert isinstance(html, str)  # render() is typed Any: its renderer is pluggable; the default's is HTML text
    return html


@pytest.mark.parametrize("blank", [" ", "\t", "\r", "\n", "  \t"])
@pytest.mark.parametrize("lead", ["=", "+", "-", "@"])
def test_csv_formula_after_leading_blanks_is_neutralised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blank: str, lead: str
) -> None:
    """Every text column a log or a file name decides: file, computer, channel, provider."""
    formula = f"{blank}{lead}HYPERLINK(\"http://evil.example/\",\"x\")"
    ref = "".join(f"&#x{ord(c):x};" if c in "\t\r\n" else c for c in formula)
    ev = event_xml(4688, 1, T.format(0), {"CommandLine": formula}, computer="HOSTMARK", channel="CHANMARK")
    ev = ev.replace("HOSTMARK", ref.replace('"', "&quot;")).replace("CHANMARK", ref.replace('"', "&quot;"))
    ev = ev.replace('Name="Microsoft-Windows-Security-Auditing"', f'Name="{ref.replace(chr(34), "&quot;")}"')
    monkeypatch.chdir(tmp_path)
    name = f"{lead}x.xml"  # relative: the file column starts with the name as typed
    write_events(tmp_path / name, [ev])
    out = tmp_path / "out.csv"
    assert main(["export", "--format", "csv", "--output", str(out), "--no-cache", "--", name]) == 0
    with out.open(newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["file"] == "'" + name
    for column in ("computer", "channel", "provider"):
        stored = row[column]
        assert stored.startswith("'"), (column, stored)
        assert stored[1:].strip(" \t\r\n") == formula.strip(" \t\r\n"), column  # the data itself is kept
    # event data: exact, inside a JSON object (XML itself reads a raw CR in text as a line feed)
    assert json.loads(row["data"])["CommandLine"] == formula.replace("\r", "\n")


HOSTILE = {
    "image": "![x](http://evil.example/p.png)",
    "html": "<img src=x onerror=alert(1)>",
    "link": "[click](javascript:alert(1))",
    "code": "`whoami` **bold** _em_ ~~del~~",
    "pipe": "a | b | c",
    "entity": "&#x202e;&lt;",
    "path": "C:\\Windows\\_x\\*y",
}


@pytest.fixture()
def forged(tmp_path: Path) -> Path:
    return write_events(tmp_path / "f.xml", [
        event_xml(4688, 1, T.format(1), dict(HOSTILE), computer=HOSTILE["image"]),
        event_xml(4689, 2, T.format(2), {"ProcessName": HOSTILE["html"]}, computer=HOSTILE["html"]),
    ])


def _assert_inert(html: str) -> None:
    for tag in ("<img", "<a ", "<code", "<strong", "<em", "<del", "<script"):
        assert tag not in html, (tag, html)
    assert "\u202e" not in html


def test_markdown_view_renders_log_text_as_text(forged: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.md"
    assert main(["export", str(forged), "--format", "md", "--output", str(out), "--no-cache"]) == 0
    html = _render(out.read_text(encoding="utf-8"))
    _assert_inert(html)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    assert len(rows) == 3 and all(r.count("<td>") == 5 for r in rows[1:])  # pipes made no extra cells
    assert "![x](http://evil.example/p.png)" in html  # shown as the text it is
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "C:\\Windows\\_x\\*y" in html


def test_marks_report_renders_log_text_and_names_as_text(forged: Path, tmp_path: Path) -> None:
    odd = tmp_path / "odd`name <b>.xml"
    odd.write_bytes(forged.read_bytes())
    assert main(["stats", str(odd)]) == 0
    with Store(next((tmp_path / "data").parent.glob("cache/*.sqlite"))) as store:
        case = Case.for_inputs([str(odd)])
        case.bind(store)
        for se in store.select():
            case.mark(se)
        text, n = marks_report(case, store)
    assert n == 2
    html = _render(text)
    name = f"<code>{str(odd).replace('<', '&lt;').replace('>', '&gt;')}</code>"
    assert html.count(name) == 3  # the input and each mark's source: the whole name in one code span
    _assert_inert(html.replace(name, ""))
    assert "<b>" not in html


def test_md_helpers_round_trip_through_a_renderer() -> None:
    from core.model.text import md_code, md_text

    for value in [*HOSTILE.values(), "ends with \\", "\\`", "``x``", "`"]:
        html = _render(md_text(value)).strip()
        assert html.startswith("<p>") and "<code" not in html and "<img" not in html
        code = _render(md_code(value)).strip()
        assert code.startswith("<p><code>") and code.endswith("</code></p>"), (value, code)
