"""The syntax layer: python-hcl2's Lark parse tree, wrapped with source positions.

kiln does not have a parser of its own for native HCL: python-hcl2's grammar produces
the tree, and this module adds what the evaluator needs on top of it:

- parse errors become diagnostics with file, line and column;
- ``${~`` / ``~}`` strip markers, which the grammar lacks on interpolations, are blanked
  (same length, so every position stays true) and read back from the original text;
- heredoc bodies and the strings of HCL's JSON syntax are template text the grammar
  keeps as one token; :func:`scan_template` splits them into literals, interpolations
  and directives, and each embedded expression is parsed by the same grammar.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from kiln.hcl.diagnostics import Diagnostic, DiagnosticError, Pos, Range, error

_STRIP_RE = re.compile(r"\$\{~|~\}")

# Lark terminal names, as a person would call them in an error message.
_TOKEN_WORDS = {
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "EQ": "'='",
    "COLON": "':'",
    "COMMA": "','",
    "DOT": "'.'",
    "DBLQUOTE": "a quoted string",
    "NAME": "a name",
    "NL_OR_COMMENT": "a newline",
    "INT_LITERAL": "a number",
    "FLOAT_LITERAL": "a number",
    "QMARK": "'?'",
    "INTERP_START": "'${'",
    "$END": "the end of the file",
}


@functools.cache
def _parser() -> Any:
    from hcl2.parser import parser

    return parser()


@dataclass(frozen=True)
class Source:
    """One source text: its file name and the original characters."""

    filename: str
    text: str
    # Offset mapping for text parsed out of a larger file (heredocs, JSON strings):
    # line/column of the snippet's first character in ``filename``, and how many
    # characters of the parsed text precede the snippet on its first line.
    line0: int = 1
    col0: int = 1
    prefix: int = 0

    def pos(self, line: int, column: int) -> Pos:
        if line == 1:
            return Pos(self.line0, self.col0 + column - 1 - self.prefix)
        return Pos(self.line0 + line - 1, column)


@dataclass(frozen=True)
class Node:
    """A parse-tree node (or token) together with the source it came from."""

    tree: Tree | Token
    src: Source

    @property
    def kind(self) -> str:
        if isinstance(self.tree, Token):
            return self.tree.type
        return str(self.tree.data)

    @property
    def range(self) -> Range:
        return node_range(self.tree, self.src)

    def text(self) -> str:
        """The node's original source text (strip markers included)."""
        start, end = span(self.tree)
        return self.src.text[start:end]

    def children(self) -> list[Node]:
        if isinstance(self.tree, Token):
            return []
        return [Node(c, self.src) for c in self.tree.children if not _is_layout(c)]


def _is_layout(child: Any) -> bool:
    return isinstance(child, Tree) and child.data == "new_line_or_comment"


def span(tree: Tree | Token) -> tuple[int, int]:
    """Start and end character offsets of a tree or token in the parsed text."""
    if isinstance(tree, Token):
        start = tree.start_pos or 0
        end = tree.end_pos if tree.end_pos is not None else start + len(tree)
        return start, end
    meta = tree.meta
    if getattr(meta, "empty", True):
        return 0, 0
    return meta.start_pos, meta.end_pos


def node_range(tree: Tree | Token, src: Source) -> Range:
    if isinstance(tree, Token):
        line, col = tree.line or 1, tree.column or 1
        end_line = tree.end_line or line
        end_col = tree.end_column or (col + len(tree))
    else:
        meta = tree.meta
        if getattr(meta, "empty", True):
            return Range(src.filename, src.pos(1, 1), src.pos(1, 1))
        line, col, end_line, end_col = meta.line, meta.column, meta.end_line, meta.end_column
    return Range(src.filename, src.pos(line, col), src.pos(end_line, end_col))


def blank_strip_markers(text: str) -> str:
    """Turn ``${~`` into ``${ `` and ``~}`` into `` }``: same length, parseable by the grammar."""
    return _STRIP_RE.sub(lambda m: "${ " if m.group(0) == "${~" else " }", text)


def parse_file(text: str, filename: str) -> Node:
    """Parse a native-syntax HCL file into its top-level ``body`` node.

    Raises DiagnosticError on a syntax error.
    """
    src = Source(filename, text)
    start = _parse(blank_strip_markers(text), src, cache=True)
    return Node(start.children[0], src)


