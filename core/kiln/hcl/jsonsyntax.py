"""HCL's JSON syntax: ``*.pkr.json`` files, JSON var files, and the JSON reader behind them.

A small position-tracking JSON reader turns the text into :class:`JsonValue` nodes that
remember where each value, key and string character sits in the file. On top of it,
:class:`JsonBody` implements the :class:`~kiln.hcl.body.Body` protocol the way HCL's
JSON spec reads a body:

- whether a property is an attribute or a block comes from the :class:`Schema` given to
  :meth:`JsonBody.content`; a property named ``//`` is a comment;
- a block's labels are nested object levels (``{"source": {"null": {"a": {...}}}}``),
  and an array of objects anywhere along the way gives repeated blocks;
- :meth:`JsonBody.just_attributes` and :meth:`JsonBody.all_items` (no schema) read every
  property as an attribute, nested objects included.

:class:`JsonExpression` is an attribute's value. Strings are templates (``${...}`` and
``%{...}``, evaluated with :func:`~kiln.hcl.eval.render_template_text`), numbers, bools
and null are literals, arrays are lists and objects are objects (their keys are
templates too). Besides the Expression protocol it offers:

- ``elements()``: the items of an array as expressions (None for anything else);
- ``type_expression_node()``: for ``"type": "list(string)"`` in a variable block, the
  string parsed as a native expression node, ready for :func:`~kiln.hcl.eval.type_from_node`;
- ``static_traversal()``: a string such as ``"source.null.a"`` read as a traversal.

Legacy JSON templates reuse the reader and the body with another expression class
(see :mod:`kiln.hcl.legacy`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kiln.hcl.body import (
    Attribute,
    Block,
    Content,
    Expression,
    Reference,
    Schema,
    add_attribute,
    did_you_mean,
)
from kiln.hcl.diagnostics import Diagnostic, DiagnosticError, Pos, Range, error

if TYPE_CHECKING:
    from kiln.hcl.eval import Scope
    from kiln.hcl.syntax import Node, Source

COMMENT_KEY = "//"

# ---------------------------------------------------------------------------
# The JSON reader
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class JsonProperty:
    """One ``"name": value`` pair of an object, in file order."""

    name: str
    name_range: Range
    value: JsonValue
    name_raw: str = ""


@dataclass(eq=False)
class JsonValue:
    """A JSON value and where it is.

    ``kind`` is ``object``, ``array``, ``string``, ``number``, ``bool`` or ``null``.
    ``value`` holds the Python value of a scalar, the items of an array
    (``list[JsonValue]``) or the properties of an object (``list[JsonProperty]``).
    ``start``/``end`` are character offsets in the text; for strings, ``raw`` is what
    is written between the quotes, escapes included.
    """

    kind: str
    value: Any
    range: Range
    start: int
    end: int
    raw: str = ""

    @property
    def items(self) -> list[JsonValue]:
        return self.value if self.kind == "array" else []

    @property
    def props(self) -> list[JsonProperty]:
        return self.value if self.kind == "object" else []

    def get(self, name: str) -> JsonValue | None:
        """The value of the first property ``name`` of an object."""
        for prop in self.props:
            if prop.name == name:
                return prop.value
        return None

    def plain(self) -> Any:
        """The value as plain Python data (dicts, lists, scalars); last key wins."""
        if self.kind == "object":
            return {p.name: p.value.plain() for p in self.value}
        if self.kind == "array":
            return [v.plain() for v in self.value]
        return self.value


@dataclass
class JsonDocument:
    """A parsed JSON text: the root value and what is needed to map offsets to positions."""

    root: JsonValue
    text: str
    filename: str
    line_starts: list[int] = field(default_factory=list)


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_WS = " \t\n\r"
_DIGITS = "0123456789"


class _Reader:
    def __init__(self, text: str, filename: str):
        self.text = text
        self.filename = filename
        self.n = len(text)
        self.line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    # -- positions ----------------------------------------------------------

    def pos(self, offset: int) -> Pos:
        line = bisect.bisect_right(self.line_starts, offset)
        return Pos(line, offset - self.line_starts[line - 1] + 1)

    def range(self, start: int, end: int) -> Range:
        return Range(self.filename, self.pos(start), self.pos(max(end, start)))

    def fail(self, offset: int, summary: str, detail: str) -> DiagnosticError:
        offset = min(offset, self.n)
        return DiagnosticError(
            [error(summary, detail, Range(self.filename, self.pos(offset), self.pos(offset + 1)))]
        )

    # -- grammar ------------------------------------------------------------

    def skip_ws(self, i: int) -> int:
        while i < self.n and self.text[i] in _WS:
            i += 1
        return i

    def document(self) -> JsonValue:
        i = self.skip_ws(0)
        if i >= self.n:
            raise self.fail(
                i, "Empty JSON document", "A JSON document must hold a value, such as an object."
            )
        value, i = self.value(i)
        i = self.skip_ws(i)
        if i < self.n:
            raise self.fail(
                i,
                "Extraneous data after value",
                "The JSON value ends before this point; remove what follows it.",
            )
        return value

    def value(self, i: int) -> tuple[JsonValue, int]:
        ch = self.text[i] if i < self.n else ""
        if ch == "{":
            return self.object(i)
        if ch == "[":
            return self.array(i)
        if ch == '"':
            return self.string(i)
        if ch and ch in "-0123456789":
            return self.number(i)
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, i):
                end = i + len(word)
                kind = "null" if value is None else "bool"
                return JsonValue(kind, value, self.range(i, end), i, end), end
        if not ch:
            raise self.fail(
                i, "Unexpected end of file", "The file ends where a JSON value was expected."
            )
        word = self.text[i : i + 12].split(None, 1)[0] if self.text[i:].strip() else ch
        raise self.fail(
            i,
            "Invalid JSON value",
            f"Expected a JSON value (object, array, string, number, true, false or null), "
            f"found {word[:12]!r}.",
        )

    def object(self, start: int) -> tuple[JsonValue, int]:
        props: list[JsonProperty] = []
        i = self.skip_ws(start + 1)
        if i < self.n and self.text[i] == "}":
            return JsonValue("object", props, self.range(start, i + 1), start, i + 1), i + 1
        while True:
            if i >= self.n or self.text[i] != '"':
                if i < self.n and self.text[i] == "}" and props:
                    raise self.fail(
                        i, "Trailing comma in object", "JSON does not allow a comma before '}'."
                    )
                raise self.fail(
                    i,
                    "Invalid JSON object property name",
                    "A property name must be a quoted string.",
                )
            key, i = self.string(i)
            i = self.skip_ws(i)
            if i >= self.n or self.text[i] != ":":
                raise self.fail(
                    i,
                    "Missing property value colon",
                    'JSON uses a colon as its name/value delimiter, like "name": value.',
                )
            i = self.skip_ws(i + 1)
            value, i = self.value(i)
            props.append(JsonProperty(key.value, key.range, value, key.raw))
            i = self.skip_ws(i)
            if i < self.n and self.text[i] == ",":
                i = self.skip_ws(i + 1)
                continue
            if i < self.n and self.text[i] == "}":
                return JsonValue("object", props, self.range(start, i + 1), start, i + 1), i + 1
            raise self.fail(
                i,
                "Missing comma or closing brace",
                "Properties of a JSON object are separated by commas and the object ends with '}'.",
            )

    def array(self, start: int) -> tuple[JsonValue, int]:
        items: list[JsonValue] = []
        i = self.skip_ws(start + 1)
        if i < self.n and self.text[i] == "]":
            return JsonValue("array", items, self.range(start, i + 1), start, i + 1), i + 1
        while True:
            if i < self.n and self.text[i] == "]" and items:
                raise self.fail(
                    i, "Trailing comma in array", "JSON does not allow a comma before ']'."
                )
            value, i = self.value(i)
            items.append(value)
            i = self.skip_ws(i)
            if i < self.n and self.text[i] == ",":
                i = self.skip_ws(i + 1)
                continue
            if i < self.n and self.text[i] == "]":
                return JsonValue("array", items, self.range(start, i + 1), start, i + 1), i + 1
            raise self.fail(
                i,
                "Missing comma or closing bracket",
                "Items of a JSON array are separated by commas and the array ends with ']'.",
            )

    def string(self, start: int) -> tuple[JsonValue, int]:
        out: list[str] = []
        i = start + 1
        text = self.text
        while True:
            if i >= self.n:
                raise self.fail(start, "Unterminated string", "This string has no closing quote.")
            ch = text[i]
            if ch == '"':
                break
            if ch == "\\":
                nxt = text[i + 1] if i + 1 < self.n else ""
                if nxt in _ESCAPES and nxt:
                    out.append(_ESCAPES[nxt])
                    i += 2
                    continue
                if nxt == "u":
                    code, i = self._unicode_escape(i)
                    out.append(code)
                    continue
                raise self.fail(
                    i,
                    "Invalid escape sequence",
                    f"\\{nxt} is not a JSON escape; write \\\\ for a backslash.",
                )
            if ch < " ":
                raise self.fail(
                    i,
                    "Invalid character in string",
                    "Control characters such as a newline or a tab must be escaped in a "
                    "JSON string (\\n, \\t).",
                )
            out.append(ch)
            i += 1
        end = i + 1
        return (
            JsonValue(
                "string", "".join(out), self.range(start, end), start, end, text[start + 1 : i]
            ),
            end,
        )

    def _unicode_escape(self, i: int) -> tuple[str, int]:
        digits = self.text[i + 2 : i + 6]
        if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise self.fail(
                i, "Invalid escape sequence", "\\u must be followed by four hexadecimal digits."
            )
        code = int(digits, 16)
        i += 6
        if 0xD800 <= code < 0xDC00 and self.text.startswith("\\u", i):
            low_digits = self.text[i + 2 : i + 6]
            if len(low_digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in low_digits):
                low = int(low_digits, 16)
                if 0xDC00 <= low < 0xE000:
                    return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), i + 6
        if 0xD800 <= code < 0xE000:
            return "\ufffd", i
        return chr(code), i

    def number(self, start: int) -> tuple[JsonValue, int]:
        from kiln.hcl.values import normalize_number

        text = self.text
        i = start
        if text[i] == "-":
            i += 1
        if i < self.n and text[i] == "0":
            i += 1
        elif i < self.n and text[i] in _DIGITS:
            while i < self.n and text[i] in _DIGITS:
                i += 1
        else:
            raise self.fail(i, "Invalid number", "A digit is required here.")
        is_float = False
        if i < self.n and text[i] == ".":
            is_float = True
            i += 1
            if i >= self.n or text[i] not in _DIGITS:
                raise self.fail(i, "Invalid number", "A digit is required after '.'.")
            while i < self.n and text[i] in _DIGITS:
                i += 1
        if i < self.n and text[i] in "eE":
            is_float = True
            i += 1
            if i < self.n and text[i] in "+-":
                i += 1
            if i >= self.n or text[i] not in _DIGITS:
                raise self.fail(i, "Invalid number", "A digit is required in the exponent.")
            while i < self.n and text[i] in _DIGITS:
                i += 1
        literal = text[start:i]
        value: int | float = normalize_number(float(literal)) if is_float else int(literal)
        return JsonValue("number", value, self.range(start, i), start, i, literal), i


def parse_json(text: str, filename: str) -> JsonDocument:
    """Read a JSON text with positions; invalid JSON raises DiagnosticError (file:line:col)."""
    reader = _Reader(text, filename)
    try:
        root = reader.document()
    except RecursionError:
        raise reader.fail(0, "JSON nested too deeply", "Flatten the document.") from None
    return JsonDocument(root, text, filename, reader.line_starts)


def duplicate_keys(value: JsonValue) -> list[tuple[str, Range]]:
    """Every property name repeated within one object, anywhere in ``value``."""
    found: list[tuple[str, Range]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if node.kind == "object":
            seen: set[str] = set()
            for prop in node.props:
                if prop.name in seen:
                    found.append((prop.name, prop.name_range))
                seen.add(prop.name)
                stack.append(prop.value)
        elif node.kind == "array":
            stack.extend(node.items)
    found.sort(key=lambda item: (item[1].start.line, item[1].start.column))
    return found


# ---------------------------------------------------------------------------
# String positions
# ---------------------------------------------------------------------------


def raw_offset(raw: str, decoded_index: int) -> int:
    """Where the ``decoded_index``-th character of a JSON string is written in ``raw``."""
    i = 0
    seen = 0
    n = len(raw)
    while i < n and seen < decoded_index:
        if raw[i] == "\\" and i + 1 < n:
            if raw[i + 1] == "u":
                code = int(raw[i + 2 : i + 6], 16) if len(raw) >= i + 6 else 0
                i += 6
                if 0xD800 <= code < 0xDC00 and raw.startswith("\\u", i):
                    i += 6
            else:
                i += 2
        else:
            i += 1
        seen += 1
    return i


class StringPositions:
    """Maps positions in a JSON string's decoded text back to the file.

    Templates inside JSON strings are parsed from the decoded text, as if it started at
    the string's first character; escapes (``\\"``, ``\\n``) shift what follows. This
    turns a range computed that way into the true file range.
    """

    def __init__(self, node: JsonValue):
        self.node = node
        self.line0 = node.range.start.line
        self.col0 = node.range.start.column + 1
        self.text: str = node.value
        self.needed = "\\" in node.raw

    def source(self, filename: str) -> Source:
        from kiln.hcl.syntax import Source

        return Source(filename, self.text, self.line0, self.col0)

    def pos(self, decoded_index: int) -> Pos:
        return Pos(self.line0, self.col0 + raw_offset(self.node.raw, decoded_index))

    def remap(self, diag: Diagnostic) -> Diagnostic:
        """``diag`` pointing at the true file range."""
        if diag.subject is None:
            return diag
        subject = self.remap_range(diag.subject)
        return diag if subject is diag.subject else replace(diag, subject=subject)

    def remap_range(self, subject: Range) -> Range:
        if not self.needed or subject.filename != self.node.range.filename:
            return subject
        last_line = self.line0 + self.text.count("\n")
        if not (self.line0 <= subject.start.line <= last_line):
            return subject
        start = self._decoded(subject.start)
        end = self._decoded(subject.end) if subject.end.line <= last_line else start + 1
        return Range(subject.filename, self.pos(start), self.pos(max(end, start)))

    def _decoded(self, pos: Pos) -> int:
        if pos.line == self.line0:
            return max(pos.column - self.col0, 0)
        lines = self.text.split("\n")
        k = pos.line - self.line0
        return sum(len(line) + 1 for line in lines[:k]) + pos.column - 1


# ---------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------


def _has_template(text: str) -> bool:
    return "${" in text or "%{" in text


class JsonExpression:
    """A JSON value used as an expression, per HCL's JSON spec (strings are templates)."""

    def __init__(self, node: JsonValue, filename: str, text: str = ""):
        self.node = node
        self.filename = filename
        self._text = text

    @property
    def range(self) -> Range:
        return self.node.range

    def evaluate(self, scope: Scope) -> Any:
        return self._eval(self.node, scope)

    def _eval(self, node: JsonValue, scope: Scope) -> Any:
        if node.kind == "string":
            return self._string(node, scope)
        if node.kind == "array":
            return [self._eval(item, scope) for item in node.items]
        if node.kind == "object":
            from kiln.hcl.eval import fail
            from kiln.hcl.values import UNKNOWN

            out: dict[str, Any] = {}
            for prop in node.props:
                key = self._key(prop, scope)
                if key is UNKNOWN:
                    return UNKNOWN
                if not isinstance(key, str):
                    raise fail(
                        "Invalid object key",
                        "An object key must evaluate to a string.",
                        prop.name_range,
                    )
                out[key] = self._eval(prop.value, scope)
            return out
        return node.value

    def _key(self, prop: Any, scope: Scope) -> Any:
        """An object key: a template too, in HCL's JSON syntax."""
        key_node = JsonValue("string", prop.name, prop.name_range, 0, 0, prop.name_raw)
        return self._string(key_node, scope)

    def _string(self, node: JsonValue, scope: Scope) -> Any:
        from kiln.hcl.eval import EvalError, render_template_text

        text: str = node.value
        if not _has_template(text):
            return text
        mapper = StringPositions(node)
        try:
            return render_template_text(text, mapper.source(self.filename), scope, node.range)
        except EvalError as exc:
            raise EvalError(mapper.remap(exc.diagnostic)) from None

    def references(self) -> list[Reference]:
        out: list[Reference] = []
        stack = [self.node]
        while stack:
            node = stack.pop()
            if node.kind == "string":
                out.extend(self._string_references(node))
            elif node.kind == "array":
                stack.extend(reversed(node.items))
            elif node.kind == "object":
                stack.extend(reversed([p.value for p in node.props]))
        return out

    def _string_references(self, node: JsonValue) -> list[Reference]:
        from kiln.hcl.eval import NativeExpression
        from kiln.hcl.syntax import Source, offset_to_pos, parse_expression, scan_template

        text: str = node.value
        if not _has_template(text):
            return []
        try:
            parts = scan_template(text)
        except ValueError:
            return []
        mapper = StringPositions(node)
        src = mapper.source(self.filename)
        out: list[Reference] = []
        for part in parts:
            if part.kind in ("interp", "if"):
                expr_text, offset = part.text, part.offset
            elif part.kind == "for":
                head, sep, rest = part.text.partition(" in ")
                if not sep:
                    continue
                expr_text, offset = rest, part.offset + len(head) + len(sep)
            else:
                continue
            pos = src.pos(*offset_to_pos(text, offset))
            try:
                expr = parse_expression(
                    expr_text, Source(self.filename, expr_text, pos.line, pos.column)
                )
            except DiagnosticError:
                continue
            for ref in NativeExpression(expr).references():
                out.append(Reference(ref.names, mapper.remap_range(ref.range)))
        return out

    def source_text(self) -> str:
        if self._text:
            return self._text[self.node.start : self.node.end]
        if self.node.kind == "string":
            return f'"{self.node.raw}"'
        import json

        return json.dumps(self.node.plain())

    def static_traversal(self) -> tuple[str, ...] | None:
        """A string holding a plain traversal (``"source.null.a"``) gives its names."""
        if self.node.kind != "string" or _has_template(self.node.value):
            return None
        from kiln.hcl.eval import NativeExpression
        from kiln.hcl.syntax import parse_expression

        try:
            expr = parse_expression(
                self.node.value, StringPositions(self.node).source(self.filename)
            )
        except DiagnosticError:
            return None
        return NativeExpression(expr).static_traversal()

    def elements(self) -> list[Expression] | None:
        """The items of an array, each as an expression; None when this is no array."""
        if self.node.kind != "array":
            return None
        return [type(self)(item, self.filename, self._text) for item in self.node.items]

    def type_expression_node(self) -> Node:
        """The string of ``"type": "list(string)"`` parsed as a native type expression."""
        from kiln.hcl.eval import EvalError, fail
        from kiln.hcl.syntax import parse_expression

        if self.node.kind != "string":
            raise fail(
                "Invalid type specification",
                "In JSON, a type is written as a string holding a type expression, like "
                '"string" or "list(string)".',
                self.node.range,
            )
        mapper = StringPositions(self.node)
        try:
            return parse_expression(self.node.value, mapper.source(self.filename))
        except DiagnosticError as exc:
            raise EvalError(mapper.remap(exc.diagnostics[0])) from None


