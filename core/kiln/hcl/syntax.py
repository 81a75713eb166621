"""The syntax layer: python-hcl2's grammar, its parse tree held in kiln's own types.

kiln does not have a parser of its own for native HCL: python-hcl2's Lark grammar
produces the tree, which is converted once into this module's small :class:`Tree` and
:class:`Token`, their positions plain tuples (:data:`Meta`): what kiln reads of Lark's
rule names, children, token types and source positions. Only those are cached and read
back, so a template whose parse is cached never imports Lark (nor ``regex``, which Lark
imports). On top of the tree this module adds what the evaluator needs:

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
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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


# ---------------------------------------------------------------------------
# The parse tree: kiln's copy of what it reads of Lark's Tree and Token
# ---------------------------------------------------------------------------
# Plain classes with __slots__ (not dataclasses, which cost time to create at import),
# pickled as constructor calls: a cached tree loads in a fraction of a millisecond.


#: Where a tree or token lies in the parsed text, as Lark's parser recorded it: the
#: 1-based line and column of its first character, the line and column just past its
#: last one, and the character offsets of its start and end (read them through
#: :func:`span` and :func:`node_range`). A plain tuple, which pickles as one.
Meta = tuple[int, int, int, int, int, int]


class Token(str):
    """A terminal: its text, its grammar ``type`` (``NAME``, ``EQ``...) and ``meta``."""

    __slots__ = ("meta", "type")
    type: str
    meta: Meta

    def __new__(cls, type_: str, value: str, meta: Meta) -> Token:
        self = str.__new__(cls, value)
        self.type = type_
        self.meta = meta
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Token, (self.type, str(self), self.meta))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Token) and self.type != other.type:
            return False
        return str.__eq__(self, other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {str(self)!r})"


class Tree:
    """A rule's node: its name (``data``), ``children`` and ``meta`` (None when the
    rule matched no characters)."""

    __slots__ = ("children", "data", "meta")

    def __init__(self, data: str, children: list[Tree | Token], meta: Meta | None) -> None:
        self.data = data
        self.children = children
        self.meta = meta

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tree, (self.data, self.children, self.meta))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Tree) and self.data == other.data and self.children == other.children
        )

    def __hash__(self) -> int:
        return hash((self.data, tuple(self.children)))

    def __repr__(self) -> str:
        return f"Tree({self.data!r}, {self.children!r})"

    def tokens(self) -> Iterator[Token]:
        """Every token under this node, in source order."""
        for child in self.children:
            if isinstance(child, Tree):
                yield from child.tokens()
            else:
                yield child

    def find_data(self, data: str) -> Iterator[Tree]:
        """The subtrees (this one included) named ``data``, in the order of Lark's
        ``Tree.find_data``: a subtree's children before the subtree itself."""
        queue = [self]
        for tree in queue:
            queue += [c for c in reversed(tree.children) if isinstance(c, Tree)]
        return (t for t in reversed(queue) if t.data == data)


def _convert(root: Any) -> Tree:
    """kiln's tree for python-hcl2's Lark tree ``root`` (without recursion: expressions
    may nest deeper than Python's stack)."""
    from lark import Token as LarkToken

    intern = sys.intern

    def token(tok: Any) -> Token:
        line, column = tok.line or 1, tok.column or 1
        start = tok.start_pos or 0
        meta = (
            line,
            column,
            tok.end_line or line,
            tok.end_column or (column + len(tok)),
            start,
            tok.end_pos if tok.end_pos is not None else start + len(tok),
        )
        return Token(intern(tok.type), str(tok), meta)

    def tree(node: Any) -> Tree:
        m = node.meta
        meta = (
            None
            if m.empty
            else (m.line, m.column, m.end_line, m.end_column, m.start_pos, m.end_pos)
        )
        return Tree(intern(str(node.data)), [], meta)

    out = tree(root)
    todo = [(root, out)]
    while todo:
        node, copy = todo.pop()
        children = copy.children
        for child in node.children:
            if isinstance(child, LarkToken):
                children.append(token(child))
            else:
                sub = tree(child)
                children.append(sub)
                todo.append((child, sub))
    return out


def parse_tree(text: str) -> Tree:
    """Parse ``text`` with python-hcl2's grammar (no cache) into kiln's tree.

    Lark's exceptions (``lark.exceptions.UnexpectedInput``) are left to the caller.
    """
    return _convert(_parser().parse(text + "\n"))


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
        return self.tree.data

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
    meta = tree.meta
    if meta is None:
        return 0, 0
    return meta[4], meta[5]


def node_range(tree: Tree | Token, src: Source) -> Range:
    meta = tree.meta
    if meta is None:
        return Range(src.filename, src.pos(1, 1), src.pos(1, 1))
    line, col, end_line, end_col = meta[:4]
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
    assert isinstance(body_node, Tree)  # the grammar's start rule holds one body
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
        return _parse_cached(text) if cache else parse_tree(text)
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
    except Exception as exc:
        # A syntax error comes from a parser that was built, so Lark is imported already.
        from lark.exceptions import UnexpectedInput

        if not isinstance(exc, UnexpectedInput):
            raise
        raise DiagnosticError([_syntax_diagnostic(exc, src)]) from None


def _syntax_diagnostic(exc: Any, src: Source) -> Diagnostic:
    """The diagnostic for Lark's ``UnexpectedInput`` ``exc``."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

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
    """The parse trees' folder in kiln's cache (``$KILN_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/kiln``), with kiln's other derived data."""
    from kiln.install.settings import cache_dir

    return os.path.join(cache_dir(), "parse")


def _parse_cached(text: str) -> Tree:
    """Parse with python-hcl2's grammar, reusing the tree of an earlier identical text.

    Building the Lark parser costs about 0.1 s per process, more than parsing a template,
    and importing Lark alone about 15 ms, so whole-file trees are kept in the user's
    cache folder as pickles of kiln's own :class:`Tree`/:class:`Token` (never Lark's
    objects, whose unpickling imports Lark), keyed by the text, the tree format and the
    versions of kiln, python-hcl2 and Lark, the way Python keeps bytecode; every file,
    however small, since the parser is the cost. Short expressions are parsed directly.
    ``KILN_PARSE_CACHE=0`` turns the cache off.
    """
    if os.environ.get("KILN_PARSE_CACHE") == "0":
        return parse_tree(text)
    key = hashlib.sha256(f"{_cache_salt()}\0{text}".encode()).hexdigest()
    path = os.path.join(_cache_dir(), key[:2], key + ".pickle")
    try:
        with open(path, "rb") as f:
            tree = pickle.load(f)
        if isinstance(tree, Tree):
            return tree
    except Exception:  # a missing, stale or damaged entry is only a cache miss
        pass
    tree = parse_tree(text)
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


# What a cache entry holds; a new value makes every older entry a miss (entries of
# format 1, Lark's own trees, are never opened, so that reading them cannot import Lark;
# format 2 held positions in a tuple subclass).
_TREE_FORMAT = "kiln-tree-3"


@functools.cache
def _cache_salt() -> str:
    """What a cached tree depends on: the tree format (:data:`_TREE_FORMAT`), kiln's
    version, the grammar file and Lark's code.

    Found without importing python-hcl2 or Lark, which is the cost the cache avoids.
    """
    from importlib.util import find_spec

    from kiln import __version__

    parts = [_TREE_FORMAT, __version__]
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
