"""Canonical layout for native HCL files, byte for byte what ``packer fmt`` (1.6.6) prints.

Packer formats with Go's ``hclwrite.Format``, which never parses: it lexes the file,
then rewrites only the spaces *between* tokens. This module does the same:

1. :func:`_scan` turns the text into HCL's own token stream (the types and boundaries
   of Go's ``hclsyntax`` scanner). A small scanner is needed because python-hcl2's Lark
   tokens do not match HCL's: its strings and heredocs are single tokens, while
   hclwrite reformats the tokens *inside* ``${ }`` and ``%{ }`` sequences; its comments
   are merged with newlines; and ``-1`` is one token for it but two for HCL. The
   scanner builds no tree: the grammar is checked by python-hcl2 (:func:`_check_syntax`,
   with the few HCL rules that grammar lets through), because Packer refuses to format
   a file that does not parse.
2. The tokens are cut into lines, and each line into up to three cells: the *lead*,
   the *assign* cell (from ``=`` on, when the line holds a whole attribute) and a
   trailing line comment.
3. Indentation comes from the net count of brackets opened on each line, spacing from
   rules on each pair of neighbouring tokens, and the ``=`` signs and trailing comments
   of consecutive lines are aligned in columns.

The literal text of strings and heredocs is kept as it is (the expressions in their
``${ }`` are formatted like any other); newlines are never added or removed; spaces
at the very end of a file without a final newline are kept, as Packer keeps them.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from kiln.hcl.diagnostics import DiagnosticError, Pos, Range, error
from kiln.hcl.syntax import Token as SyntaxToken
from kiln.hcl.syntax import Tree, offset_to_pos, span
from kiln.hcl.values import graphemes

# Token kinds, named after hclsyntax's TokenType constants.
NEWLINE = "Newline"
COMMENT = "Comment"
IDENT = "Ident"
NUMBER = "NumberLit"
OQUOTE = "OQuote"
CQUOTE = "CQuote"
QUOTED_LIT = "QuotedLit"
OHEREDOC = "OHeredoc"
CHEREDOC = "CHeredoc"
STRING_LIT = "StringLit"
INTERP = "TemplateInterp"
CONTROL = "TemplateControl"
SEQ_END = "TemplateSeqEnd"
OBRACE = "OBrace"
CBRACE = "CBrace"
OBRACK = "OBrack"
CBRACK = "CBrack"
OPAREN = "OParen"
CPAREN = "CParen"
DOT = "Dot"
COMMA = "Comma"
ELLIPSIS = "Ellipsis"
EQUAL = "Equal"
COLON = "Colon"
DOUBLE_COLON = "DoubleColon"
QUESTION = "Question"
MINUS = "Minus"
PLUS = "Plus"
STAR = "Star"
SLASH = "Slash"
PERCENT = "Percent"
EQUAL_OP = "EqualOp"
NOT_EQUAL = "NotEqual"
LESS = "LessThan"
LESS_EQ = "LessThanEq"
GREATER = "GreaterThan"
GREATER_EQ = "GreaterThanEq"
AND = "And"
OR = "Or"
BANG = "Bang"
FAT_ARROW = "FatArrow"
OTHER = "Other"  # tokens the scanner knows but the grammar never accepts (~ ^ & | ; ...)
EOF = "EOF"
NIL = "Nil"

_SINGLE = {
    "[": OBRACK,
    "]": CBRACK,
    "(": OPAREN,
    ")": CPAREN,
    ".": DOT,
    ",": COMMA,
    "*": STAR,
    "/": SLASH,
    "%": PERCENT,
    "+": PLUS,
    "-": MINUS,
    "=": EQUAL,
    "<": LESS,
    ">": GREATER,
    "!": BANG,
    "?": QUESTION,
    ":": COLON,
    "&": OTHER,
    "|": OTHER,
    "~": OTHER,
    "^": OTHER,
    ";": OTHER,
    "`": OTHER,
    "'": OTHER,
}
_MULTI = (
    ("...", ELLIPSIS),
    ("==", EQUAL_OP),
    ("!=", NOT_EQUAL),
    (">=", GREATER_EQ),
    ("<=", LESS_EQ),
    ("&&", AND),
    ("||", OR),
    ("::", DOUBLE_COLON),
    ("=>", FAT_ARROW),
)
# hclsyntax's NumberLit: a digit, then digits, dots and exponents, never ending in a dot.
_NUMBER_RE = re.compile(r"[0-9](?:(?:[0-9.]|[eE][+-]?[0-9])*(?:[0-9]|[eE][+-]?[0-9]))?")
_HEREDOC_RE = re.compile(r"<<-?([^\W\d][\w-]*)\r?\n")
_OPENERS = frozenset({OBRACE, OBRACK, OPAREN, INTERP, CONTROL})
_CLOSERS = frozenset({CBRACE, CBRACK, CPAREN, SEQ_END})
_NEGATION_BEFORE = frozenset(
    {
        NIL,
        OPAREN,
        OBRACE,
        OBRACK,
        EQUAL,
        COLON,
        COMMA,
        QUESTION,
        PLUS,
        STAR,
        SLASH,
        PERCENT,
        MINUS,
        EQUAL_OP,
        NOT_EQUAL,
        GREATER,
        GREATER_EQ,
        LESS,
        LESS_EQ,
        AND,
        OR,
        BANG,
    }
)
_TEMPLATE_TEXT_SUBJECT = frozenset({QUOTED_LIT, STRING_LIT, OQUOTE, OHEREDOC})
_TEMPLATE_TEXT_AFTER = frozenset({QUOTED_LIT, STRING_LIT, CQUOTE, CHEREDOC})


class Token:
    """One lexical token and the number of spaces written before it."""

    __slots__ = ("kind", "spaces", "start", "text")

    def __init__(self, kind: str, text: str, start: int, spaces: int = 0) -> None:
        self.kind = kind
        self.text = text
        self.start = start
        self.spaces = spaces

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r}, spaces={self.spaces})"


_NIL = Token(NIL, "", -1)


def format_source(text: str, filename: str) -> str:
    """Return ``text`` (a whole native-syntax HCL file) in canonical layout.

    Raises DiagnosticError, pointing at file, line and column, when the text is not
    valid HCL: like Packer, kiln does not format what it cannot parse.
    """
    bom = text.startswith("\ufeff")
    body = text[1:] if bom else text
    tokens = _scan(body, filename)
    _check_syntax(body, tokens, filename)
    if bom:
        # Go's scanner skips a byte order mark but counts its three bytes as spaces
        # before the first token; only an otherwise blank file ever shows them.
        tokens[0].spaces += 3
    _format(tokens)
    return "".join(" " * t.spaces + t.text for t in tokens)


# --- scanning -------------------------------------------------------------------------


class _Mode:
    """One entry of the scanner's mode stack: a quoted string or a heredoc body."""

    __slots__ = ("at_line_start", "marker", "start")

    def __init__(self, start: int, marker: str | None = None) -> None:
        self.start = start
        self.marker = marker  # None for a quoted string
        self.at_line_start = True