# ---------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------

ExpressionFactory = Callable[[JsonValue, str, str], Any]


class JsonBody:
    """A body in HCL's JSON syntax: one JSON object (or the merged objects of an array).

    ``expression`` builds the expression object for each attribute value; legacy JSON
    templates pass their own. ``comment_key`` names the property that is ignored as a
    comment (``//``); ``skip`` names properties left out entirely.
    """

    def __init__(
        self,
        props: list[JsonProperty],
        range_: Range,
        filename: str,
        *,
        text: str = "",
        expression: ExpressionFactory = JsonExpression,
        comment_key: str | None = COMMENT_KEY,
        skip: frozenset[str] = frozenset(),
    ):
        self.props = [p for p in props if p.name != comment_key and p.name not in skip]
        self.range = range_
        self.filename = filename
        self._text = text
        self._expression = expression
        self._comment_key = comment_key

    def _child(self, node: JsonValue) -> JsonBody:
        return type(self)(
            node.props,
            node.range,
            self.filename,
            text=self._text,
            expression=self._expression,
            comment_key=self._comment_key,
        )

    def _attribute(self, prop: JsonProperty) -> Attribute:
        expr = self._expression(prop.value, self.filename, self._text)
        whole = Range(self.filename, prop.name_range.start, prop.value.range.end)
        return Attribute(prop.name, expr, whole, prop.name_range)

    def content(self, schema: Schema) -> Content:
        out = Content()
        for prop in self.props:
            spec = schema.blocks.get(prop.name)
            if spec is not None:
                self._unpack_block(
                    prop.name, prop.name_range, prop.value, spec.labels, spec.label_names, out
                )
                continue
            if schema.open_attributes or prop.name in schema.attributes:
                add_attribute(out.attributes, self._attribute(prop), out.diagnostics)
                continue
            candidates = list(schema.attributes) + list(schema.blocks)
            out.diagnostics.append(
                error(
                    "Extraneous JSON object property",
                    f'No argument or block type is named "{prop.name}".'
                    + did_you_mean(prop.name, candidates),
                    prop.name_range,
                )
            )
        for name in schema.required:
            if name not in out.attributes:
                out.diagnostics.append(
                    error(
                        "Missing required argument",
                        f'The argument "{name}" is required, but no definition was found.',
                        self.range.first_char(),
                    )
                )
        return out

    def _unpack_block(
        self,
        type_name: str,
        type_range: Range,
        value: JsonValue,
        labels_left: int,
        label_names: tuple[str, ...],
        out: Content,
        labels: tuple[str, ...] = (),
        label_ranges: tuple[Range, ...] = (),
    ) -> None:
        if labels_left > 0:
            index = len(labels)
            label_name = label_names[index] if index < len(label_names) else "label"
            objects = _objects(value)
            if objects is None:
                out.diagnostics.append(
                    error(
                        "Incorrect JSON value type",
                        f"A JSON object is required here, whose keys are the {label_name} "
                        f'labels of "{type_name}" blocks.',
                        value.range,
                    )
                )
                return
            for prop in (p for obj in objects for p in obj.props):
                if prop.name == self._comment_key:
                    continue
                self._unpack_block(
                    type_name,
                    type_range,
                    prop.value,
                    labels_left - 1,
                    label_names,
                    out,
                    (*labels, prop.name),
                    (*label_ranges, prop.name_range),
                )
            return
        head = label_ranges[-1] if label_ranges else type_range
        bodies = _objects(value)
        if bodies is None:
            out.diagnostics.append(
                error(
                    "Incorrect JSON value type",
                    "Either a JSON object or a JSON array of objects is required, representing "
                    f'the contents of one or more "{type_name}" blocks.',
                    value.range,
                )
            )
            return
        for body in bodies:
            out.blocks.append(
                Block(type_name, list(labels), self._child(body), head, list(label_ranges))
            )

    def just_attributes(self) -> tuple[dict[str, Attribute], list[Diagnostic]]:
        attrs: dict[str, Attribute] = {}
        diags: list[Diagnostic] = []
        for prop in self.props:
            add_attribute(attrs, self._attribute(prop), diags)
        return attrs, diags

    #: whether ``all_items`` reads a ``dynamic`` property as dynamic blocks
    dynamic_blocks = True

    def all_items(self) -> tuple[dict[str, Attribute], list[Block]]:
        """Every property as an attribute, except ``"dynamic": {"NAME": {...}}``, which
        gives ``dynamic "NAME"`` blocks as in native syntax."""
        attrs: dict[str, Attribute] = {}
        blocks: list[Block] = []
        for prop in self.props:
            if prop.name == "dynamic" and self.dynamic_blocks and prop.value.kind == "object":
                content = Content()
                self._unpack_block("dynamic", prop.name_range, prop.value, 1, ("type",), content)
                if not content.diagnostics:
                    blocks.extend(content.blocks)
                    continue
            attrs.setdefault(prop.name, self._attribute(prop))
        return attrs, blocks