def parse_expression(text: str, src: Source) -> Node:
    """Parse a standalone expression (a console line, a template's embedded expression)."""
    prefix = "__expr = "
    body = prefix + blank_strip_markers(text)
    inner = Source(src.filename, prefix + text, src.line0, src.col0, len(prefix))
    start = _parse(body, inner, cache=len(body) >= 256)
    body_node = start.children[0]
    attrs = [c for c in body_node.children if isinstance(c, Tree) and c.data == "attribute"]
    if len(attrs) != 1 or len(body_node.children) > 2 + len(attrs):
        raise DiagnosticError(
            [
                error(
                    "Extra characters after expression",
                    "An expression was successfully parsed, but extra characters were "
                    "found after it.",
                    Range(src.filename, src.pos(1, 1), src.pos(1, 1)),
                )
            ]
        )
    expr = [c for c in attrs[0].children if isinstance(c, Tree)][-1]
    return Node(expr, inner)


def _parse(text: str, src: Source, cache: bool) -> Tree:
    try:
        return _parse_cached(text) if cache else _parser().parse(text + "\n")
    except UnexpectedInput as exc:
        raise DiagnosticError([_syntax_diagnostic(exc, src)]) from None
    except RecursionError:
        raise DiagnosticError(
            [
                error(
                    "Expression too deeply nested",
                    "Split the expression into locals.",
                    Range(src.filename, src.pos(1, 1), src.pos(1, 1)),
                )
            ]
        ) from None


def _syntax_diagnostic(exc: UnexpectedInput, src: Source) -> Diagnostic:
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    if isinstance(line, int) and line < 1:
        line = 1
    if isinstance(column, int) and column < 1:
        column = 1
    detail = "Check the syntax near this point: a missing quote, bracket, brace or comma?"
    summary = "Invalid syntax"
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = sorted(
            {_TOKEN_WORDS.get(t, "") for t in exc.expected if t in _TOKEN_WORDS} - {""}
        )
        if tok.type == "$END":
            summary = "Unexpected end of file"
            detail = "The file ends in the middle of a block or an expression."
            line, column = _end_position(src)
        else:
            summary = f"Unexpected {_TOKEN_WORDS.get(tok.type, repr(str(tok)))}"
            if tok.type == "NL_OR_COMMENT":
                summary = "Unexpected newline"
        if expected and tok.type != "$END":
            detail = f"Expected {', '.join(expected[:6])} here. {detail}"
    elif isinstance(exc, UnexpectedCharacters):
        char = src.text.split("\n")[line - 1][column - 1 : column] if line else ""
        summary = f"Invalid character {char!r}" if char.strip() else "Invalid character"
        detail = "This character is not used within the HCL language here."
    elif isinstance(exc, UnexpectedEOF):
        summary = "Unexpected end of file"
        line, column = _end_position(src)
    pos = src.pos(line, column)
    return error(summary, detail, Range(src.filename, pos, Pos(pos.line, pos.column + 1)))


def _end_position(src: Source) -> tuple[int, int]:
    lines = src.text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kiln", "parse")


def _parse_cached(text: str) -> Tree:
    """Parse with python-hcl2's grammar, reusing the tree of an earlier identical text.

    Building the Lark parser costs about 0.1 s per process, more than parsing a template,
    so whole-file trees are kept (pickled) in the user's cache folder, keyed by the text
    and the versions of kiln and python-hcl2, the way Python keeps bytecode; every file,
    however small, since the parser is the cost. Short expressions are parsed directly.
    ``KILN_PARSE_CACHE=0`` turns the cache off.
    """
    if os.environ.get("KILN_PARSE_CACHE") == "0":
        return _parser().parse(text + "\n")
    key = hashlib.sha256(f"{_cache_salt()}\0{text}".encode()).hexdigest()
    path = os.path.join(_cache_dir(), key[:2], key + ".pickle")
    try:
        with open(path, "rb") as f:
            tree = pickle.load(f)
        if isinstance(tree, Tree):
            return tree
    except Exception:  # a missing, stale or damaged entry is only a cache miss
        pass
    tree = _parser().parse(text + "\n")
    _store(path, tree)
    return tree