def _scan(src: str, filename: str) -> list[Token]:
    """Split ``src`` into hclsyntax tokens; spaces before each come from the gaps."""
    tokens: list[Token] = []
    # Innermost last: a _Mode while in template text, the brace depth at which a '}'
    # closes the sequence while in a ${ } or %{ } sequence; empty at the top level.
    stack: list[_Mode | int] = []
    braces = 0
    n = len(src)
    i = 0

    def emit(kind: str, end: int) -> None:
        tokens.append(Token(kind, src[i:end], i))

    def fail(summary: str, detail: str, at: int, end: int | None = None) -> DiagnosticError:
        return DiagnosticError([error(summary, detail, _range(src, filename, at, end))])

    while i < n:
        mode = stack[-1] if stack else None
        if isinstance(mode, _Mode):
            # Inside template text: a quoted string or a heredoc body.
            if src.startswith(("${", "%{"), i):
                end = i + 3 if src.startswith("~", i + 2) else i + 2
                emit(INTERP if src[i] == "$" else CONTROL, end)
                braces += 1
                stack.append(braces)
                mode.at_line_start = False
                i = end
                continue
            if mode.marker is None:
                if src[i] == '"':
                    emit(CQUOTE, i + 1)
                    stack.pop()
                    i += 1
                    continue
                if src[i] in "\r\n":
                    raise fail(
                        "Invalid multi-line string",
                        "Quoted strings may not be split over multiple lines. To produce a "
                        'multi-line string, either use the "\\n" escape to represent a newline '
                        'character or use the "heredoc" multi-line template syntax.',
                        i,
                    )
                end = _template_literal_end(src, i, quoted=True)
                emit(QUOTED_LIT, end)
                i = end
                continue
            # Heredoc body: the closing marker is a whole line of its own.
            if mode.at_line_start:
                eol = src.find("\n", i)
                line_end = n if eol < 0 else eol
                if eol >= 0 and src[i:line_end].strip() == mode.marker:
                    cr = 1 if line_end > i and src[line_end - 1] == "\r" else 0
                    emit(CHEREDOC, line_end - cr)
                    i = line_end - cr
                    emit(NEWLINE, eol + 1)
                    i = eol + 1
                    stack.pop()
                    continue
            end = _template_literal_end(src, i, quoted=False)
            if end < n and src[end] == "\n":
                end += 1
                mode.at_line_start = True
            elif end == i:
                # A lone '\r' not followed by '\n' is not valid in template text.
                raise fail("Invalid character", "This character is not used within HCL.", i)
            else:
                mode.at_line_start = False
            emit(STRING_LIT, end)
            i = end
            continue

        c = src[i]
        if c == " " or c == "\t":
            i += 1
            continue
        if c == "\n":
            emit(NEWLINE, i + 1)
            i += 1
            continue
        if c == "\r" and src.startswith("\n", i + 1):
            emit(NEWLINE, i + 2)
            i += 2
            continue
        if c == "#" or src.startswith("//", i):
            eol = src.find("\n", i)
            end = n if eol < 0 else eol + 1
            emit(COMMENT, end)
            i = end
            continue
        if src.startswith("/*", i):
            close = src.find("*/", i + 2)
            if close < 0:
                raise fail(
                    "Unterminated comment",
                    "This comment has no closing */ marker before the end of the file.",
                    i,
                    i + 2,
                )
            emit(COMMENT, close + 2)
            i = close + 2
            continue
        if c.isdigit() and c.isascii():
            m = _NUMBER_RE.match(src, i)
            assert m is not None
            emit(NUMBER, m.end())
            i = m.end()
            continue
        if c == "_" or c.isidentifier():
            end = i + 1
            while end < n and (src[end] == "-" or ("a" + src[end]).isidentifier()):
                end += 1
            emit(IDENT, end)
            i = end
            continue
        if c == '"':
            emit(OQUOTE, i + 1)
            stack.append(_Mode(i))
            i += 1
            continue
        if c == "<":
            m = _HEREDOC_RE.match(src, i)
            if m is not None:
                emit(OHEREDOC, m.end())
                stack.append(_Mode(i, m.group(1)))
                i = m.end()
                continue
        if c == "{":
            emit(OBRACE, i + 1)
            braces += 1
            i += 1
            continue
        if c == "}" or src.startswith("~}", i):
            end = i + 1 if c == "}" else i + 2
            if stack and stack[-1] == braces:
                emit(SEQ_END, end)
                stack.pop()
            else:
                # A stray '~}' is still a sequence end for HCL; the parser rejects it.
                emit(CBRACE if c == "}" else SEQ_END, end)
            braces -= 1
            i = end
            continue
        for op, kind in _MULTI:
            if src.startswith(op, i):
                emit(kind, i + len(op))
                i += len(op)
                break
        else:
            kind = _SINGLE.get(c, "")
            if not kind:
                raise fail(
                    "Invalid character",
                    f"The character {c!r} is not used within HCL.",
                    i,
                )
            emit(kind, i + 1)
            i += 1

    for mode in reversed(stack):
        if not isinstance(mode, _Mode):
            continue
        if mode.marker is None:
            raise fail(
                "Unterminated template string",
                "No closing quote was found for the string that starts here.",
                mode.start,
                mode.start + 1,
            )
        raise fail(
            "Unterminated heredoc",
            f"No closing {mode.marker} marker was found for the heredoc that starts here.",
            mode.start,
        )
    tokens.append(Token(EOF, "", n))
    _set_gaps(tokens)
    return tokens


