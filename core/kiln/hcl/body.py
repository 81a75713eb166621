"""Bodies, attributes and blocks: the configuration structure of a template file.

A :class:`Body` is what sits between a block's braces. Native HCL files and HCL's JSON
syntax both implement it; the JSON syntax needs the schema to tell an attribute from
a block, so bodies are read through :meth:`Body.content` with a :class:`Schema`, the
way HCL's own ``Body.Content`` works. Expressions are kept unevaluated until a scope
to evaluate them in exists.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kiln.hcl.diagnostics import Diagnostic, Range, error

if TYPE_CHECKING:
    from kiln.hcl.eval import Scope


@dataclass(frozen=True)
class Reference:
    """A traversal an expression makes: ``var.x`` is ``("var", "x")``; ``data.T.N`` is
    ``("data", "T", "N")``; a bare root (``local``) has no further names."""

    names: tuple[str, ...]
    range: Range


class Expression(Protocol):
    @property
    def range(self) -> Range: ...

    def evaluate(self, scope: Scope) -> Any: ...

    def references(self) -> list[Reference]: ...

    def source_text(self) -> str: ...

    def static_traversal(self) -> tuple[str, ...] | None:
        """The names of a plain reference like ``source.null.a`` (no index, no call),
        for the places where HCL takes a reference rather than a value."""
        ...


@dataclass(frozen=True)
class Attribute:
    name: str
    expr: Expression
    range: Range
    name_range: Range


@dataclass(frozen=True)
class Block:
    type: str
    labels: list[str]
    body: Body
    range: Range  # the block's type and labels: where errors about the block point
    label_ranges: list[Range] = field(default_factory=list)


@dataclass(frozen=True)
class BlockSpec:
    labels: int = 0
    label_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schema:
    """Which attributes and block types a body may hold.

    ``open_attributes`` lets any attribute through (component configuration whose
    schema is not known to the template layer).
    """

    attributes: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    blocks: dict[str, BlockSpec] = field(default_factory=dict)
    open_attributes: bool = False


@dataclass
class Content:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def blocks_of(self, block_type: str) -> list[Block]:
        return [b for b in self.blocks if b.type == block_type]


class Body(Protocol):
    range: Range
    filename: str

    def content(self, schema: Schema) -> Content: ...

    def just_attributes(self) -> tuple[dict[str, Attribute], list[Diagnostic]]:
        """Every item as an attribute (``locals``, var files); blocks are errors."""
        ...

    def all_items(self) -> tuple[dict[str, Attribute], list[Block]]:
        """Attributes and nested blocks, for configuration whose schema is open."""
        ...


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f' Did you mean "{match[0]}"?' if match else ""


def unsupported_argument(name: str, where: str, candidates: Iterable[str], at: Range) -> Diagnostic:
    return error(
        "Unsupported argument",
        f'An argument named "{name}" is not expected {where}.{did_you_mean(name, candidates)}',
        at,
    )


def unsupported_block(name: str, where: str, candidates: Iterable[str], at: Range) -> Diagnostic:
    return error(
        "Unsupported block type",
        f'Blocks of type "{name}" are not expected {where}.{did_you_mean(name, candidates)}',
        at,
    )


def add_attribute(attrs: dict[str, Attribute], attr: Attribute, diags: list[Diagnostic]) -> bool:
    """Add ``attr`` to ``attrs`` unless one of its name came first (the first wins, and
    the repeat is reported in ``diags``); whether it was added."""
    first = attrs.get(attr.name)
    if first is not None:
        diags.append(duplicate_argument(attr.name, attr.name_range, first.name_range))
        return False
    attrs[attr.name] = attr
    return True


def duplicate_argument(name: str, at: Range, first: Range) -> Diagnostic:
    return error(
        "Duplicate argument",
        f'The argument "{name}" was already set at {first}. Each argument may be set only once.',
        at,
    )
