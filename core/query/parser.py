"""The filter language's grammar: tokens -> a small syntax tree (see `core.query.compile`).

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*       adjacent terms are ANDed
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or_expr ")" | term

so NOT binds tighter than AND, and AND tighter than OR. Every error names the token it is
about, with its position. Depth and term count are bounded: the query text is user input, and
SQLite refuses expressions nested beyond 1000 levels anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or

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
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self, depth: int) -> Node:
        parts = [self.parse_unary(depth)]
        while (tok := self.peek()) is not None:
            if tok.kind is Kind.AND:
                self.take()
                self.expect_term(tok)
            elif tok.kind not in _TERM_START:
                break
            parts.append(self.parse_unary(depth))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_unary(self, depth: int) -> Node:
        tok = self.take()
        if depth >= MAX_DEPTH:
            raise QueryError(f"query nested deeper than {MAX_DEPTH} levels", tok.pos)
        if tok.kind in (Kind.NOT, Kind.MINUS):
            self.expect_term(tok)
            return Not(self.parse_unary(depth + 1))
        if tok.kind is Kind.LPAREN:
            self.expect_term(tok)
            node = self.parse_or(depth + 1)
            close = self.peek()
            if close is None or close.kind is not Kind.RPAREN:
                raise QueryError("unclosed '('", tok.pos)
            self.take()
            return node
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"more than {MAX_TERMS} terms", tok.pos)
        return Term(tok)