def _template_literal_end(src: str, i: int, *, quoted: bool) -> int:
    """End of the literal text starting at ``i`` (before ``${``, ``%{``, a newline or quote).

    ``$${`` and ``%%{`` are escapes: literal text. In a quoted string a backslash
    escapes the next character; a heredoc has no backslash escapes.
    """
    n = len(src)
    j = i
    while j < n:
        c = src[j]
        if c == "\r" and not quoted and src.startswith("\n", j + 1):
            j += 1  # a heredoc line may end in CRLF; the '\r' stays in its text
            continue
        if c in "\r\n":
            return j
        if quoted and c == '"':
            return j
        if c in "$%":
            if src.startswith("{", j + 1):
                return j
            if src.startswith(c + "{", j + 1):
                j += 3
                continue
        elif quoted and c == "\\" and j + 1 < n and src[j + 1] not in "\r\n":
            j += 2
            continue
        j += 1
    return j


def _set_gaps(tokens: list[Token]) -> None:
    """Spaces before each token: its distance from the end of the previous one."""
    last = 0
    for tok in tokens:
        tok.spaces = tok.start - last
        last = tok.start + len(tok.text)


def _range(src: str, filename: str, start: int, end: int | None = None) -> Range:
    end = start + 1 if end is None else end
    return Range(filename, _pos(src, start), _pos(src, end))


