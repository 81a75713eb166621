"""Text helpers that behave as Go and cty do: case, spaces, regular expressions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from kiln.hcl.functions._base import CallError

# --------------------------------------------------------------------------- case and spaces


def go_upper(text: str) -> str:
    """``strings.ToUpper``: one-to-one case mapping (``ß`` stays ``ß``)."""
    return "".join(_one_to_one(ch, ch.upper()) for ch in text)


def go_lower(text: str) -> str:
    """``strings.ToLower``: one-to-one case mapping."""
    return "".join(_one_to_one(ch, ch.lower()) for ch in text)


def _one_to_one(ch: str, mapped: str) -> str:
    if len(mapped) == 1:
        return mapped
    if ch == "\u0130":  # İ lowers to i in Go's simple mapping
        return "i"
    return ch


def go_title_char(ch: str) -> str:
    """``unicode.ToTitle`` of one character."""
    titled = ch.title()
    return titled if len(titled) == 1 else _one_to_one(ch, ch.upper())


def _go_is_separator(ch: str) -> bool:
    """The word separators of Go's ``strings.Title``."""
    if ch.isascii():
        return not (ch.isalnum() or ch == "_")
    category = unicodedata.category(ch)
    if category[0] in ("L", "N"):
        return False
    return is_go_space(ch)


def go_title(text: str) -> str:
    """``strings.Title``: the first letter of each word in title case."""
    out = []
    previous = " "
    for ch in text:
        out.append(go_title_char(ch) if _go_is_separator(previous) else ch)
        previous = ch
    return "".join(out)


_GO_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def is_go_space(ch: str) -> bool:
    """``unicode.IsSpace``."""
    return ch in _GO_SPACES


def go_trim_space(text: str) -> str:
    """``strings.TrimSpace``."""
    start, end = 0, len(text)
    while start < end and text[start] in _GO_SPACES:
        start += 1
    while end > start and text[end - 1] in _GO_SPACES:
        end -= 1
    return text[start:end]


# --------------------------------------------------------------------------- regular expressions


