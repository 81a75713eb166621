"""The expression evaluator: HCL2's expression language over the parse tree of
:mod:`kiln.hcl.syntax` (python-hcl2's grammar, in kiln's own tree types).

Every construct of HCL's native syntax is handled here: literals, templates with
interpolations, directives and strip markers, heredocs, operators, conditionals,
``for`` expressions, splats, indexing, attribute access and function calls. Values
follow the model in :mod:`kiln.hcl.values`; a reference to something only known when
the build runs evaluates to :data:`~kiln.hcl.values.UNKNOWN`, and so does any
operation on it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from kiln.hcl.body import (
    Attribute,
    Block,
    Content,
    Reference,
    Schema,
    add_attribute,
    did_you_mean,
    duplicate_argument,
    unsupported_argument,
    unsupported_block,
)
from kiln.hcl.diagnostics import Diagnostic, DiagnosticError, Pos, Range, error
from kiln.hcl.syntax import (
    Node,
    Source,
    Tree,
    offset_to_pos,
    parse_expression,
    scan_template,
)
from kiln.hcl.values import (
    UNKNOWN,
    HclSet,
    equal,
    is_known,
    is_number,
    normalize_number,
    parse_bool,
    parse_number,
    to_string,
    type_name,
)


class EvalError(Exception):
    """An expression could not be evaluated; ``diagnostic`` says where and why.

    ``diagnostics`` holds it and any further problems found at the same time (a function
    call with several bad arguments reports each).
    """

    def __init__(self, diagnostic: Diagnostic, *more: Diagnostic):
        super().__init__(diagnostic.summary)
        self.diagnostic = diagnostic
        self.diagnostics = [diagnostic, *more]


@dataclass(frozen=True)
class Scope:
    """What an expression can see: root names (``var``, ``local``, ...) and functions.

    ``base_dir`` is ``path.root``, the folder relative file paths in functions resolve
    against. ``allow_env`` is true only for variable defaults, the one place Packer
    allows ``env()``.
    """

    values: dict[str, Any] = field(default_factory=dict)
    base_dir: str = "."
    allow_env: bool = False

    def with_values(self, **extra: Any) -> Scope:
        return replace(self, values={**self.values, **extra})


def _too_deep(at: Range) -> EvalError:
    return fail(
        "Expression too deeply nested",
        "kiln cannot evaluate an expression nested this deeply; split it into locals.",
        at,
    )


def fail(summary: str, detail: str, at: Range) -> EvalError:
    return EvalError(error(summary, detail, at))


# ---------------------------------------------------------------------------
# Native expressions and bodies
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NativeExpression:
    """An expression of the native syntax, evaluated straight from the parse tree."""

    node: Node

    @property
    def range(self) -> Range:
        return self.node.range

    def evaluate(self, scope: Scope) -> Any:
        try:
            return _Evaluator(scope).eval(self.node)
        except RecursionError:
            raise _too_deep(self.range) from None

    def references(self) -> list[Reference]:
        try:
            return list(_references(self.node, frozenset()))
        except RecursionError:
            return []  # evaluating the expression reports that it is nested too deeply

    def source_text(self) -> str:
        return self.node.text()

    def static_traversal(self) -> tuple[str, ...] | None:
        return _static_traversal(self.node)


class NativeBody:
    """The body of a native-syntax block (or a whole file)."""

    def __init__(self, node: Node, range_: Range | None = None):
        self.node = node
        self.filename = node.src.filename
        self.range = range_ or node.range
        self._attrs: list[Attribute] = []
        self._blocks: list[Block] = []
        for child in node.children():
            if child.kind == "attribute":
                self._attrs.append(_attribute(child))
            elif child.kind == "block":
                self._blocks.append(_block(child))

    def content(self, schema: Schema) -> Content:
        out = Content()
        where = "here"
        for attr in self._attrs:
            if attr.name in out.attributes:
                out.diagnostics.append(
                    duplicate_argument(
                        attr.name, attr.name_range, out.attributes[attr.name].name_range
                    )
                )
                continue
            if not schema.open_attributes and attr.name not in schema.attributes:
                if attr.name in schema.blocks:
                    out.diagnostics.append(
                        error(
                            "Unsupported argument",
                            f'An argument named "{attr.name}" is not expected here. '
                            f'Did you mean to define a block of type "{attr.name}"?',
                            attr.name_range,
                        )
                    )
                else:
                    out.diagnostics.append(
                        unsupported_argument(attr.name, where, schema.attributes, attr.name_range)
                    )
                continue
            out.attributes[attr.name] = attr
        for block in self._blocks:
            spec = schema.blocks.get(block.type)
            if spec is None:
                if block.type in schema.attributes:
                    out.diagnostics.append(
                        error(
                            "Unsupported block type",
                            f'Blocks of type "{block.type}" are not expected here. '
                            f'Did you mean to define argument "{block.type}"? If so, use the '
                            "equals sign to assign it a value.",
                            block.range,
                        )
                    )
                else:
                    out.diagnostics.append(
                        unsupported_block(block.type, where, schema.blocks, block.range)
                    )
                continue
            if len(block.labels) != spec.labels:
                out.diagnostics.append(_label_count_error(block, spec.labels, spec.label_names))
                continue
            out.blocks.append(block)
        for name in schema.required:
            if name not in out.attributes:
                out.diagnostics.append(
                    error(
                        "Missing required argument",
                        f'The argument "{name}" is required, but no definition was found.',
                        self.range,
                    )
                )
        return out

    def just_attributes(self) -> tuple[dict[str, Attribute], list[Diagnostic]]:
        attrs: dict[str, Attribute] = {}
        diags: list[Diagnostic] = []
        for attr in self._attrs:
            add_attribute(attrs, attr, diags)
        for block in self._blocks:
            diags.append(
                error(
                    "Unexpected block",
                    f'Blocks are not allowed here; "{block.type}" should be an argument '
                    "(name = value).",
                    block.range,
                )
            )
        return attrs, diags

    def all_items(self) -> tuple[dict[str, Attribute], list[Block]]:
        return {a.name: a for a in self._attrs}, list(self._blocks)


def _attribute(node: Node) -> Attribute:
    children = node.children()
    name_node = children[0]
    expr_node = children[-1]
    return Attribute(
        name=name_node.text(),
        expr=NativeExpression(expr_node),
        range=node.range,
        name_range=name_node.range,
    )


def _block(node: Node) -> Block:
    children = node.children()
    head: list[Node] = []
    body_node: Node | None = None
    for child in children:
        if child.kind == "body":
            body_node = child
            break
        if child.kind not in ("LBRACE", "RBRACE"):
            head.append(child)
    labels = [_label_value(n) for n in head[1:]]
    head_range = Range(head[0].range.filename, head[0].range.start, head[-1].range.end)
    assert body_node is not None
    return Block(
        type=head[0].text(),
        labels=labels,
        body=NativeBody(body_node, node.range),
        range=head_range,
        label_ranges=[n.range for n in head[1:]],
    )


def _label_value(node: Node) -> str:
    if node.kind == "string":
        return "".join(_string_literal_text(p) for p in node.children() if p.kind == "string_part")
    return node.text()


def _string_literal_text(part: Node) -> str:
    child = part.children()[0] if part.children() else part
    if child.kind == "STRING_CHARS":
        return unescape(child.text())
    return child.text()


def _label_count_error(block: Block, want: int, names: tuple[str, ...]) -> Diagnostic:
    if len(block.labels) < want:
        missing = names[len(block.labels)] if len(names) > len(block.labels) else "label"
        return error(
            f"Missing {missing} for {block.type}",
            f'All "{block.type}" blocks must have {want} label(s)'
            + (f" ({', '.join(names)})" if names else "")
            + ".",
            block.range,
        )
    extra_at = block.label_ranges[want] if len(block.label_ranges) > want else block.range
    return error(
        f"Extraneous label for {block.type}",
        f'"{block.type}" blocks take {want} label(s)'
        + (f" ({', '.join(names)})" if names else "")
        + ". Remove the extra one.",
        extra_at,
    )


# ---------------------------------------------------------------------------
# Strings
# ---------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def unescape(text: str) -> str:
    """Process the backslash escapes of a quoted HCL string."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and i + 6 <= len(text):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if nxt == "U" and i + 10 <= len(text):
                out.append(chr(int(text[i + 2 : i + 10], 16)))
                i += 10
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def to_template_string(value: Any, at: Range) -> str:
    """Convert an interpolated value to its string form, as HCL templates do."""
    if isinstance(value, (str, bool)) or is_number(value):
        return to_string(value)
    if value is None:
        raise fail(
            "Invalid template interpolation value",
            "The expression result is null. Cannot include a null value in a string template.",
            at,
        )
    raise fail(
        "Invalid template interpolation value",
        f"Cannot include the given value in a string template: string required, "
        f"got {type_name(value)}.",
        at,
    )


