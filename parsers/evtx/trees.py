"""A chunk's template trees, and a record's full tree assembled from them.

Why: a record's shape is its template plus the templates of its nested BinXML values; to compile
a plan for it, the nested values' trees are spliced into the template tree in place of their
substitutions (`spliced`). Records whose nested values are plain BinXML fragments (no template)
have no reusable shape: their values are spliced in as literal text (`literal`). Both are bounded:
templates per chunk, nesting depth, and the items one record may expand to (a template can name
a substitution twice and nested values can reuse the template, so a crafted 1 KiB record
doubles per level where real records expand to hundreds), and the characters of the values
`literal` places (`values.MAX_RECORD_CHARS`; templated records are bounded by their plan,
`parsers.evtx.plan.check_size`). A bad value becomes its stand-in (`values.stand_in`).
"""

from __future__ import annotations

from parsers.evtx.errors import BinXmlError, HopelessRecord
from parsers.evtx.templates import MAX_DEPTH, Elem, Part, Root, parse_fragment, parse_root, parse_template
from parsers.evtx.values import MAX_RECORD_CHARS, T_BXML, render_or_stand_in

#: Templates per chunk are few (tens); a crafted chunk could reference thousands of offsets.
MAX_TEMPLATES = 4096
#: Template items one record's tree may expand to (see the module docstring).
MAX_EXPANSION = 1 << 17


class ChunkLimit(BinXmlError):
    """A per-chunk bound was hit: it says nothing about the shape, so it is never cached for
    other chunks."""


class RecordTrees:
    """The template trees of one chunk (`buf`), parsed once each, and the record trees built
    from them."""

    __slots__ = ("_chars", "_elem_refs", "_left", "buf", "trees")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.trees: dict[int, list[Elem | Part]] = {}
        self._elem_refs: dict[int, frozenset[int]] = {}  # by id() of elements kept alive in trees
        self._left = MAX_EXPANSION  # items `_splice` / `_literal` may still produce for the record
        self._chars = MAX_RECORD_CHARS  # characters of values `_literal` may still place

    def tree(self, template_ofs: int) -> list[Elem | Part]:
        """The tree of the template at `template_ofs`."""
        tree = self.trees.get(template_ofs)
        if tree is None:
            if len(self.trees) >= MAX_TEMPLATES:
                raise ChunkLimit("too many templates in one chunk")
            tree = parse_template(self.buf, template_ofs)
            self.trees[template_ofs] = tree
        return tree

    def spliced(self, templates: list[int], links: dict[int, int]) -> list[Elem | Part]:
        """The tree of a record whose roots use `templates` (the record's root first), nested
        values spliced in where `links` says (global reference -> nested root id)."""
        self._left = MAX_EXPANSION
        return self._splice(self.tree(templates[0]), 0, links, templates, 0)

    def literal(self, root: Root) -> list[Elem | Part]:
        """The tree of a record whose nested values are spliced in as literal content."""
        self._left = MAX_EXPANSION
        self._chars = MAX_RECORD_CHARS
        return self._literal(self.tree(root.template_ofs), root, 0)

    def _refs(self, elem: Elem) -> frozenset[int]:
        """Substitution indices referenced anywhere in `elem` (content and attributes), cached:
        splicing copies only the elements on the way to a nested value."""
        found = self._elem_refs.get(id(elem))
        if found is None:
            acc: set[int] = set()
            for _, parts in elem.attrs:
                acc.update(p for p in parts if isinstance(p, int))
            for item in elem.content:
                if isinstance(item, int):
                    acc.add(item)
                elif isinstance(item, Elem):
                    acc |= self._refs(item)
            found = frozenset(acc)
            self._elem_refs[id(elem)] = found
        return found

    def _splice(
        self, items: list[Elem | Part], root_id: int, links: dict[int, int], templates: list[int], depth: int
    ) -> list[Elem | Part]:
        """The template tree with nested values spliced in and every substitution index turned
        into a global reference `(root id << 16) | index`."""
        if depth > MAX_DEPTH:
            raise BinXmlError("nested BinXML too deep")
        out: list[Elem | Part] = []
        for item in items:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, int):
                ref_id = (root_id << 16) | item
                nested = links.get(ref_id)
                if nested is None:
                    out.append(ref_id)
                else:
                    inner = self._splice(self.tree(templates[nested]), nested, links, templates, depth + 1)
                    self._spend(len(inner))
                    out.extend(inner)
            elif root_id == 0 and not (self._refs(item) & links.keys()):
                out.append(item)  # references stay as they are for the record's root: share it
            else:
                attrs: list[tuple[str, list[Part]]] = []
                for name, parts in item.attrs:
                    text: list[Part] = []
                    for part in parts:
                        if isinstance(part, int):
                            ref_id = (root_id << 16) | part
                            if ref_id in links:
                                raise BinXmlError("nested BinXML inside an attribute")
                            text.append(ref_id)
                        else:
                            text.append(part)
                    attrs.append((name, text))
                out.append(Elem(item.name, attrs, self._splice(item.content, root_id, links, templates, depth + 1)))
        return out

    def _spend(self, items: int) -> None:
        """Count `items` spliced in (and the splice itself) against the record's expansion
        budget: past it, the record is hopeless (python-evtx would expand it too, to gigabytes)."""
        self._left -= items + 1
        if self._left < 0:
            raise HopelessRecord(f"record expands beyond {MAX_EXPANSION:,} items (nested values reused)")

    def _literal(self, items: list[Elem | Part], root: Root, depth: int) -> list[Elem | Part]:
        if depth > MAX_DEPTH:
            raise BinXmlError("nested BinXML too deep")
        out: list[Elem | Part] = []
        for item in items:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, int):
                expanded = self._literal_value(item, root, depth)
                self._spend(len(expanded))
                out.extend(expanded)
            else:
                attrs: list[tuple[str, list[Part]]] = []
                for name, parts in item.attrs:
                    text: list[Part] = []
                    for part in parts:
                        if isinstance(part, int):
                            if part < len(root.types) and root.types[part] == T_BXML:
                                raise BinXmlError("nested BinXML inside an attribute")
                            for value in self._literal_value(part, root, depth):
                                if isinstance(value, Elem):
                                    raise BinXmlError("element inside an attribute")
                                text.append(value)
                        else:
                            text.append(part)
                    attrs.append((name, text))
                out.append(Elem(item.name, attrs, self._literal(item.content, root, depth + 1)))
        return out

    def _literal_value(self, index: int, root: Root, depth: int) -> list[Elem | Part]:
        """One substitution of `root` as literal content: text, or the spliced elements of a
        nested value (a template instance or a plain fragment)."""
        if index >= len(root.types):
            raise BinXmlError(f"substitution {index} of {len(root.types)}")
        vtype = root.types[index]
        ofs = root.offsets[index]
        if vtype != T_BXML:
            text = render_or_stand_in(self.buf, vtype, ofs, root.sizes[index], f"substitution {index}")
            self._chars -= len(text)  # counted as placed: a value named 7,900 times is refused early
            if self._chars < 0:
                raise HopelessRecord(f"record expands beyond {MAX_RECORD_CHARS:,} characters (values reused)")
            return [text]
        if root.sizes[index] == 0:
            raise BinXmlError("empty nested BinXML")
        fragment = parse_fragment(self.buf, ofs)
        if fragment is not None:
            return fragment
        nested = parse_root(self.buf, ofs, len(self.buf))
        return self._literal(self.tree(nested.template_ofs), nested, depth + 1)