def _pos(src: str, offset: int) -> Pos:
    return Pos(*offset_to_pos(src, min(offset, len(src))))


# --- syntax check ---------------------------------------------------------------------

_NESTING_OPEN = frozenset({OPAREN, OBRACK, OBRACE, INTERP, CONTROL, OQUOTE, OHEREDOC})
_NESTING_CLOSE = frozenset({CPAREN, CBRACK, CBRACE, SEQ_END, CQUOTE, CHEREDOC})
_EXPRESSION_ENDS = frozenset({IDENT, NUMBER, CQUOTE, CHEREDOC, CPAREN, CBRACK, CBRACE})


def _check_syntax(src: str, tokens: list[Token], filename: str) -> None:
    """Raise DiagnosticError if ``src`` is not valid HCL.

    python-hcl2's grammar checks the expressions, on :func:`_grammar_view` of the
    text. The grammar is wider than HCL's about where newlines must be and about a
    few other forms; :func:`_check_templates`, :func:`_check_layout` and
    :func:`_check_traversals` add what it lets through.
    """
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    from kiln.hcl.syntax import parse_tree

    colons = next((t for t in tokens if t.kind == DOUBLE_COLON), None)
    if colons is not None:
        raise _syntax_error(
            src,
            filename,
            colons.start,
            "Invalid syntax",
            "Unexpected '::' here: HCL as Packer 1.6.6 reads it has no namespaced function names.",
        )
    _check_templates(tokens, src, filename)
    chars = _grammar_view(src, tokens)
    try:
        tree = parse_tree("".join(chars))
    except UnexpectedInput as exc:
        if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
            offset = exc.token.start_pos or 0
        elif isinstance(exc, UnexpectedCharacters):
            offset = exc.pos_in_stream
        else:
            offset = len(src)
        offset = min(offset, len(src))
        if offset >= len(src.rstrip()):
            opener = _unclosed_bracket(tokens)
            if opener is not None:
                closer = {OBRACE: "}", OBRACK: "]", OPAREN: ")"}.get(opener.kind, "}")
                raise _syntax_error(
                    src,
                    filename,
                    opener.start,
                    "Unclosed bracket",
                    f"This {opener.text.strip()!r} has no matching {closer!r} before the end "
                    "of the file.",
                ) from None
        raise _syntax_error(
            src,
            filename,
            offset,
            "Invalid syntax",
            f"Unexpected {_describe(tokens, offset)} here: check for a missing or extra "
            "quote, bracket, brace, comma or newline near this point.",
        ) from None
    except RecursionError:
        raise _syntax_error(
            src,
            filename,
            0,
            "Expression too deeply nested",
            "Split the expression into smaller parts, for example with locals.",
        ) from None
    _check_layout(tree, tokens, src, filename)
    _check_traversals(tokens, src, filename)


def _ends_expression(tok: Token, before: Token) -> bool:
    """Whether ``tok`` (after ``before``) can end an operand: is a ``-`` after it binary?"""
    if tok.kind == IDENT:
        return tok.text not in ("in", "if", "for")
    if tok.kind == STAR:
        return before.kind == DOT  # the splat ".*", not a multiplication
    return tok.kind in _EXPRESSION_ENDS