# A template piece: ("lit", text) | ("interp", Node, l, r) | ("if", Node, l, r)
# | ("else", l, r) | ("endif", l, r) | ("for", names, Node, l, r) | ("endfor", l, r)
Piece = tuple[Any, ...]


@dataclass
class _TNode:
    """A template after directives are matched up: literal, interp, if or for."""

    kind: str
    text: str = ""
    expr: Node | None = None
    names: tuple[str, ...] = ()
    body: list[_TNode] = field(default_factory=list)
    orelse: list[_TNode] = field(default_factory=list)
    at: Range | None = None


def _strip_pieces(pieces: list[Piece]) -> list[Piece]:
    """Apply strip markers: ``~`` removes the whitespace next to it in adjacent literals."""
    out = list(pieces)
    for i, piece in enumerate(out):
        if piece[0] == "lit":
            continue
        left, right = piece[-2], piece[-1]
        if left and i > 0 and out[i - 1][0] == "lit":
            out[i - 1] = ("lit", out[i - 1][1].rstrip(" \t\r\n"))
        if right and i + 1 < len(out) and out[i + 1][0] == "lit":
            out[i + 1] = ("lit", out[i + 1][1].lstrip(" \t\r\n"))
    return out


def _structure(pieces: list[Piece], at: Range) -> list[_TNode]:
    """Match ``%{if}``/``%{else}``/``%{endif}`` and ``%{for}``/``%{endfor}`` pairs."""
    root: list[_TNode] = []
    stack: list[tuple[_TNode, list[_TNode]]] = []
    current = root
    for piece in _strip_pieces(pieces):
        kind = piece[0]
        if kind == "lit":
            current.append(_TNode("literal", text=piece[1]))
        elif kind == "interp":
            current.append(_TNode("interp", expr=piece[1], at=piece[1].range))
        elif kind == "if":
            node = _TNode("if", expr=piece[1], at=piece[1].range)
            current.append(node)
            stack.append((node, current))
            current = node.body
        elif kind == "else":
            if not stack or stack[-1][0].kind != "if" or current is stack[-1][0].orelse:
                raise fail("Unexpected else directive", "An else must follow an if.", at)
            current = stack[-1][0].orelse
        elif kind == "for":
            node = _TNode("for", expr=piece[2], names=piece[1], at=piece[2].range)
            current.append(node)
            stack.append((node, current))
            current = node.body
        elif kind in ("endif", "endfor"):
            want = "if" if kind == "endif" else "for"
            if not stack or stack[-1][0].kind != want:
                raise fail(
                    f"Unexpected {kind} directive",
                    f"There is no open {want} directive for this {kind} to close.",
                    at,
                )
            _, current = stack.pop()
        else:
            raise fail(
                "Invalid template directive",
                f'"{kind}" is not a template directive; use if, else, endif, for or endfor.',
                at,
            )
    if stack:
        open_kind = stack[-1][0].kind
        raise fail(
            f"Unterminated template {open_kind} directive",
            f"Close it with %{{end{open_kind}}}.",
            stack[-1][0].at or at,
        )
    return root


