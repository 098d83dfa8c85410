"""Code generation: a `Plan` and its substitution types compiled into one straight-line builder.

Why: interpreting the plan per record (`parsers.evtx.interpret`) costs about as much as the
decoding itself; a generated function does only the work. Knowing the types, integers, UTF-16
strings and the TimeCreated FILETIME are decoded in line (the FILETIME is not rendered to text
at all unless a field keeps the text), and numeric System fields skip the text. The in-line code
handles the usual sizes only: any other declared size, or a value outside the chunk, or bad
UTF-16, hands the record to the plan interpreter, which applies python-evtx's rules.

The generator works in named steps over one `_Generator` (its constants and what each slot is
needed as; the decisions per slot are `parsers.evtx.codegen_slots`): the prologue (EventID and
time), the fields and the two returns (Event tuple and store row), then the readers of the
needed values (integer runs, cached EventData pairs, text per value type), and last the assembly
of both functions and their compilation. Nothing from the file reaches the generated source:
literal texts and names are passed in the constants `C0`, `C1`... Equal shapes give equal
source, so compiled code is shared (bounded).
"""

from __future__ import annotations

import struct
from typing import Any

from core.model.event import parse_time
from core.model.rows import repeated_in
from parsers.evtx import misses, pieces
from parsers.evtx import runtime as rt
from parsers.evtx.codegen_slots import (
    INTS,
    PIECE_TYPES,
    PLAIN_TYPES,
    SAFE_TICKS,
    cached_pairs,
    inline_types,
    time_slot,
)
from parsers.evtx.errors import BinXmlError
from parsers.evtx.interpret import Builder, exact_ticks, interpreter
from parsers.evtx.plan import LARGE_RECORD_CHARS, Plan, Spec, spend, to_int
from parsers.evtx.templates import Root
from parsers.evtx.values import RENDER, T_NULL, T_WSTRING, VALUE_ERRORS, render_filetime

#: A FILETIME's text (`render_filetime`) is at most this long.
_TIME_CHARS = 32

#: Compiled builders by source text (bounded: a crafted file could make every shape distinct).
_CODE_CACHE: dict[str, Any] = {}
MAX_CODE_CACHE = 2048



def codegen(plan: Plan, types: list[bytes]) -> Builder:
    """Compile `plan` for records whose roots have the substitution `types` into one
    straight-line Python function: decode the needed values, assemble the Event's fields.
    The function's `encode` attribute goes from the same values to the store row.

    Shapes the generator does not handle (Data names from substitutions, indices past the
    substitution table, unknown types, bad literal values whose notes each record carries:
    `Plan.notes`) get the plan interpreter itself.
    """
    slow = interpreter(plan)
    slot_type = inline_types(plan, types)
    if slot_type is None or plan.notes:
        return slow
    gen = _Generator(plan, types, slot_type)
    body = gen.emit_prologue()
    pairs, record_id, system = gen.emit_fields()
    build_ret, encode_ret = gen.emit_returns(pairs, record_id, system)
    gen.decode_all_needed()
    gen.emit_number_reads()
    gen.emit_pair_reads()
    gen.emit_text_reads()
    return _load(gen.assemble(body, build_ret, encode_ret), gen.consts, slow)