def _grammar_view(src: str, tokens: list[Token]) -> list[str]:
    """``src`` rewritten where python-hcl2's grammar is narrower than HCL's.

    Every rewrite keeps the length and the newlines, so offsets and lines in the
    grammar's errors stay true: ``/* */`` comments inside expressions become spaces;
    ``~`` strip markers on interpolations go; of two unary operators in a row (``!-x``)
    the first goes; a binary minus glued to a number (``x -1``, which the grammar reads
    as a negative literal) becomes ``+``; and a heredoc becomes a quoted string of the
    same shape, so that the expressions inside it are checked too.
    """
    chars = list(src)
    # Innermost last: "q" quoted string, "h" heredoc, "s" a ${ } or %{ } sequence,
    # "b" a bracket (where the grammar knows itself which newlines are allowed).
    context: list[str] = []
    prev = prev2 = _NIL
    for k, tok in enumerate(tokens):
        at, blank = tok.start, 0
        kind = tok.kind
        inside = context[-1] if context else ""
        if kind in (OQUOTE, OHEREDOC, INTERP, CONTROL, OBRACE, OBRACK, OPAREN):
            context.append({OQUOTE: "q", OHEREDOC: "h", INTERP: "s", CONTROL: "s"}.get(kind, "b"))
        elif kind in (CQUOTE, CHEREDOC, SEQ_END, CBRACE, CBRACK, CPAREN) and context:
            context.pop()

        if kind == COMMENT and not _ends_line(tok):
            blank = len(tok.text)
        elif inside == "s" and (kind == NEWLINE or _ends_line(tok)):
            blank = len(tok.text)  # HCL ignores newlines inside a template sequence
        elif kind in (INTERP, CONTROL) and tok.text.endswith("~"):
            at, blank = tok.start + 2, 1
        elif kind == SEQ_END and tok.text.startswith("~"):
            blank = 1
        elif kind in (BANG, MINUS) and tokens[k + 1].kind in (BANG, MINUS):
            if kind == BANG or not _ends_expression(prev, prev2):
                blank = 1
        elif kind == MINUS and _ends_expression(prev, prev2) and tokens[k + 1].kind == NUMBER:
            chars[at] = "+"
        elif kind == OHEREDOC:
            chars[at] = '"'
            at, blank = at + 1, len(tok.text.rstrip("\r\n")) - 1
        elif kind == CHEREDOC:
            blank = len(tok.text) - 1
            chars[at + blank] = '"'
        elif kind == QUOTED_LIT:
            # Literal text, escapes already checked: nothing in it for the grammar to
            # misread (it takes "$${" up to the next "}" as one escape, HCL does not).
            chars[at : at + len(tok.text)] = "a" * len(tok.text)
        elif kind == STRING_LIT and inside == "h":
            for j in range(at, at + len(tok.text)):
                if chars[j] not in "\r\n":
                    chars[j] = " "
        if blank:
            chars[at : at + blank] = " " * blank
        if not (kind == COMMENT and not _ends_line(tok)):
            prev2, prev = prev, tok
    return chars


_ESCAPE_RE = re.compile(r'\\(?:[nrt"\\]|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})')


def _check_escapes(tok: Token, src: str, filename: str) -> None:
    """A backslash in a quoted string starts one of HCL's escapes, or is an error."""
    j = tok.text.find("\\")
    while j >= 0:
        m = _ESCAPE_RE.match(tok.text, j)
        code = int(m.group()[2:], 16) if m and m.group()[1] in "uU" else 0
        if m is None or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise _syntax_error(
                src,
                filename,
                tok.start + j,
                "Invalid escape sequence",
                r"The only escapes in a quoted string are \n, \r, \t, \", \\, \uNNNN and "
                r"\UNNNNNNNN. To write a backslash, use \\.",
            )
        j = tok.text.find("\\", m.end())


def _check_templates(tokens: list[Token], src: str, filename: str) -> None:
    """Template directives must be known keywords, and balanced within each template."""
    frames: list[list[tuple[str, Token]]] = []  # per open template: open if/for/else
    for k, tok in enumerate(tokens):
        if tok.kind == QUOTED_LIT:
            _check_escapes(tok, src, filename)
        elif tok.kind in (OQUOTE, OHEREDOC):
            frames.append([])
        elif tok.kind in (CQUOTE, CHEREDOC) and frames:
            open_ = frames.pop()
            if open_:
                word, at = open_[-1]
                raise _syntax_error(
                    src,
                    filename,
                    at.start,
                    "Unexpected end of template",
                    f"The {word} directive that starts here is never closed with "
                    f"%{{ end{'if' if word == 'else' else word} }}.",
                )
        elif tok.kind == CONTROL and frames:
            j = k + 1
            while tokens[j].kind in (NEWLINE, COMMENT):
                j += 1  # HCL skips newlines and comments inside a directive
            word = tokens[j].text if tokens[j].kind == IDENT else ""
            stack = frames[-1]
            top = stack[-1][0] if stack else ""
            if word in ("if", "for"):
                stack.append((word, tok))
                continue
            if word not in ("else", "endif", "endfor"):
                raise _syntax_error(
                    src,
                    filename,
                    tokens[j].start,
                    "Invalid template control keyword",
                    'A template directive starts with "if", "for", "else", "endif" or "endfor".',
                )
            expected = {"else": ("if",), "endif": ("if", "else"), "endfor": ("for",)}[word]
            if top not in expected:
                raise _syntax_error(
                    src,
                    filename,
                    tok.start,
                    f"Unexpected {word} directive",
                    "The control directives within this template are unbalanced.",
                )
            stack.pop()
            if word == "else":
                stack.append(("else", tok))