# ---------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------

_COMPARE = {"<", ">", "<=", ">="}


class _Evaluator:
    def __init__(self, scope: Scope):
        self.scope = scope

    def eval(self, node: Node) -> Any:
        method = getattr(self, "_" + node.kind, None)
        if method is None:
            raise fail(
                "Unsupported expression",
                f"kiln cannot evaluate this kind of expression ({node.kind}).",
                node.range,
            )
        return method(node)

    # -- terms --------------------------------------------------------------

    def _expr_term(self, node: Node) -> Any:
        inner = [c for c in node.children() if c.kind not in ("LPAR", "RPAR")]
        return self.eval(inner[0])

    def _int_lit(self, node: Node) -> Any:
        return int(node.text())

    def _float_lit(self, node: Node) -> Any:
        return normalize_number(float(node.text()))

    def _literal_value(self, node: Node) -> Any:
        word = node.text()
        return {"true": True, "false": False, "null": None}[word]

    def _identifier(self, node: Node) -> Any:
        name = node.text()
        if name in self.scope.values:
            return self.scope.values[name]
        hint = did_you_mean(name, self.scope.values)
        raise fail(
            "Unknown variable",
            f'There is no variable named "{name}".{hint}',
            node.range,
        )

    def _tuple(self, node: Node) -> Any:
        return [self.eval(c) for c in node.children() if isinstance(c.tree, Tree)]

    def _object(self, node: Node) -> Any:
        out: dict[str, Any] = {}
        unknown_key = False
        for elem in node.children():
            if elem.kind != "object_elem":
                continue
            parts = elem.children()
            key_node, value_node = parts[0], parts[-1]
            key = self._object_key(key_node)
            value = self.eval(value_node)
            if key is UNKNOWN:
                unknown_key = True
                continue
            out[key] = value
        return UNKNOWN if unknown_key else out

    def _object_key(self, key_node: Node) -> Any:
        inner = key_node.children()[0]
        # A bare name is a literal key; anything else (including (name)) is evaluated.
        if inner.kind == "keyword":
            return inner.text()
        if inner.kind == "expr_term":
            terms = inner.children()
            if len(terms) == 1 and terms[0].kind == "identifier":
                return terms[0].text()
        key = self.eval(inner)
        if key is UNKNOWN:
            return UNKNOWN
        if key is None:
            raise fail(
                "Invalid object key", "The key expression produced a null value.", inner.range
            )
        if isinstance(key, (bool, int, float)):
            return to_template_string(key, inner.range)
        if not isinstance(key, str):
            raise fail(
                "Invalid object key",
                f"Object keys must be strings, not {type_name(key)}.",
                inner.range,
            )
        return key

    # -- templates ----------------------------------------------------------

    def _string(self, node: Node) -> Any:
        pieces: list[Piece] = []
        for part in node.children():
            if part.kind != "string_part":
                continue
            child = part.children()[0] if part.children() else part
            kind = child.kind
            if kind == "STRING_CHARS":
                pieces.append(("lit", unicodedata.normalize("NFC", unescape(child.text()))))
            elif kind in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                pieces.append(("lit", child.text()[1:]))
            elif kind == "interpolation":
                raw = child.text()  # strip markers were blanked for the grammar
                left, right = raw[2:3] == "~", raw[-2:-1] == "~"
                expr = next(c for c in child.children() if isinstance(c.tree, Tree))
                pieces.append(("interp", expr, left, right))
            else:
                pieces.append(self._directive_piece(child))
        return self._render(pieces, node.range)

    def _directive_piece(self, child: Node) -> Piece:
        # Strip markers are read from the original text: ``~}`` was blanked for the grammar.
        text = child.text()
        left = text[2:3] == "~"
        right = text[-2:-1] == "~"
        exprs = [c for c in child.children() if isinstance(c.tree, Tree)]
        kind = child.kind
        if kind == "template_if_start":
            return ("if", exprs[-1], left, right)
        if kind == "template_for_start":
            names = tuple(c.text() for c in exprs if c.kind == "identifier")
            return ("for", names, exprs[-1], left, right)
        word = {"template_else": "else", "template_endif": "endif", "template_endfor": "endfor"}
        return (word[kind], left, right)

    def _template_string(self, node: Node) -> Any:
        text = node.text()
        return unescape(text[2:-2])

    def _heredoc_template(self, node: Node) -> Any:
        return self._heredoc(node, flush=False)

    def _heredoc_template_trim(self, node: Node) -> Any:
        return self._heredoc(node, flush=True)

    def _heredoc(self, node: Node, flush: bool) -> Any:
        raw = node.text()
        first_nl = raw.index("\n")
        body = raw[first_nl + 1 :]
        body = body[: body.rstrip("\n").rfind("\n") + 1] if "\n" in body.rstrip("\n") else ""
        body_line = node.range.start.line + 1
        if flush:
            body = _flush_indent(body)
        return self.render_text(body, Source(node.src.filename, body, body_line, 1), node.range)

    def render_text(self, text: str, src: Source, at: Range) -> Any:
        """Evaluate raw template text (a heredoc body, a JSON string)."""
        try:
            parts = scan_template(text)
        except ValueError as exc:
            line, col = offset_to_pos(text, exc.args[0])
            pos = src.pos(line, col)
            raise fail(
                "Unterminated template string",
                "A ${ or %{ sequence is not closed with }.",
                Range(src.filename, pos, Pos(pos.line, pos.column + 2)),
            ) from None
        pieces: list[Piece] = []
        for part in parts:
            if part.kind == "literal":
                pieces.append(("lit", unicodedata.normalize("NFC", part.text)))
                continue
            expr_node: Node | None = None
            names: tuple[str, ...] = ()
            expr_text = part.text
            offset = part.offset
            if part.kind == "for":
                head, sep, rest = expr_text.partition(" in ")
                if not sep:
                    raise fail("Invalid for directive", "Write %{ for x in EXPR }.", at)
                names = tuple(n.strip() for n in head.split(","))
                offset += len(head) + len(sep)
                expr_text = rest
            if part.kind in ("interp", "if", "for"):
                line, col = offset_to_pos(text, offset)
                pos = src.pos(line, col)
                try:
                    expr_node = parse_expression(
                        expr_text, Source(src.filename, expr_text, pos.line, pos.column)
                    )
                except DiagnosticError as exc:
                    raise EvalError(exc.diagnostics[0]) from None
            if part.kind == "interp":
                pieces.append(("interp", expr_node, part.strip_left, part.strip_right))
            elif part.kind == "if":
                pieces.append(("if", expr_node, part.strip_left, part.strip_right))
            elif part.kind == "for":
                pieces.append(("for", names, expr_node, part.strip_left, part.strip_right))
            else:
                pieces.append((part.kind, part.strip_left, part.strip_right))
        return self._render(pieces, at)

    def _render(self, pieces: list[Piece], at: Range) -> Any:
        # A template that is a single interpolation yields the value itself, unconverted.
        if len(pieces) == 1 and pieces[0][0] == "interp":
            return self.eval(pieces[0][1])
        nodes = _structure(pieces, at)
        out: list[str] = []
        if self._render_nodes(nodes, out) is UNKNOWN:
            return UNKNOWN
        return "".join(out)

    def _render_nodes(self, nodes: list[_TNode], out: list[str]) -> Any:
        for node in nodes:
            if node.kind == "literal":
                out.append(node.text)
                continue
            assert node.expr is not None and node.at is not None
            value = self.eval(node.expr)
            if value is UNKNOWN:
                return UNKNOWN
            if node.kind == "interp":
                out.append(to_template_string(value, node.at))
            elif node.kind == "if":
                cond = self._as_bool(value, node.at, "Invalid template if condition")
                if self._render_nodes(node.body if cond else node.orelse, out) is UNKNOWN:
                    return UNKNOWN
            else:
                for key, item in self._iterate(value, node.at):
                    inner = _Evaluator(self.scope.with_values(**_bind(node.names, key, item)))
                    if inner._render_nodes(node.body, out) is UNKNOWN:
                        return UNKNOWN
        return None

    # -- operators ----------------------------------------------------------

    def _conditional(self, node: Node) -> Any:
        parts = [c for c in node.children() if isinstance(c.tree, Tree)]
        cond = self.eval(parts[0])
        if cond is UNKNOWN:
            return UNKNOWN
        flag = self._as_bool(cond, parts[0].range, "Incorrect condition type")
        return self.eval(parts[1] if flag else parts[2])

    def _binary_op(self, node: Node) -> Any:
        left_node, term = node.children()[0], node.children()[1]
        op_node, right_node = term.children()[0], term.children()[-1]
        op = op_node.text().strip()
        # HCL evaluates both operands (no short-circuit for && and ||), so errors on
        # either side show.
        left = self.eval(left_node)
        right = self.eval(right_node)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if op in ("&&", "||"):
            lbool = self._as_bool(left, left_node.range, "Invalid operand")
            rbool = self._as_bool(right, right_node.range, "Invalid operand")
            return (lbool and rbool) if op == "&&" else (lbool or rbool)
        if op in ("==", "!="):
            same = equal(left, right)
            return same if op == "==" else not same
        a = self._as_number(left, left_node.range)
        b = self._as_number(right, right_node.range)
        if op in _COMPARE:
            return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return self._arith(op, a, b, node.range)

    def _arith(self, op: str, a: int | float, b: int | float, at: Range) -> Any:
        try:
            if op == "+":
                result = a + b
            elif op == "-":
                result = a - b
            elif op == "*":
                result = a * b
            elif op == "/":
                if b == 0:
                    raise ZeroDivisionError
                result = (
                    a // b if isinstance(a, int) and isinstance(b, int) and a % b == 0 else a / b
                )
            else:
                if b == 0:
                    raise ZeroDivisionError
                result = (
                    math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else _imod(a, b)
                )
        except ZeroDivisionError:
            raise fail(
                "Operation failed", "Error during operation: can't divide by zero.", at
            ) from None
        except OverflowError:
            raise fail(
                "Operation failed", "Error during operation: the result is too large.", at
            ) from None
        return normalize_number(result)

    def _unary_op(self, node: Node) -> Any:
        children = node.children()
        op, operand = children[0].text(), children[1]
        value = self.eval(operand)
        if value is UNKNOWN:
            return UNKNOWN
        if op == "!":
            return not self._as_bool(value, operand.range, "Invalid operand")
        return normalize_number(-self._as_number(value, operand.range))

    def _as_bool(self, value: Any, at: Range, summary: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            flag = parse_bool(value)
            if flag is not None:
                return flag
        if value is None:
            raise fail(summary, "The value is null; a bool is required.", at)
        raise fail(summary, f"A bool is required, not {type_name(value)}.", at)

    def _as_number(self, value: Any, at: Range) -> int | float:
        if is_number(value):
            return value
        if isinstance(value, str):
            number = parse_number(value)
            if number is not None:
                return number
            raise fail(
                "Invalid operand",
                f'Unsuitable value for operand: a number is required, and "{value}" is not one.',
                at,
            )
        if value is None:
            raise fail(
                "Invalid operand",
                "Unsuitable value for operand: a number is required, but the value is null.",
                at,
            )
        raise fail(
            "Invalid operand",
            f"Unsuitable value for operand: a number is required, not {type_name(value)}.",
            at,
        )

    # -- traversals ---------------------------------------------------------

    def _get_attr_expr_term(self, node: Node) -> Any:
        base_node, attr = node.children()
        return self._get_attr(self.eval(base_node), attr)

    def _get_attr(self, base: Any, attr: Node) -> Any:
        name_node = attr.children()[-1]
        name = name_node.text()
        if base is UNKNOWN:
            return UNKNOWN
        if isinstance(base, dict):
            if name in base:
                return base[name]
            raise fail(
                "Unsupported attribute",
                f'This object does not have an attribute named "{name}".'
                + did_you_mean(name, base),
                name_node.range,
            )
        if base is None:
            raise fail(
                "Attempt to get attribute from null value",
                "This value is null, so it does not have any attributes.",
                name_node.range,
            )
        if isinstance(base, list):
            raise fail(
                "Unsupported attribute",
                "Can't access attributes on a list of objects. Did you mean to access an "
                "attribute for a specific element of the list, or across all elements of the "
                "list?",
                name_node.range,
            )
        raise fail(
            "Unsupported attribute",
            f"Can't access attributes on a primitive-typed value ({type_name(base)}).",
            name_node.range,
        )

    def _index_expr_term(self, node: Node) -> Any:
        base_node, index = node.children()
        return self._index(self.eval(base_node), index)

    def _index(self, base: Any, index: Node) -> Any:
        if index.kind == "short_index":
            key: Any = int(index.children()[-1].text())
            at = index.range
        else:
            key_node = next(c for c in index.children() if isinstance(c.tree, Tree))
            key = self.eval(key_node)
            at = key_node.range
        if base is UNKNOWN or key is UNKNOWN:
            return UNKNOWN
        if base is None:
            raise fail(
                "Attempt to index null value", "This value is null, so it has no elements.", at
            )
        if isinstance(base, HclSet):
            raise fail(
                "Invalid index",
                "Elements of a set are identified only by their value and don't have any "
                "separate index or key to select with, so it's only possible to perform "
                "operations across all elements of the set.",
                at,
            )
        if isinstance(base, list):
            if isinstance(key, str):
                number = parse_number(key)
                if number is None:
                    raise fail(
                        "Invalid index",
                        "The given key does not identify an element in this "
                        "collection value: a number is required.",
                        at,
                    )
                key = number
            if not is_number(key) or (isinstance(key, float) and not key.is_integer()):
                raise fail("Invalid index", "The index must be a whole number.", at)
            position = int(key)
            if 0 <= position < len(base):
                return base[position]
            raise fail(
                "Invalid index",
                "The given key does not identify an element in this collection value: "
                + (
                    "a negative number is not a valid index for a sequence."
                    if position < 0
                    else "the given index is greater than or equal to the length of the collection."
                ),
                at,
            )
        if isinstance(base, dict):
            if is_number(key) or isinstance(key, bool):
                key = to_template_string(key, at)
            if not isinstance(key, str):
                raise fail("Invalid index", "The key must be a string.", at)
            if key in base:
                return base[key]
            raise fail(
                "Invalid index",
                "The given key does not identify an element in this collection value.",
                at,
            )
        raise fail(
            "Invalid index",
            f"This value does not have any indices: it is a {type_name(base)}.",
            at,
        )

    def _attr_splat_expr_term(self, node: Node) -> Any:
        return self._splat(node)

    def _full_splat_expr_term(self, node: Node) -> Any:
        return self._splat(node)

    def _splat(self, node: Node) -> Any:
        base_node, splat = node.children()
        base = self.eval(base_node)
        steps = [c for c in splat.children() if isinstance(c.tree, Tree)]
        if base is UNKNOWN:
            return UNKNOWN
        if base is None:
            return []
        items = base if isinstance(base, list) else [base]
        out = []
        for item in items:
            for step in steps:
                item = (
                    self._get_attr(item, step)
                    if step.kind == "get_attr"
                    else self._index(item, step)
                )
            out.append(item)
        return out

    # -- for expressions ----------------------------------------------------

    def _for_tuple_expr(self, node: Node) -> Any:
        intro, body, cond = self._for_parts(node)
        collection, names = self._for_intro(intro)
        if collection is UNKNOWN:
            return UNKNOWN
        out: list[Any] = []
        for key, item in self._iterate(collection, intro.range):
            inner = _Evaluator(self.scope.with_values(**_bind(names, key, item)))
            if cond is not None and not inner._for_cond(cond):
                continue
            out.append(inner.eval(body[0]))
        return out

    def _for_object_expr(self, node: Node) -> Any:
        intro, body, cond = self._for_parts(node)
        grouping = any(c.kind == "ELLIPSIS" for c in node.children())
        collection, names = self._for_intro(intro)
        if collection is UNKNOWN:
            return UNKNOWN
        out: dict[str, Any] = {}
        for key, item in self._iterate(collection, intro.range):
            inner = _Evaluator(self.scope.with_values(**_bind(names, key, item)))
            if cond is not None and not inner._for_cond(cond):
                continue
            k = inner.eval(body[0])
            if k is UNKNOWN:
                return UNKNOWN
            k = to_template_string(k, body[0].range)
            v = inner.eval(body[1])
            if grouping:
                out.setdefault(k, []).append(v)
            elif k in out:
                raise fail(
                    "Duplicate object key",
                    f"Two different items produced the key \"{k}\" in this 'for' expression. "
                    "If duplicates are expected, use the ellipsis (...) after the value "
                    "expression to enable grouping by key.",
                    body[0].range,
                )
            else:
                out[k] = v
        return out

    def _for_parts(self, node: Node) -> tuple[Node, list[Node], Node | None]:
        intro = next(c for c in node.children() if c.kind == "for_intro")
        cond = next((c for c in node.children() if c.kind == "for_cond"), None)
        body = [
            c
            for c in node.children()
            if isinstance(c.tree, Tree) and c.kind not in ("for_intro", "for_cond")
        ]
        return intro, body, cond

    def _for_intro(self, intro: Node) -> tuple[Any, tuple[str, ...]]:
        parts = [c for c in intro.children() if isinstance(c.tree, Tree)]
        names = tuple(p.text() for p in parts if p.kind == "identifier")
        collection = self.eval(parts[-1])
        return collection, names

    def _for_cond(self, cond: Node) -> bool:
        expr = next(c for c in cond.children() if isinstance(c.tree, Tree))
        value = self.eval(expr)
        if value is UNKNOWN:
            raise fail(
                "Condition is unknown",
                "The 'if' clause of this 'for' expression depends on a value known only "
                "when the build runs.",
                expr.range,
            )
        return self._as_bool(value, expr.range, "Invalid 'for' condition")

    def _iterate(self, value: Any, at: Range) -> Iterator[tuple[Any, Any]]:
        if isinstance(value, HclSet):
            return ((v, v) for v in value)
        if isinstance(value, list):
            return iter(enumerate(value))
        if isinstance(value, dict):
            return ((k, value[k]) for k in sorted(value))
        if value is None:
            raise fail(
                "Iteration over null value",
                "A null value cannot be used as the collection in a 'for' expression.",
                at,
            )
        raise fail(
            "Iteration over non-iterable value",
            f"A value of type {type_name(value)} cannot be used as the collection in a 'for' "
            "expression.",
            at,
        )

    # -- function calls -----------------------------------------------------

    def _function_call(self, node: Node) -> Any:
        children = node.children()
        names = [c for c in children if c.kind == "identifier"]
        name = names[0].text()
        if len(names) > 1:
            full = "::".join(n.text() for n in names)
            raise fail(
                "Call to unknown function",
                f'There is no function named "{full}"; provider functions do not exist in kiln.',
                names[0].range,
            )
        arg_nodes, expand = _call_arguments(node)
        if name in ("try", "can"):
            return self._try_can(name, arg_nodes, node.range)
        if name == "convert":
            return self._convert(arg_nodes, node.range)
        from kiln.hcl import functions

        fn = functions.FUNCTIONS.get(name)
        if fn is None or (fn.only_in_variable_defaults and not self.scope.allow_env):
            if fn is not None:
                raise fail(
                    "Call to unknown function",
                    f'There is no function named "{name}". "{name}" can only be used in the '
                    "default value of a variable.",
                    names[0].range,
                )
            hint = did_you_mean(name, [*functions.FUNCTIONS, "try", "can", "convert"])
            raise fail(
                "Call to unknown function",
                f'There is no function named "{name}".{hint}',
                names[0].range,
            )
        args = [self.eval(a) for a in arg_nodes]
        if expand:
            last = args.pop() if args else None
            if last is UNKNOWN:
                return UNKNOWN
            if not isinstance(last, list):
                raise fail(
                    "Invalid expanding argument value",
                    "The expanding argument (indicated by ...) must be of a tuple, list, or "
                    "set type.",
                    arg_nodes[-1].range,
                )
            args.extend(last)
        ctx = functions.FunctionContext(
            base_dir=self.scope.base_dir, render_template=self._render_file_template
        )
        try:
            return fn.call(args, ctx)
        except functions.FunctionError as exc:
            diags = []
            for problem in [exc, *exc.others]:
                at = node.range
                if problem.arg_index is not None and problem.arg_index < len(arg_nodes):
                    at = arg_nodes[problem.arg_index].range
                diags.append(error(problem.summary, problem.detail, at))
            raise EvalError(*diags) from None

    def _render_file_template(self, text: str, filename: str, variables: dict[str, Any]) -> Any:
        """``templatefile``: the file's text is a template over ``variables`` only."""
        scope = Scope(values=dict(variables), base_dir=self.scope.base_dir)
        src = Source(filename, text)
        at = Range(filename, Pos(1, 1), Pos(1, 1))
        value = _Evaluator(scope).render_text(text, src, at)
        return value if value is UNKNOWN else to_template_string(value, at)

    def _try_can(self, name: str, arg_nodes: list[Node], at: Range) -> Any:
        if name == "can" and len(arg_nodes) != 1:
            raise fail(
                "Not enough function arguments" if not arg_nodes else "Too many function arguments",
                'Function "can" expects 1 argument.',
                at,
            )
        if name == "try" and not arg_nodes:
            raise fail(
                "Not enough function arguments",
                'Function "try" expects at least one argument.',
                at,
            )
        for arg in arg_nodes:
            try:
                value = self.eval(arg)
            except EvalError:
                if name == "can":
                    return False
                continue
            if name == "can":
                return True if is_known(value) else UNKNOWN
            return value
        raise fail(
            "Error in function call",
            'Call to function "try" failed: no expression succeeded.',
            at,
        )

    def _convert(self, arg_nodes: list[Node], at: Range) -> Any:
        from kiln.hcl import types

        if len(arg_nodes) != 2:
            raise fail(
                "Invalid function arguments",
                'Function "convert" expects 2 arguments: a value and a type.',
                at,
            )
        value = self.eval(arg_nodes[0])
        target = type_from_node(arg_nodes[1])
        try:
            return types.convert(value, target)
        except types.ConversionError as exc:
            raise fail(
                "Invalid function argument",
                f'Invalid value for "value" parameter: {exc.message}.',
                arg_nodes[0].range,
            ) from None


def _imod(a: int, b: int) -> int:
    """Integer remainder with the sign of the dividend, as Go and cty compute it."""
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _call_arguments(call: Node) -> tuple[list[Node], bool]:
    """A function call's argument expressions, and whether the last is expanded (``...``)."""
    args_node = next((c for c in call.children() if c.kind == "arguments"), None)
    if args_node is None:
        return [], False
    parts = args_node.children()
    return [c for c in parts if isinstance(c.tree, Tree)], any(c.kind == "ELLIPSIS" for c in parts)


def _bind(names: tuple[str, ...], key: Any, item: Any) -> dict[str, Any]:
    if len(names) == 1:
        return {names[0]: item}
    return {names[0]: key, names[1]: item}


def _flush_indent(body: str) -> str:
    """``<<-`` heredocs: remove the indentation common to every non-blank line."""
    lines = body.split("\n")
    indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(ln[cut:] if ln.strip() else ln.lstrip(" \t") for ln in lines)


# ---------------------------------------------------------------------------
# Types written as expressions: list(string), object({a = number}), ...
# ---------------------------------------------------------------------------


def type_from_node(node: Node) -> Any:
    """Interpret a type-constraint expression (``type = list(string)``)."""
    from kiln.hcl import types

    inner = _unwrap(node)
    if inner.kind == "expr_term":
        inner = next(c for c in inner.children() if c.kind not in ("LPAR", "RPAR"))
        return type_from_node(inner)
    if inner.kind == "identifier":
        word = inner.text()
        simple = {
            "string": types.STRING,
            "number": types.NUMBER,
            "bool": types.BOOL,
            "any": types.ANY,
        }
        if word in simple:
            return simple[word]
        if word in ("list", "map", "set", "object", "tuple"):
            raise fail(
                "Invalid type specification",
                f"The {word} type constructor requires one argument specifying the element "
                f"type{'s' if word in ('object', 'tuple') else ''}.",
                inner.range,
            )
        raise fail(
            "Invalid type specification",
            f'The keyword "{word}" is not a valid type specification.'
            + did_you_mean(
                word, ["string", "number", "bool", "any", "list", "map", "set", "object", "tuple"]
            ),
            inner.range,
        )
    if inner.kind == "function_call":
        word = inner.children()[0].text()
        args, _ = _call_arguments(inner)
        if word in ("list", "set", "map") and len(args) == 1:
            elem = type_from_node(args[0])
            return {"list": types.ListType, "set": types.SetType, "map": types.MapType}[word](elem)
        if word == "tuple" and len(args) == 1:
            tup = _unwrap(args[0])
            if tup.kind == "tuple":
                return types.TupleType(
                    [type_from_node(c) for c in tup.children() if isinstance(c.tree, Tree)]
                )
        if word == "object" and len(args) == 1:
            obj = _unwrap(args[0])
            if obj.kind == "object":
                return _object_type(obj)
        if word == "optional":
            raise fail(
                "Invalid type specification",
                'Keyword "optional" is valid only as a modifier for object type attributes.',
                inner.range,
            )
        raise fail(
            "Invalid type specification",
            f'"{word}(...)" is not a valid type constructor here: use list(T), set(T), map(T), '
            "tuple([T, ...]) or object({name = T, ...}).",
            inner.range,
        )
    raise fail(
        "Invalid type specification",
        "A type specification is either a primitive type keyword (bool, number, string) or a "
        "complex type constructor call, like list(string).",
        inner.range,
    )


def _unwrap(node: Node) -> Node:
    while node.kind == "expr_term" and len(node.children()) == 1:
        node = node.children()[0]
    return node


def _object_type(obj: Node) -> Any:
    from kiln.hcl import types

    attrs: dict[str, Any] = {}
    optional: set[str] = set()
    defaults: dict[str, Any] = {}
    for elem in obj.children():
        if elem.kind != "object_elem":
            continue
        parts = elem.children()
        key = _unwrap(parts[0].children()[0])
        if key.kind not in ("identifier", "keyword", "string"):
            raise fail(
                "Invalid type specification",
                "Object attribute names must be plain names.",
                key.range,
            )
        name = _label_value(key) if key.kind == "string" else key.text()
        value = _unwrap(parts[-1])
        if value.kind == "function_call" and value.children()[0].text() == "optional":
            args, _ = _call_arguments(value)
            if not 1 <= len(args) <= 2:
                raise fail(
                    "Invalid type specification",
                    "optional() takes a type and an optional default value.",
                    value.range,
                )
            attrs[name] = type_from_node(args[0])
            optional.add(name)
            if len(args) == 2:
                defaults[name] = _Evaluator(Scope()).eval(args[1])
        else:
            attrs[name] = type_from_node(value)
    return types.ObjectType(attrs, frozenset(optional), defaults)


# ---------------------------------------------------------------------------
# References, for dependency graphs
# ---------------------------------------------------------------------------


def _references(node: Node, bound: frozenset[str]) -> Iterator[Reference]:
    kind = node.kind
    if kind in ("for_tuple_expr", "for_object_expr"):
        intro = next(c for c in node.children() if c.kind == "for_intro")
        parts = [c for c in intro.children() if isinstance(c.tree, Tree)]
        yield from _references(parts[-1], bound)
        names = frozenset(p.text() for p in parts if p.kind == "identifier")
        for child in node.children():
            if child.kind != "for_intro" and isinstance(child.tree, Tree):
                yield from _references(child, bound | names)
        return
    if kind == "object_elem_key":
        inner = node.children()[0]
        if inner.kind == "expr_term" and [c.kind for c in inner.children()] == ["identifier"]:
            return
    traversal = _static_prefix(node)
    if traversal is not None:
        chain, at = traversal
        if chain[0] not in bound:
            yield Reference(chain, at)
        for step in _chain_steps(node):
            yield from _references(step, bound)
        return
    if kind in ("heredoc_template", "heredoc_template_trim"):
        yield from _template_references(node, bound)
        return
    if kind == "function_call":
        for child in node.children():
            if child.kind == "arguments":
                yield from _references(child, bound)
        return
    for child in node.children():
        if isinstance(child.tree, Tree):
            yield from _references(child, bound)


def _template_references(node: Node, bound: frozenset[str]) -> Iterator[Reference]:
    raw = node.text()
    body = raw[raw.index("\n") + 1 :]
    try:
        parts = scan_template(body)
    except ValueError:
        return
    src = Source(node.src.filename, body, node.range.start.line + 1, 1)
    for part in parts:
        if part.kind in ("interp", "if"):
            text = part.text
        elif part.kind == "for":
            text = part.text.partition(" in ")[2]
        else:
            continue
        try:
            expr = parse_expression(text, src)
        except DiagnosticError:
            continue
        yield from _references(expr, bound)


def _static_prefix(node: Node) -> tuple[tuple[str, ...], Range] | None:
    """The leading ``root.name.name`` of a traversal (``var.x[0]`` gives ``var.x``)."""
    chain: list[str] = []
    current = node
    while True:
        kind = current.kind
        if kind == "expr_term":
            kids = current.children()
            if len(kids) != 1:
                return None
            current = kids[0]
            continue
        if kind == "identifier":
            chain.append(current.text())
            break
        if kind == "get_attr_expr_term":
            base, attr = current.children()
            chain.append(attr.children()[-1].text())
            current = base
            continue
        if kind in ("index_expr_term", "attr_splat_expr_term", "full_splat_expr_term"):
            # Everything before the index is a static prefix; what's inside the index may
            # reference other things too, but only the prefix matters for ordering here.
            base = current.children()[0]
            chain.clear()
            current = base
            continue
        return None
    chain.reverse()
    return tuple(chain), node.range


def _chain_steps(node: Node) -> Iterator[Node]:
    """The index and splat parts along a traversal chain (they may hold references)."""
    current = node
    while True:
        if current.kind == "expr_term" and len(current.children()) == 1:
            current = current.children()[0]
        elif current.kind in (
            "get_attr_expr_term",
            "index_expr_term",
            "attr_splat_expr_term",
            "full_splat_expr_term",
        ):
            base, step = current.children()
            if current.kind != "get_attr_expr_term":
                yield step
            current = base
        else:
            return


def _static_traversal(node: Node) -> tuple[str, ...] | None:
    found = _static_prefix(node)
    if found is None:
        return None
    # Only a pure chain of names counts; an index anywhere disqualifies it.
    probe = node
    while probe.kind in ("get_attr_expr_term", "expr_term"):
        probe = probe.children()[0]
    if probe.kind != "identifier":
        return None
    return found[0]


def render_template_text(text: str, src: Source, scope: Scope, at: Range) -> Any:
    """Evaluate template text held raw (HCL JSON strings, legacy-free templates).

    ``src`` maps offsets in ``text`` back to the file; a template that is a single
    interpolation yields its value unconverted, as in native syntax.
    """
    return _Evaluator(scope).render_text(text, src, at)
