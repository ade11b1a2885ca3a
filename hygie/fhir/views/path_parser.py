"""A tokenizer and recursive-descent parser for FHIRPath expressions.

It covers the grammar of FHIRPath (N1) minus quantities with units, which is what view
definitions need; the result is a tree of :mod:`hygie.fhir.views.path_ast` nodes.

>>> parse_path("name.where(use = 'official').family.first()")  # doctest: +ELLIPSIS
Call(target=Member(target=Call(target=Member(target=None, name='name'), name='where', ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from hygie.fhir.views.path_ast import (
    Binary,
    Call,
    Index,
    Literal,
    Member,
    Node,
    This,
    TypeOp,
    Unary,
    Variable,
)
from hygie.fhir.views.view_errors import ViewDefinitionError

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>@T?[0-9][0-9:T.+\-Z]*)
  | (?P<number>[0-9]+(?:\.[0-9]+)?)
  | (?P<variable>%(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]*`|'[^']*'))
  | (?P<special>\$(?:this|index|total))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)
  | (?P<op><=|>=|!=|!~|[=~<>+\-*/&|()\[\]{}.,])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r"}
_ESCAPES["t"] = "\t"

# Binary operators from the loosest to the tightest binding (FHIRPath §"Operator precedence").
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("implies",),
    ("or", "xor"),
    ("and",),
    ("in", "contains"),
    ("=", "~", "!=", "!~"),
    ("<", ">", "<=", ">="),
    ("|",),
)
_ADDITIVE = ("+", "-", "&")
_MULTIPLICATIVE = ("*", "/", "div", "mod")


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind (a group name of the token pattern), text and offset."""

    kind: str
    text: str
    position: int


def tokenize(expression: str) -> list[Token]:
    """Split ``expression`` into tokens; raises :class:`ViewDefinitionError` on stray characters."""
    tokens: list[Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise ViewDefinitionError(
                f"invalid FHIRPath {expression!r}: unexpected {expression[position]!r} "
                f"at offset {position}"
            )
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", _escape, body)


def _escape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code.startswith("u") and len(code) == 5:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, code)


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.position = 0

    def fail(self, message: str) -> ViewDefinitionError:
        return ViewDefinitionError(f"invalid FHIRPath {self.expression!r}: {message}")

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def peek_is(self, *texts: str) -> bool:
        token = self.peek()
        return token is not None and token.kind in ("op", "ident") and token.text in texts

    def advance(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.fail("unexpected end of expression")
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.advance()
        if token.text != text:
            raise self.fail(f"expected {text!r} at offset {token.position}, found {token.text!r}")

    def parse(self) -> Node:
        if not self.tokens:
            raise self.fail("empty expression")
        node = self.binary(0)
        token = self.peek()
        if token is not None:
            raise self.fail(f"unexpected {token.text!r} at offset {token.position}")
        return node

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.type_expression()
        node = self.binary(level + 1)
        while self.peek_is(*_LEVELS[level]):
            op = self.advance().text
            node = Binary(op, node, self.binary(level + 1))
        return node

    def type_expression(self) -> Node:
        node = self.additive()
        while self.peek_is("is", "as"):
            op = self.advance().text
            node = TypeOp(op, node, self.type_specifier())
        return node

    def type_specifier(self) -> str:
        names = [self.identifier()]
        while self.peek_is("."):
            self.advance()
            names.append(self.identifier())
        return ".".join(names)

    def identifier(self) -> str:
        token = self.advance()
        if token.kind != "ident":
            raise self.fail(f"expected a name at offset {token.position}, found {token.text!r}")
        return token.text.strip("`")

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.peek_is(*_ADDITIVE):
            op = self.advance().text
            node = Binary(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.peek_is(*_MULTIPLICATIVE):
            op = self.advance().text
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek_is("+", "-"):
            op = self.advance().text
            return Unary(op, self.unary())
        return self.invocations(self.term())

    def invocations(self, node: Node) -> Node:
        while True:
            if self.peek_is("."):
                self.advance()
                node = self.invocation(node)
            elif self.peek_is("["):
                self.advance()
                index = self.binary(0)
                self.expect("]")
                node = Index(node, index)
            else:
                return node

    def invocation(self, target: Node | None) -> Node:
        token = self.peek()
        if token is not None and token.kind == "special":
            self.advance()
            if token.text == "$this":
                return This()
            return Variable(token.text)
        name = self.identifier()
        if self.peek_is("("):
            self.advance()
            args: list[Node] = []
            if not self.peek_is(")"):
                args.append(self.binary(0))
                while self.peek_is(","):
                    self.advance()
                    args.append(self.binary(0))
            self.expect(")")
            return Call(target, name, tuple(args))
        return Member(target, name)

    def term(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("unexpected end of expression")
        if token.kind == "string":
            self.advance()
            return Literal(_unquote(token.text), "string")
        if token.kind == "number":
            self.advance()
            if "." in token.text:
                return Literal(float(token.text), "decimal")
            return Literal(int(token.text), "integer")
        if token.kind == "datetime":
            self.advance()
            return _temporal_literal(token.text[1:])
        if token.kind == "variable":
            self.advance()
            name = token.text[1:]
            return Variable(name[1:-1] if name[:1] in "`'" else name)
        if token.kind == "ident" and token.text in ("true", "false"):
            self.advance()
            return Literal(token.text == "true", "boolean")
        if self.peek_is("("):
            self.advance()
            node = self.binary(0)
            self.expect(")")
            return node
        if self.peek_is("{"):
            self.advance()
            self.expect("}")
            return Literal(None, "empty")
        if token.kind in ("ident", "special"):
            return self.invocation(None)
        raise self.fail(f"unexpected {token.text!r} at offset {token.position}")


def _temporal_literal(text: str) -> Literal:
    if text.startswith("T"):
        return Literal(text[1:], "time")
    if "T" in text:
        return Literal(text.rstrip("T"), "dateTime")
    return Literal(text, "date")


@lru_cache(maxsize=1024)
def parse_path(expression: str) -> Node:
    """Parse a FHIRPath expression into a syntax tree.

    Raises :class:`ViewDefinitionError` naming the expression and the offending token.
    """
    return _Parser(expression).parse()