def _check_traversals(tokens: list[Token], src: str, filename: str) -> None:
    """Two traversal forms HCL's parser refuses: ``x.0.1`` and ``x.*.y.*``."""
    for k, tok in enumerate(tokens[:-1]):
        if tok.kind != DOT:
            continue
        nxt = tokens[k + 1]
        if nxt.kind == NUMBER and "." in nxt.text:
            raise _syntax_error(
                src,
                filename,
                nxt.start,
                "Invalid legacy index syntax",
                "When using the legacy index syntax, chaining two indexes together is not "
                "permitted. Use the proper index syntax instead, like [0][0].",
            )
        if nxt.kind == STAR:
            j = k + 2
            while tokens[j].kind == DOT and tokens[j + 1].kind in (IDENT, NUMBER):
                j += 2
            if tokens[j].kind == DOT and tokens[j + 1].kind == STAR:
                raise _syntax_error(
                    src,
                    filename,
                    tokens[j].start,
                    "Nested splat expression not allowed",
                    "A splat expression (*) cannot be used inside another attribute-only "
                    "splat expression.",
                )


def _syntax_error(src: str, filename: str, at: int, summary: str, detail: str) -> DiagnosticError:
    return DiagnosticError([error(summary, detail, _range(src, filename, at))])


def _check_layout(tree: Tree, tokens: list[Token], src: str, filename: str) -> None:
    """The newline rules of HCL bodies that python-hcl2 does not enforce.

    An argument or a block ends its line; a block's ``{`` ends its header line, unless
    the block is a one-line block holding a single argument; object items are
    separated by commas or newlines.
    """
    starts = [t.start for t in tokens]

    def index_at(offset: int) -> int:
        return bisect.bisect_right(starts, offset) - 1

    def next_visible(k: int) -> Token:
        k += 1
        while tokens[k].kind == COMMENT and not _ends_line(tokens[k]):
            k += 1
        return tokens[k]

    def last_index(node: Tree) -> int:
        """The index of ``node``'s last token."""
        end = max(span(leaf)[1] for leaf in node.tokens() if leaf.type != "NL_OR_COMMENT")
        return index_at(end - 1)

    def after(node: Tree) -> Token:
        """The first token after ``node``'s last one, block comments skipped."""
        return next_visible(last_index(node))

    def on_one_line(node: Tree) -> None:
        """An expression goes on past a newline only inside brackets or templates."""
        depth = 0
        for tok in tokens[index_at(span(node)[0]) : last_index(node) + 1]:
            if tok.kind in _NESTING_OPEN:
                depth += 1
            elif tok.kind in _NESTING_CLOSE:
                depth -= 1
            elif depth == 0 and _ends_line(tok):
                raise fail(
                    tok,
                    "Invalid expression",
                    "An expression can go on over several lines only inside parentheses, "
                    "brackets or braces: wrap it in ( ) or join the lines.",
                )

    def ends_line(tok: Token) -> bool:
        return tok.kind == EOF or _ends_line(tok)

    def fail(tok: Token, summary: str, detail: str) -> DiagnosticError:
        return _syntax_error(src, filename, tok.start, summary, detail)

    bodies: list[tuple[Tree, Tree | None]] = [(_subtree(tree, 0), None)]
    while bodies:
        body, block = bodies.pop()
        items = [
            c for c in body.children if isinstance(c, Tree) and c.data != "new_line_or_comment"
        ]
        one_line = False
        rbrace = -1
        if block is not None:
            braces = [span(c)[0] for c in block.children if isinstance(c, SyntaxToken)]
            k, rbrace = index_at(braces[0]), braces[-1]
            for tok in tokens[index_at(span(block)[0]) : k]:
                if _ends_line(tok):
                    raise fail(
                        tok,
                        "Invalid block definition",
                        "A block's opening brace must be on the same line as its type and labels.",
                    )
            first = next_visible(k)
            one_line = not ends_line(first) and first.start != rbrace
            if one_line and (len(items) != 1 or items[0].data != "attribute"):
                culprit = items[0] if items[0].data != "attribute" else items[1]
                raise _syntax_error(
                    src,
                    filename,
                    span(culprit)[0],
                    "Invalid single-argument block definition",
                    "A block written on one line can hold only a single argument; put "
                    "its content on lines of its own.",
                )
            closing = next_visible(index_at(rbrace))
            if not ends_line(closing):
                raise fail(
                    closing,
                    "Missing newline after block definition",
                    "A block definition must end with a newline.",
                )
        seen: dict[str, int] = {}
        for item in items:
            if item.data == "attribute":
                name_node = _subtree(item, 0)
                name = str(next(name_node.tokens()))
                start = span(name_node)[0]
                if name in seen:
                    line = _pos(src, seen[name]).line
                    raise _syntax_error(
                        src,
                        filename,
                        start,
                        "Attribute redefined",
                        f'The argument "{name}" was already set on line {line}. Each '
                        "argument may be set only once.",
                    )
                seen[name] = start
            if item.data == "block":
                bodies.append(
                    (
                        next(c for c in item.children if isinstance(c, Tree) and c.data == "body"),
                        item,
                    )
                )
                continue
            on_one_line(item)
            tok = after(item)
            if one_line:
                if tok.start != rbrace:
                    raise fail(
                        tok,
                        "Invalid single-argument block definition",
                        "A block written on one line must end with its closing brace "
                        "right after its single argument.",
                    )
            elif not ends_line(tok):
                raise fail(
                    tok,
                    "Missing newline after argument",
                    "An argument definition must end with a newline.",
                )
    for obj in tree.find_data("object"):
        elems = [c for c in obj.children if isinstance(c, Tree) and c.data == "object_elem"]
        if elems and str(next(elems[0].tokens())) == "for":
            key = _subtree(elems[0], 0)
            if (
                key.children
                and isinstance(key.children[0], Tree)
                and key.children[0].data == "keyword"
            ):
                raise _syntax_error(
                    src,
                    filename,
                    span(elems[0])[0],
                    "Invalid 'for' expression",
                    'An object whose first key is "for" reads as a for expression; quote '
                    'the key ("for") to use it as a name.',
                )
        for elem in elems:
            on_one_line(elem)
        for elem in elems[:-1]:
            tok = after(elem)
            if tok.kind != COMMA and not ends_line(tok):
                raise fail(
                    tok,
                    "Missing item separator",
                    "Expected a newline or comma to mark the beginning of the next item.",
                )


