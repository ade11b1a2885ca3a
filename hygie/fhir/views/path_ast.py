"""The syntax tree of the FHIRPath subset that ViewDefinitions use.

Nodes are small frozen dataclasses; :mod:`hygie.fhir.views.path_parser` builds them and
:mod:`hygie.fhir.views.path_sql` turns them into DuckDB SQL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Literal:
    """A literal: ``'text'``, ``12``, ``1.5``, ``true``, ``@2020-01-01`` or ``{}`` (empty)."""

    value: str | int | float | bool | None
    type: str
    """``string``, ``integer``, ``decimal``, ``boolean``, ``date``, ``dateTime``, ``time``, ``empty``."""


@dataclass(frozen=True)
class This:
    """``$this``: the item in focus."""


@dataclass(frozen=True)
class Variable:
    """``%name``: a ViewDefinition constant or an environment variable such as ``%rowIndex``."""

    name: str


@dataclass(frozen=True)
class Member:
    """``target.name`` (or a bare ``name``, whose target is the focus: ``target`` is None)."""

    target: Node | None
    name: str


@dataclass(frozen=True)
class Call:
    """``target.name(args)``, or ``name(args)`` on the focus when ``target`` is None."""

    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Index:
    """``target[index]``."""

    target: Node
    index: Node


@dataclass(frozen=True)
class Binary:
    """``left op right`` for the arithmetic, comparison, boolean and union operators."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Unary:
    """``-operand`` or ``+operand``."""

    op: str
    operand: Node


@dataclass(frozen=True)
class TypeOp:
    """``operand is Type`` / ``operand as Type``."""

    op: str
    operand: Node
    type_name: str


Node = Literal | This | Variable | Member | Call | Index | Binary | Unary | TypeOp