class RegexSyntaxError(Exception):
    """A pattern Go's RE2 syntax refuses: ``code`` and ``expr`` as Go reports them."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"{code}: `{expr}`")
        self.code = code
        self.expr = expr


_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


#: How long one regular-expression operation may run. Go's RE2 runs in linear time;
#: Python's backtracking engines do not, so a pathological pattern is cut off instead.
REGEX_TIMEOUT = 2.0


class BoundedPattern:
    """A compiled pattern whose every operation gives up after :data:`REGEX_TIMEOUT`.

    It runs on the ``regex`` engine, which accepts the same syntax as ``re`` and can be
    interrupted; a timeout fails the function call with a message instead of hanging.
    """

    def __init__(self, compiled: Any):
        self._compiled = compiled
        self.pattern: str = compiled.pattern
        self.groups: int = compiled.groups
        self.groupindex: dict[str, int] = dict(compiled.groupindex)

    def finditer(self, text: str) -> list[Any]:
        """Every match, collected within the time limit."""
        try:
            return list(self._compiled.finditer(text, timeout=REGEX_TIMEOUT))
        except TimeoutError:
            raise CallError(
                f"the regular expression took longer than {REGEX_TIMEOUT:g} seconds on this "
                "input; simplify it (nested repetition such as (a|a)+ backtracks "
                "exponentially)"
            ) from None


def compile_go_regex(pattern: str) -> BoundedPattern:
    """Compile an RE2 (Go ``regexp``) pattern into an equivalent Python pattern.

    Handles the differences that matter in templates: ``$`` and ``\\z`` anchor at the
    very end, ``\\d \\w \\s \\b`` are ASCII-only, POSIX classes, ``(?<name>...)``; and
    refuses what RE2 refuses (look-around, back-references) with Go's wording.
    """
    multiline = bool(re.search(r"\(\?[a-zA-Z]*m", pattern))
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise RegexSyntaxError("trailing backslash at end of expression", "")
            nxt = pattern[i + 1]
            if nxt.isdigit() and nxt != "0":
                raise RegexSyntaxError("invalid escape sequence", pattern[i : i + 2])
            if nxt == "z":
                out.append("\\Z")
            elif nxt == "Z":
                raise RegexSyntaxError("invalid escape sequence", "\\Z")
            elif nxt in "pP":
                raise RegexSyntaxError("invalid character class range", pattern[i:])
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                name = pattern[i + 2 : end] if end > 0 else ""
                if name.lstrip("^") in _POSIX_CLASSES and not name.startswith("^"):
                    out.append(_POSIX_CLASSES[name])
                    i = end + 2
                    continue
            if ch == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            elif ch == "[":
                out.append("\\[")
                i += 1
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if ch == "(" and pattern.startswith("(?", i):
            if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
                out.append("(?P<")
                i += 3
                continue
            if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!", "(?#", "(?>", "(?("), i):
                raise RegexSyntaxError("invalid or unsupported Perl syntax", pattern[i : i + 3])
        if ch == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(ch)
        i += 1
    translated = "".join(out)
    try:
        re.compile(translated, re.ASCII)  # Python's own errors map onto Go's wording
    except re.error as exc:
        raise _go_syntax_error(pattern, exc) from None
    import regex

    return BoundedPattern(regex.compile(translated, regex.ASCII | regex.VERSION0))


def _go_syntax_error(pattern: str, exc: re.error) -> RegexSyntaxError:
    message = str(exc.msg)
    pos = exc.pos if exc.pos is not None else 0
    if "missing )" in message:
        return RegexSyntaxError("missing closing )", pattern)
    if "unbalanced parenthesis" in message:
        return RegexSyntaxError("unexpected )", pattern)
    if "unterminated character set" in message:
        start = pattern.rfind("[")
        return RegexSyntaxError("missing closing ]", pattern[max(start, 0) :])
    if "nothing to repeat" in message:
        return RegexSyntaxError("missing argument to repetition operator", pattern[pos : pos + 1])
    if "multiple repeat" in message:
        return RegexSyntaxError("invalid nested repetition operator", pattern[pos - 1 : pos + 1])
    if "bad character range" in message:
        return RegexSyntaxError("invalid character class range", message.split()[-1])
    if "bad escape" in message:
        return RegexSyntaxError("invalid escape sequence", pattern[pos : pos + 2])
    if "group name" in message or "unknown extension" in message:
        return RegexSyntaxError("invalid named capture", pattern[pos:])
    return RegexSyntaxError(message, pattern)


def regex_or_fail(pattern: str) -> BoundedPattern:
    """:func:`compile_go_regex`, failing the call as Go's ``regexp.Compile`` would."""
    try:
        return compile_go_regex(pattern)
    except RegexSyntaxError as exc:
        raise CallError(f"error parsing regexp: {exc}") from None


def go_finditer(regex: BoundedPattern, text: str) -> list[Any]:
    """All matches as Go finds them: an empty match right after a match is skipped."""
    matches = []
    previous_end = -1
    for match in regex.finditer(text):
        if match.start() == match.end() == previous_end:
            continue
        matches.append(match)
        previous_end = match.end()
    return matches


_EXPAND_RE = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+))")


def go_expander(template: str) -> Callable[[re.Match[str]], str]:
    """A replacement function implementing Go's ``Regexp.Expand`` (``$1``, ``${name}``)."""

    def expand(match: re.Match[str]) -> str:
        def one(ref: re.Match[str]) -> str:
            if ref.group(0) == "$$":
                return "$"
            name = ref.group(1) if ref.group(1) is not None else ref.group(2)
            if ref.group(1) is not None and not name:
                return ref.group(0)
            try:
                group = match.group(int(name)) if name.isdigit() else match.group(name)
            except IndexError:
                return ""
            return group or ""

        return _EXPAND_RE.sub(one, template)

    return expand