class _Generator:
    """One generation: the constants passed in `K`, what each slot is needed as (text, number),
    and the generated lines so far. Slot `k` is read as `n{k}` (a number) and/or `v{k}` (text);
    root `r` as `r{r}`, its value offsets `o{r}` and sizes `s{r}`."""

    def __init__(self, plan: Plan, types: list[bytes], slot_type: list[int]) -> None:
        self.plan = plan
        self.types = types
        self.refs = plan.refs
        self.slot_type = slot_type
        self.consts: list[object] = []
        self.text_slots: set[int] = set()
        self.int_slots: set[int] = set()
        # How each UTF-16 slot's text is used: "T" (element text), "A" (attribute), "raw" (joined
        # with other parts). Used one way only, its normalisation joins the rare fix-up branch.
        self.wide_uses: dict[int, set[str]] = {}
        self.fast_time = time_slot(plan, types)
        self.cached = cached_pairs(plan, slot_type, self.fast_time)  # data pair index -> slot
        self.cached_slots = set(self.cached.values())
        # SID and GUID pairs: the encoder looks their marshal pieces up by the value's bytes
        self.piece_slots = {k: j for j, k in cached_pairs(plan, slot_type, self.fast_time, PIECE_TYPES).items()}
        # The readers: guards that send the record to the interpreter, and decoding lines.
        self.guards: list[str] = []
        self.inline_roots: set[int] = set()
        self.decode: list[str | tuple[str, str]] = []  # (build's line, encode's line) where they differ
        self.has_wstring = False
        self.odd: list[str] = []  # cached UTF-16 values: an odd size (never seen) goes to the interpreter

    # -- expressions ------------------------------------------------------------------------

    def const(self, value: object) -> str:
        self.consts.append(value)
        return f"C{len(self.consts) - 1}"

    def slot_text(self, k: int) -> str:
        if k == self.fast_time:
            return f"RF(n{k})"
        self.text_slots.add(k)
        return f"v{k}"

    def text(self, spec: Spec | None, attr: bool = False) -> str:
        """An expression for the text of `spec` (as an attribute when `attr`)."""
        if spec is None:
            return "None"
        if isinstance(spec, str):
            return self.const(spec)
        slot_type = self.slot_type
        if isinstance(spec, int):
            var = self.slot_text(spec)
            if slot_type[spec] in PLAIN_TYPES:
                return var
            if slot_type[spec] == T_WSTRING:  # settled in `assemble`, once every use is known
                self.wide_uses.setdefault(spec, set()).add("A" if attr else "T")
                return f"@{'A' if attr else 'T'}{spec}@"
            if attr:
                return f"NA({var})"
            return f"({var} if '\\r' not in {var} else NT({var}))"
        parts = ", ".join(self.const(p) if isinstance(p, str) else self.slot_text(p) for p in spec)
        for p in spec:
            if isinstance(p, int) and slot_type[p] == T_WSTRING:
                self.wide_uses.setdefault(p, set()).add("raw")
        return f"{'NA' if attr else 'NT'}(''.join(({parts},)))"

    def num(self, spec: Spec | None, attr: bool = False) -> str:
        """An expression for `spec` as an integer (int() ignores surrounding whitespace, so
        normalisation cannot change the result)."""
        if spec is None:
            return "None"
        if isinstance(spec, str):
            return self.const(to_int(spec))
        if isinstance(spec, int) and self.slot_type[spec] in INTS:
            self.int_slots.add(spec)
            return f"n{spec}"
        return f"I({self.text(spec, attr)})"

    def text_or(self, spec: Spec | None, default: str, attr: bool = False) -> str:
        if isinstance(spec, str):
            return self.const(spec or (None if default == "None" else ""))
        if spec is None:
            return default
        return f"({self.text(spec, attr)}) or {default}"

    # -- the Event's fields -----------------------------------------------------------------

    def emit_prologue(self) -> list[str]:
        """The EventID (a record without one is rejected) and the time ticks."""
        plan = self.plan
        body = [
            f"    eid = {self.num(plan.event_id)}",
            "    if eid is None:",
            "        raise BinXmlError('no EventID value')",
        ]
        sys_time = self.text(plan.sys_time_attr, attr=True) if plan.sys_time_attr is not None else None
        fast_time = self.fast_time
        if fast_time is not None:
            self.int_slots.add(fast_time)
            body.append(f"    ticks = n{fast_time} or None")
            body.append(f"    if ticks is not None and ticks > {SAFE_TICKS}:")
            body.append("        RF(ticks)")
        else:
            body.append(f"    ticks = EXACT(r0, buf, {self.text(plan.time_attr, attr=True)})")
        if sys_time is not None:
            body.append("    if ticks is None:")
            body.append(f"        ticks = PT({sys_time})")
        return body

    def emit_fields(self) -> tuple[list[tuple[str, str] | None], str, str]:
        """The EventData pairs ((name, text) expressions; None for a cached pair), the record id
        and the System fields after the time, as expressions (the order of the calls fixes the
        constants' indices)."""
        plan = self.plan
        assert plan.static_names is not None
        provider_specs = [p for p in (plan.provider_name, plan.provider_source) if p is not None]
        provider = " or ".join(self.text(p, attr=True) for p in provider_specs) or "''"
        pairs: list[tuple[str, str] | None] = [
            None if j in self.cached else (self.const(name), self.text(value))
            for j, (name, value) in enumerate(zip(plan.static_names, plan.data_values, strict=True))
        ]
        record_id = self.num(plan.record_id)
        num, text_or = self.num, self.text_or
        system = (
            f"ticks, eid, {num(plan.version)}, {num(plan.level)}, {num(plan.task)}, "
            f"{num(plan.opcode)}, {text_or(plan.keywords, 'None')}, {text_or(plan.channel, repr(''))}, "
            f"({provider}) or '', {text_or(plan.computer, repr(''))}, {num(plan.pid, True)}, "
            f"{num(plan.tid, True)}, {text_or(plan.user_sid, 'None', True)}"
        )
        return pairs, record_id, system

    def emit_returns(
        self, pairs: list[tuple[str, str] | None], record_id: str, system: str
    ) -> tuple[list[str], list[str]]:
        """The ends of both functions: the Event tuple, and the store row
        (`core.model.rows.encode_tuples` for this one event) with its pairs' marshal pieces
        (`parsers.evtx.pieces`) added to `P` and joined into the EventData blob."""
        shown = "".join(f"d{j}, " if p is None else f"({p[0]}, {p[1]}), " for j, p in enumerate(pairs))
        build_ret = [f"    return (source, record_number, {record_id}, {system}, ({shown}), locator)"]
        assert self.plan.static_names is not None
        piece_pairs = set(self.piece_slots.values())
        encode_ret = [
            f"    d{j} = PP({self.const(pieces.name_head(self.plan.static_names[j]))}, {p[1]})"
            for j, p in enumerate(pairs)
            if p is not None and j not in piece_pairs
        ]
        encode_ret.extend(f"    P[d{j}].append(sid)" for j in range(len(pairs)))
        # A shape holding a name twice (a UserData element's repeated children): every record of it
        # does (`core.model.rows.REPEATED`).
        encode_ret.extend(f"    P[{self.const(pieces.repeated_piece(name))}].append(sid)"
                          for name in repeated_in((name, "") for name in self.plan.static_names))
        if record_id == "None":
            record_id = "record_number"
        elif not record_id.startswith("n"):  # a text turned number: may be None
            record_id = f"(rid if (rid := {record_id}) is not None else record_number)"
        encode_ret.append(
            f"    return (sid, source, record_number, {record_id}, {system}, locator, "
            f"{self._blob(len(pairs))})"
        )
        return build_ret, encode_ret

    def _blob(self, count: int) -> str:
        if not count:
            return "EMPTY"
        return f"JOIN(({self.const(pieces.tuple_head(count))}, {''.join(f'd{j}, ' for j in range(count))}))"

    # -- the readers of the needed values ---------------------------------------------------

    def decode_all_needed(self) -> None:
        """Every needed value is decoded (a value python-evtx's rules reject still sends the
        record to the interpreter and on to the fallback), integers only as numbers if no field
        keeps their text."""
        for k, t in enumerate(self.slot_type):
            if (
                k not in self.text_slots
                and k not in self.int_slots
                and k != self.fast_time
                and t not in INTS
                and k not in self.cached_slots
            ):
                self.text_slots.add(k)

    def emit_number_reads(self) -> None:
        """Integers read as numbers: consecutive substitutions of one root (their sizes are
        guarded, so they are adjacent) are read by one struct call."""
        refs, slot_type, decode = self.refs, self.slot_type, self.decode
        numbers: dict[tuple[int, int], int] = {}
        for k, (r, i) in enumerate(refs):
            t = slot_type[k]
            if (
                (t in INTS or k == self.fast_time)
                and k not in self.cached_slots
                and (k in self.int_slots or k in self.text_slots)
            ):
                numbers[(r, i)] = k
        for (r, i), k in sorted(numbers.items()):
            if (r, i - 1) in numbers:
                continue  # read with the run it belongs to
            run = [k]
            while (r, i + len(run)) in numbers:
                run.append(numbers[(r, i + len(run))])
            self.inline_roots.add(r)
            fmts = ""
            for m in run:
                fmt, width, _ = INTS.get(slot_type[m], ("<Q", 8, "{}"))
                self.guards.append(f"s{r}[{refs[m][1]}] != {width}")
                fmts += fmt[1:]
            if fmts == "B":
                decode.append(f"    n{k} = buf[o{r}[{i}]]")
            else:
                names = ", ".join(f"n{m}" for m in run)
                decode.append(f"    {names}, = {self.const(struct.Struct('<' + fmts).unpack_from)}(buf, o{r}[{i}])")
            for m in run:
                shown = INTS.get(slot_type[m], ("<Q", 8, "{}"))[2]
                if m in self.text_slots and shown == "{}":
                    decode.append(f"    v{m} = str(n{m})")
                elif m in self.text_slots:  # a fixed hex format of our own, as an f-string
                    decode.append(f"    v{m} = f{shown.replace('{', '{n' + str(m))!r}")

    def emit_pair_reads(self) -> None:
        """Cached EventData pairs: a lookup by the value's bytes, and on a miss a function of
        `parsers.evtx.misses` (a constant) that decodes and remembers the value as the pair (for
        the Event) or as the pair's marshal piece (for the store row)."""
        plan = self.plan
        assert plan.static_names is not None
        for j, k in self.cached.items():
            r, i = self.refs[k]
            t = self.slot_type[k]
            self.inline_roots.add(r)
            field = plan.static_names[j]
            self._guard_cached(k, t)
            pair_cache, piece_cache = rt.pair_cache(field, t), rt.piece_cache(field, t)
            get, kept_get = self.const(pair_cache.get), self.const(piece_cache.get)
            miss = self.const(misses.pair_miss(field, t, pair_cache))
            piece = self.const(misses.piece_miss(field, t, piece_cache))
            # The value's bytes end where the next one starts (sizes are guarded: exact and even).
            w = f"w := buf[o{r}[{i}] : o{r}[{i + 1}]]"
            self.decode.append((f"    d{j} = {get}({w}) or {miss}(w)", f"    d{j} = {kept_get}({w}) or {piece}(w)"))

    def _guard_cached(self, k: int, t: int) -> None:
        """The guards `misses.value_text` relies on for slot `k` of type `t`: an even size for
        UTF-16 text, the exact width for an integer."""
        r, i = self.refs[k]
        if t == T_WSTRING:
            self.has_wstring = True
            self.odd.append(f"s{r}[{i}]")
            return
        self.guards.append(f"s{r}[{i}] != {INTS[t][1]}")

    def emit_text_reads(self) -> None:
        """The text of every other needed value, per value type: SIDs and GUIDs through their
        caches, UTF-16 decoded in line, the rest through `values.RENDER`."""
        for k, (r, i) in enumerate(self.refs):
            t = self.slot_type[k]
            if t in INTS or k == self.fast_time or k in self.cached_slots or k not in self.text_slots:
                continue
            if t == T_NULL:
                self.decode.append(f"    v{k} = ''")
            elif t == 0x13:
                self._read_sid(k, r, i)
            elif t == 0x0F:
                self._read_guid(k, r, i)
            elif t == T_WSTRING:
                self._read_wstring(k, r, i)
            else:
                self.decode.append(f"    v{k} = {self.const(RENDER[t])}(buf, o{r}[{i}], s{r}[{i}])")

    def _read_sid(self, k: int, r: int, i: int) -> None:
        """A cached text stands for the SID's exact bytes (hence the range guard)."""
        self.inline_roots.add(r)
        self.decode.append(f"    a = o{r}[{i}]")
        # The range is guarded: len(w) is the size.
        self.decode.append(self._piece_read(k, f"v{k} = SIDS.get(buf[a : a + s{r}[{i}]]) or SID(buf, a, s{r}[{i}])",
                                            f"buf[a : a + s{r}[{i}]]", "sid"))

    def _read_guid(self, k: int, r: int, i: int) -> None:
        self.inline_roots.add(r)
        self.guards.append(f"s{r}[{i}] != 16")
        self.decode.append(f"    a = o{r}[{i}]")
        self.decode.append(self._piece_read(k, f"v{k} = GUIDS.get(buf[a : a + 16]) or GUID(buf, a)",
                                            "buf[a : a + 16]", "guid"))

    def _piece_read(self, k: int, line: str, raw: str, kind: str) -> str | tuple[str, str]:
        """`line` reads slot `k`; when it is an EventData value used there alone, the encoder reads
        the pair's piece instead: by the value's bytes `raw`, or on a miss through the SID's or
        GUID's miss function (`kind`, `parsers.evtx.misses`: the same rendering as `line`)."""
        j = self.piece_slots.get(k)
        if j is None:
            return "    " + line
        assert self.plan.static_names is not None
        name, t = self.plan.static_names[j], self.slot_type[k]
        table = rt.piece_cache(name, t)
        make = misses.sid_piece_miss if kind == "sid" else misses.guid_piece_miss
        kept_get, miss = self.const(table.get), self.const(make(name, table))
        return "    " + line, f"    d{j} = {kept_get}(w := {raw}) or {miss}(w, buf, a)"

    def _read_wstring(self, k: int, r: int, i: int) -> None:
        """Decoded in line; a text that is not all printable takes the fix-up branch, where its
        normalisation joins it when the text is used one way only."""
        self.inline_roots.add(r)
        self.has_wstring = True
        decode = self.decode
        decode.append(f"    a = o{r}[{i}]")
        decode.append(f"    v{k} = buf[a : a + (s{r}[{i}] & -2)].decode('utf-16')")
        decode.append(f"    if not v{k}.isprintable():")
        uses = self.wide_uses.get(k, set())
        fix = {"T": "NT(FIXW", "A": "NA(FIXW"}.get(next(iter(uses))) if len(uses) == 1 else None
        decode.append(f"        v{k} = {fix}(v{k}))" if fix else f"        v{k} = FIXW(v{k})")

    # -- assembly ---------------------------------------------------------------------------

    def size_check(self) -> list[str]:
        """A record of a shape that uses a slot more than once is checked from its values'
        lengths before any field is joined (`parsers.evtx.plan.check_size`): past
        `LARGE_RECORD_CHARS`, it spends its chunk's budget, or is refused."""
        plan = self.plan
        if not plan.repeats:
            return []
        static = plan.static_chars
        terms: list[str] = []
        for k, n in plan.repeats:
            if k == self.fast_time:
                static += _TIME_CHARS * n
            elif k in self.text_slots:
                terms.append(f"len(v{k}) * {n}")
        if not terms:
            return [f"    SPEND({self.const(plan)}, buf, {static})"] if static > LARGE_RECORD_CHARS else []
        total = " + ".join([str(static), *terms])
        return [f"    if (total := {total}) > {LARGE_RECORD_CHARS}:", f"        SPEND({self.const(plan)}, buf, total)"]

    def assemble(self, body: list[str], build_ret: list[str], encode_ret: list[str]) -> str:
        """The source of `build`, `encode` and, for one or two roots, `fast`: each unpacks the roots it
        reads, guards the sizes and ranges the in-line readers assume (else the interpreter,
        `SLOW`, decodes the record), decodes, then assembles its result."""
        if self.odd:
            self.guards.append(f"({' | '.join(self.odd)}) & 1")
        guards = [f"o{r}[-1] > n" for r in sorted(self.inline_roots)] + self.guards
        head = [
            f"    r{r} = roots[{r}]; o{r} = r{r}.offsets; s{r} = r{r}.sizes"
            for r in sorted({r for r, _ in self.refs} | {0})
        ]
        lines: list[str] = []
        functions = [("build(buf, roots, record_number, source, locator)", build_ret, "SLOW", "roots")]
        n_roots = len(self.types)
        if n_roots <= 2 and "EXACT(" not in "\n".join(body):
            # `encode` for a record whose roots `ChunkDecoder.encode_row` read itself (no Root
            # objects): their offsets and sizes (o1, s1 unused with one root); Roots only to fall
            # back. `encode` hands its roots' arrays to it rather than repeating the decoding (a
            # third less source to compile per shape).
            rebuilt = ", ".join(f"R(0, {self.const(self.types[r])}, s{r}, o{r})" for r in range(n_roots))
            functions.append(
                ("fast(buf, o0, s0, o1, s1, record_number, source, locator, sid, P)", encode_ret,
                 "ENC1(sid, P, SLOW", f"[{rebuilt}]")
            )
            lines.extend([
                "def encode(buf, roots, record_number, source, locator, sid, P):",
                f"    r0 = roots[0]; r1 = roots[{n_roots - 1}]",
                "    return fast(buf, r0.offsets, r0.sizes, r1.offsets, r1.sizes,",
                "                record_number, source, locator, sid, P)",
            ])
        else:
            functions.append(
                ("encode(buf, roots, record_number, source, locator, sid, P)", encode_ret, "ENC1(sid, P, SLOW", "roots")
            )
        for name, ret, slow_call, roots in functions:
            fallback = f"        return {slow_call}(buf, {roots}, record_number, source, locator)"
            fallback += ")" if slow_call != "SLOW" else ""
            lines.append(f"def {name}:")
            if roots == "roots":
                lines.extend(head)
            if guards:
                lines.append("    n = len(buf)")
                lines.append(f"    if {' or '.join(guards)}:")
                lines.append(fallback)
            decode = [line if isinstance(line, str) else line[slow_call != "SLOW"] for line in self.decode]
            if decode:  # a bad value (or bad UTF-16): the interpreter shows a stand-in for it
                lines.append("    try:")
                lines.extend("    " + line for line in decode)
                lines.append("    except VE:")
                lines.append(fallback)
            lines.extend(self.size_check())
            lines.extend(body)
            lines.extend(ret)
        source = "\n".join(lines)
        for k, uses in self.wide_uses.items():
            single = len(uses) == 1 and "raw" not in uses
            source = source.replace(f"@T{k}@", f"v{k}" if single else f"(v{k} if '\\r' not in v{k} else NT(v{k}))")
            source = source.replace(f"@A{k}@", f"v{k}" if single else f"NA(v{k})")
        return source


