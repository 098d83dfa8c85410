"""The XML tab's indenting of an event holding characters XML 1.0 forbids (ESC, BEL: raw, or as
`&#x1b;` as Windows writes them): lxml refused such an event and it came back on one line. It is
parsed with stand-ins for them and each is put back exactly as it was spelled."""

from __future__ import annotations

from parsers.xml_indent import indented


def test_an_event_with_control_characters_is_indented_with_them_spelled_as_written() -> None:
    text = ('<E><S><A>1</A></S><D Name="c&#x7;">cmd &#x1b;[31mRED&#27;[0m \x07 end \x1b</D>'
            '<D Name="n">&#x9;tab &lt;x&gt;</D></E>')
    assert indented(text).splitlines() == [
        "<E>",
        "  <S>",
        "    <A>1</A>",
        "  </S>",
        '  <D Name="c&#x7;">cmd &#x1b;[31mRED&#27;[0m \x07 end \x1b</D>',
        '  <D Name="n">\ttab &lt;x&gt;</D>',
        "</E>",
    ]


def test_text_that_still_does_not_parse_or_holds_a_stand_in_comes_back_unchanged() -> None:
    for text in ("<a><b>&#x1b;</a></b>", "<a>&#x1b; < </a>", "(cannot read the XML: &#x1b;)",
                 "<a>&#x1b;\U0010ff05</a>", "<!DOCTYPE x [<!ENTITY e 'y'>]><E>&#x1b;</E>"):
        assert indented(text) == text