def _store(path: str, tree: Tree) -> None:
    """Write a cache entry atomically; a read-only or full cache folder only costs speed."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(tree, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError, RecursionError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@functools.cache
def _cache_salt() -> str:
    """What a cached tree depends on: kiln's version, the grammar file and Lark's code.

    Found without importing python-hcl2 or Lark, which is the cost the cache avoids.
    """
    from importlib.util import find_spec

    from kiln import __version__

    parts = [__version__]
    for module, name in (("hcl2", "hcl2.lark"), ("lark", "lark.py")):
        spec = find_spec(module)
        origin = spec.origin if spec is not None and spec.origin else ""
        target = os.path.join(os.path.dirname(origin), name)
        try:
            stat = os.stat(target)
            parts.append(f"{target}:{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            parts.append(target)
    return "; ".join(parts)


# ---------------------------------------------------------------------------
# Templates held as raw text: heredoc bodies and HCL JSON strings
# ---------------------------------------------------------------------------


@dataclass
class TemplatePart:
    """A piece of template text.

    ``kind`` is ``literal`` (``text`` holds the characters), ``interp`` (``text`` is
    the expression's source) or a directive: ``if``, ``else``, ``endif``, ``for``
    (``text`` is ``NAME[, NAME] in EXPR``), ``endfor``. ``offset`` is where ``text``
    begins in the scanned string.
    """

    kind: str
    text: str
    offset: int
    strip_left: bool = False
    strip_right: bool = False
    children: list[TemplatePart] = field(default_factory=list)


def scan_template(text: str) -> list[TemplatePart]:
    """Split template text into literal, interpolation and directive parts.

    ``$${`` and ``%%{`` are escapes for literal ``${`` and ``%{``. An unterminated
    sequence raises ``ValueError`` with the offset where it began.
    """
    parts: list[TemplatePart] = []
    buf: list[str] = []
    buf_start = 0
    i = 0
    n = len(text)
    while i < n:
        two = text[i : i + 2]
        if text.startswith("$${", i) or text.startswith("%%{", i):
            if not buf:
                buf_start = i
            buf.append(text[i + 1 : i + 3])
            i += 3
            continue
        if two in ("${", "%{"):
            if buf:
                parts.append(TemplatePart("literal", "".join(buf), buf_start))
                buf = []
            end = _matching_brace(text, i + 2)
            if end < 0:
                raise ValueError(i)
            inner_start, inner_end = i + 2, end
            strip_left = text[inner_start : inner_start + 1] == "~"
            strip_right = end > inner_start and text[end - 1] == "~"
            if strip_left:
                inner_start += 1
            if strip_right and inner_end > inner_start:
                inner_end -= 1
            inner = text[inner_start:inner_end]
            if two == "${":
                parts.append(TemplatePart("interp", inner, inner_start, strip_left, strip_right))
            else:
                word = inner.strip().split(None, 1)
                kind = word[0] if word else ""
                rest = word[1] if len(word) > 1 else ""
                rest_offset = inner_start + (inner.find(rest) if rest else 0)
                parts.append(TemplatePart(kind, rest, rest_offset, strip_left, strip_right))
            i = end + 1
            continue
        if not buf:
            buf_start = i
        buf.append(text[i])
        i += 1
    if buf:
        parts.append(TemplatePart("literal", "".join(buf), buf_start))
    return parts


def _matching_brace(text: str, i: int) -> int:
    """The index of the ``}`` closing a sequence whose body starts at ``i``; -1 if none."""
    depth = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i = _skip_string(text, i + 1)
            if i < 0:
                return -1
            continue
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            if depth == 0:
                return i if ch == "}" else -1
            depth -= 1
        i += 1
    return -1


def _skip_string(text: str, i: int) -> int:
    """Skip a quoted string (which may hold templates) starting after its quote."""
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        if text.startswith("${", i) or text.startswith("%{", i):
            end = _matching_brace(text, i + 2)
            if end < 0:
                return -1
            i = end + 1
            continue
        i += 1
    return -1


def offset_to_pos(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset in ``text``."""
    line = text.count("\n", 0, offset) + 1
    last_nl = text.rfind("\n", 0, offset)
    return line, offset - last_nl