def _subtree(node: Tree, i: int) -> Tree:
    """``node``'s ``i``-th child, which the grammar makes a rule's node."""
    child = node.children[i]
    assert isinstance(child, Tree)
    return child


def _unclosed_bracket(tokens: list[Token]) -> Token | None:
    """The innermost bracket still open at the end of the file, if any."""
    stack: list[Token] = []
    for tok in tokens:
        if tok.kind in _OPENERS:
            stack.append(tok)
        elif tok.kind in _CLOSERS and stack:
            stack.pop()
    return stack[-1] if stack else None


def _describe(tokens: list[Token], offset: int) -> str:
    """Name the token at ``offset`` the way a person would."""
    for tok in tokens:
        if tok.start + len(tok.text) > offset or tok.kind == EOF:
            if tok.kind == EOF:
                return "end of file"
            if tok.kind == NEWLINE:
                return "newline"
            if tok.kind == COMMENT:
                return "comment"
            text = tok.text if len(tok.text) <= 20 else tok.text[:17] + "..."
            return repr(text.rstrip("\r\n"))
    return "end of file"


# --- formatting -----------------------------------------------------------------------


class _Line:
    """A line cut into cells: lead, assign (from ``=`` on) and a trailing comment."""

    __slots__ = ("assign", "comment", "lead")

    def __init__(self, lead: list[Token]) -> None:
        self.lead = lead
        self.assign: list[Token] = []
        self.comment: list[Token] = []


def _format(tokens: list[Token]) -> None:
    lines = _lines(tokens)
    _indent(lines)
    for line in lines:
        _space(line.lead)
        if line.assign:
            line.assign[0].spaces = 1
            _space(line.assign)
    _align(lines, lambda ln: ln.assign, lambda ln: _columns(ln.lead))
    _align(lines, lambda ln: ln.comment, lambda ln: _columns(ln.lead) + _columns(ln.assign))