def parse_json_body(text: str, filename: str) -> JsonBody:
    """Parse a ``*.pkr.json`` (or JSON var file) into a body; raise DiagnosticError if invalid.

    The root is an object, or an array of objects whose properties are merged.
    """
    root = parse_json(text, filename).root
    objects = _objects(root)
    if objects is None:
        raise DiagnosticError(
            [
                error(
                    "Invalid JSON configuration",
                    "The root value of a JSON configuration file must be an object (or an "
                    "array of objects).",
                    root.range,
                )
            ]
        )
    props = [p for obj in objects for p in obj.props]
    return JsonBody(props, root.range, filename, text=text)


def _objects(value: JsonValue) -> list[JsonValue] | None:
    """An object, or an array of objects, as its list of objects; None for anything else.

    HCL's JSON syntax accepts either wherever it expects a body or a level of labels.
    """
    if value.kind == "object":
        return [value]
    if value.kind == "array" and all(v.kind == "object" for v in value.items):
        return value.items
    return None


def parse_json_vars(text: str, filename: str) -> dict[str, tuple[Any, Range]]:
    """Read a JSON variable file: each property's value (templates evaluated without
    variables) and the range of that value. Invalid input raises DiagnosticError."""
    from kiln.hcl.eval import EvalError, Scope

    body = parse_json_body(text, filename)
    attrs, diags = body.just_attributes()
    out: dict[str, tuple[Any, Range]] = {}
    for name, attr in attrs.items():
        try:
            out[name] = (attr.expr.evaluate(Scope()), attr.expr.range)
        except EvalError as exc:
            diags.append(exc.diagnostic)
    if diags:
        raise DiagnosticError(diags)
    return out