def _load(source: str, consts: list[object], slow: Builder) -> Builder:
    """Compile `source` (once per process for equal sources) and bind its names: the constants,
    the runtime helpers, and the interpreter `slow` as the fallback."""
    namespace: dict[str, Any] = {
        **{f"C{i}": value for i, value in enumerate(consts)},
        "NT": rt.norm_text,
        "NA": rt.norm_attr,
        "I": to_int,
        "BinXmlError": BinXmlError,
        "VE": VALUE_ERRORS,
        "SPEND": spend,
        "EXACT": exact_ticks,
        "PT": parse_time,
        "RF": render_filetime,
        "FIXW": rt.fix_wstring,
        "SLOW": slow,
        "ENC1": pieces.encode_one,
        "PP": pieces.pair_piece,
        "JOIN": b"".join,
        "EMPTY": b"",
        "SIDS": rt.SIDS,
        "SID": rt.render_sid,
        "GUIDS": rt.GUIDS,
        "GUID": rt.render_guid,
        "R": Root,
    }
    code = _CODE_CACHE.get(source)
    if code is None:  # the same shape in another file gives the same source: compile once
        code = compile(source, "<evtx plan>", "exec")
        if len(_CODE_CACHE) < MAX_CODE_CACHE:
            _CODE_CACHE[source] = code
    exec(code, namespace)  # noqa: S102 - our own code
    builder: Builder = namespace["build"]
    builder.encode = namespace["encode"]  # type: ignore[attr-defined]
    builder.fast = namespace.get("fast")  # type: ignore[attr-defined]
    return builder