def _ends_line(tok: Token) -> bool:
    # Line comments (# and //) carry their own newline.
    return tok.kind == NEWLINE or (tok.kind == COMMENT and tok.text.endswith("\n"))


def _bracket_change(tok: Token) -> int:
    if tok.kind in _OPENERS:
        return 1
    if tok.kind in _CLOSERS:
        return -1
    return 0


def _lines(tokens: list[Token]) -> list[_Line]:
    lines: list[_Line] = []
    current: list[Token] = []
    for tok in tokens:
        if tok.kind == EOF:
            break  # the end-of-file token belongs to no line; its spaces stay as they are
        current.append(tok)
        if _ends_line(tok):
            lines.append(_Line(current))
            current = []
    lines.append(_Line(current))

    for line in lines:
        lead = line.lead
        if len(lead) > 1 and lead[-1].kind == COMMENT:
            line.comment = lead[-1:]
            lead = line.lead = lead[:-1]
        for i in range(1, len(lead)):
            if lead[i].kind == EQUAL:
                # Only a whole expression on this line makes an alignable assignment.
                if sum(_bracket_change(t) for t in lead[i:]) == 0:
                    line.assign = lead[i:]
                    line.lead = lead[:i]
                break
    return lines


def _indent(lines: list[_Line]) -> None:
    """Two spaces per level, a level being a line that opened brackets it did not close."""
    indents: list[int] = []
    for line in lines:
        if not line.lead:
            continue
        first = line.lead[0]
        if first.kind == NEWLINE:
            first.spaces = 0
            continue
        net = 0
        for tok in line.lead:
            net += _bracket_change(tok)
            if tok.kind == OHEREDOC:
                break  # brackets inside a heredoc body do not indent what follows
        net += sum(_bracket_change(t) for t in line.assign)
        if net > 0:
            first.spaces = 2 * len(indents)
            indents.append(net)
            continue
        closed = -net
        while closed > 0 and indents:
            if closed >= indents[-1]:
                closed -= indents.pop()
            else:
                indents[-1] -= closed
                closed = 0
        first.spaces = 2 * len(indents)


def _space(cell: list[Token]) -> None:
    for i in range(len(cell) - 1):
        before = cell[i - 1] if i > 0 else _NIL
        cell[i + 1].spaces = 1 if _space_after(cell[i], before, cell[i + 1]) else 0


def _space_after(subject: Token, before: Token, after: Token) -> bool:
    """Whether one space separates ``subject`` from ``after`` (hclwrite's rules, in order)."""
    s, a = subject.kind, after.kind
    if a in (NEWLINE, NIL):
        return False
    if s == IDENT and a == OPAREN:
        return False  # a function call
    if s == DOT or a == DOT:
        return False
    if a in (COMMA, ELLIPSIS):
        return False
    if s == COMMA:
        return True
    if s in _TEMPLATE_TEXT_SUBJECT or a in _TEMPLATE_TEXT_AFTER:
        return False  # template text keeps its own spacing
    if s == IDENT and subject.text == "in" and before.kind == IDENT:
        return True  # the keyword of a for expression: "x in [...]", not an index
    if a == OBRACK and (s in (IDENT, NUMBER) or _bracket_change(subject) < 0):
        return False  # an index
    if s == MINUS:
        # Negation hugs its operand; subtraction is spaced. Guess by what came before.
        return before.kind not in _NEGATION_BEFORE
    if s == OBRACE or a == CBRACE:
        return not (s == OBRACE and a == CBRACE)
    if s in (INTERP, CONTROL) and a == OBRACE:
        return True
    if s == CBRACE and a == SEQ_END:
        return True
    if s == SEQ_END and a in (INTERP, CONTROL):
        return False
    if _bracket_change(subject) > 0:
        return False
    return _bracket_change(after) >= 0


def _align(
    lines: list[_Line],
    cell_of: Callable[[_Line], list[Token]],
    width_of: Callable[[_Line], int],
) -> None:
    """Pad the first token of a cell so that it lines up across consecutive lines."""
    chain: list[tuple[_Line, int]] = []

    def close() -> None:
        widest = max(w for _, w in chain)
        for line, w in chain:
            cell_of(line)[0].spaces = widest - w + 1
        chain.clear()

    for line in lines:
        if cell_of(line):
            chain.append((line, width_of(line)))
        elif chain:
            close()
    if chain:
        close()


def _columns(cell: list[Token]) -> int:
    """Columns a cell takes on screen: spaces plus user-perceived characters."""
    return sum(t.spaces + len(graphemes(t.text)) for t in cell)
