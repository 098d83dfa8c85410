"""The filter language's grammar: tokens -> a small syntax tree (see `core.query.compile`).

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*       adjacent terms are ANDed
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or_expr ")" | term

so NOT binds tighter than AND, and AND tighter than OR. Every error names the token it is
about, with its position. Depth and term count are bounded: the query text is user input (and
this parser recurses). MAX_DEPTH counts levels as typed; the SQL the compiler writes for them
is weighed against SQLite's parser there (`core.query.sql_depth`: `NOT` and nested AND/OR groups
cost more than a group of one term, which writes no SQL), so a query nested well within
MAX_DEPTH can still be refused as too deep for SQLite. Each NOT, AND and OR node keeps where it
starts, for those errors to point at.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.query.lexer import Kind, QueryError, Token, tokenize

MAX_DEPTH = 64
MAX_TERMS = 256


@dataclass(frozen=True, slots=True)
class Term:
    """A leaf: `token` is a WORD, TEXT or FIELD token."""

    token: Token


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    #: Where its `NOT` or `-` stands (not compared: the same query typed elsewhere is equal).
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    #: Where it starts: the `(` of its group, else its first operand.
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    #: As `And.pos`.
    pos: int = field(default=0, compare=False)


Node = Term | Not | And | Or


def start(node: Node) -> int:
    """Where `node` starts in the query (its term's token, its NOT, its group's `(`)."""
    return node.token.pos if isinstance(node, Term) else node.pos


_TERM_START = {Kind.LPAREN, Kind.NOT, Kind.MINUS, Kind.WORD, Kind.TEXT, Kind.FIELD}


def parse(query: str) -> Node | None:
    """Parse a query; None for an empty (or blank) one. Raises QueryError."""
    tokens = tokenize(query)
    if not tokens:
        return None
    return _Parser(tokens, len(query)).run()


class _Parser:
    def __init__(self, tokens: list[Token], end: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.end = end
        self.terms = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def run(self) -> Node:
        self.expect_term(None)
        node = self.parse_or(0)
        tok = self.peek()
        if tok is not None:  # only a stray ')' can stop parse_or early
            raise QueryError(f"unexpected '{tok.text}'", tok.pos)
        return node

    def expect_term(self, after: Token | None) -> None:
        """Fail unless the next token can start a term; `after` is the operator or '(' before it."""
        tok = self.peek()
        if tok is not None and tok.kind in _TERM_START:
            return
        if after is not None and after.kind is Kind.LPAREN:
            if tok is None:
                raise QueryError("unclosed '('", after.pos)
            if tok.kind is Kind.RPAREN:
                raise QueryError("empty parentheses", after.pos)
        elif after is not None and (tok is None or tok.kind is Kind.RPAREN):
            raise QueryError(f"nothing after '{after.text}'", after.pos)
        if tok is None:
            raise QueryError("empty query", self.end)
        raise QueryError(f"unexpected '{tok.text}'", tok.pos)

    def parse_or(self, depth: int) -> Node:
        parts = [self.parse_and(depth)]
        while (tok := self.peek()) is not None and tok.kind is Kind.OR:
            self.take()
            self.expect_term(tok)
            parts.append(self.parse_and(depth))
        return parts[0] if len(parts) == 1 else Or(tuple(parts), start(parts[0]))

    def parse_and(self, depth: int) -> Node:
        parts = [self.parse_unary(depth)]
        while (tok := self.peek()) is not None:
            if tok.kind is Kind.AND:
                self.take()
                self.expect_term(tok)
            elif tok.kind not in _TERM_START:
                break
            parts.append(self.parse_unary(depth))
        return parts[0] if len(parts) == 1 else And(tuple(parts), start(parts[0]))

    def parse_unary(self, depth: int) -> Node:
        tok = self.take()
        if depth >= MAX_DEPTH:
            raise QueryError(f"query nested deeper than {MAX_DEPTH} levels", tok.pos)
        if tok.kind in (Kind.NOT, Kind.MINUS):
            self.expect_term(tok)
            return Not(self.parse_unary(depth + 1), tok.pos)
        if tok.kind is Kind.LPAREN:
            self.expect_term(tok)
            node = self.parse_or(depth + 1)
            close = self.peek()
            if close is None or close.kind is not Kind.RPAREN:
                raise QueryError("unclosed '('", tok.pos)
            self.take()
            return replace(node, pos=tok.pos) if isinstance(node, (And, Or)) else node
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"more than {MAX_TERMS} terms", tok.pos)
        return Term(tok)
