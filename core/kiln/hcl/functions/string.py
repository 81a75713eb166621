"""String functions.

chomp endswith format formatlist indent join lower regex regexall regex_replace replace
split startswith strcontains strrev substr title trim trimprefix trimspace trimsuffix upper
"""

from __future__ import annotations

import re
from typing import Any

from kiln.hcl.functions._base import ArgError, CallError, Param, function, whole_number
from kiln.hcl.functions._printf import go_format
from kiln.hcl.functions._text import (
    BoundedPattern,
    RegexSyntaxError,
    compile_go_regex,
    go_expander,
    go_finditer,
    go_lower,
    go_title,
    go_trim_space,
    go_upper,
    regex_or_fail,
)
from kiln.hcl.types import ANY, NUMBER, STRING, ListType
from kiln.hcl.values import UNKNOWN, graphemes, is_known

_CHOMP_RE = re.compile(r"(?:\r\n?|\n)*\Z")


@function("chomp", Param("str", STRING))
def chomp(text: str) -> str:
    """The string without its trailing newlines."""
    return _CHOMP_RE.sub("", text, count=1)


@function("endswith", Param("str", STRING), Param("suffix", STRING))
def endswith(text: str, suffix: str) -> bool:
    """Whether the string ends with the suffix."""
    return text.endswith(suffix)


@function("startswith", Param("str", STRING), Param("prefix", STRING))
def startswith(text: str, prefix: str) -> bool:
    """Whether the string starts with the prefix."""
    return text.startswith(prefix)


@function("strcontains", Param("str", STRING), Param("substr", STRING))
def strcontains(text: str, substr: str) -> bool:
    """Whether the string contains the substring."""
    return substr in text


@function(
    "format",
    Param("format", STRING),
    var_param=Param("args", ANY, allow_null=True, allow_unknown=True),
)
def format_(fmt: str, *args: Any) -> Any:
    """Values formatted by a printf-like specification."""
    if not all(is_known(a) for a in args):
        return UNKNOWN
    return go_format(fmt, list(args))


@function(
    "formatlist",
    Param("format", STRING),
    var_param=Param("args", ANY, allow_null=True, allow_unknown=True),
)
def formatlist(fmt: str, *args: Any) -> Any:
    """``format`` applied to the elements of lists, element by element."""
    if not args:
        return [go_format(fmt, [])]
    length = -1
    chooser = -1
    for i, arg in enumerate(args):
        if arg is UNKNOWN:
            return UNKNOWN
        if isinstance(arg, list):
            if length == -1:
                length, chooser = len(arg), i
            elif len(arg) != length:
                raise ArgError(
                    i + 1,
                    f"argument {i + 1} has length {len(arg)}, which is inconsistent with "
                    f"argument {chooser + 1} of length {length}",
                )
    if length == 0:
        return []
    results: list[Any] = []
    for index in range(max(length, 1)):
        row = [arg[index] if isinstance(arg, list) else arg for arg in args]
        if not all(is_known(v) for v in row):
            results.append(UNKNOWN)
            continue
        try:
            results.append(go_format(fmt, row))
        except (CallError, ArgError) as exc:
            reason = exc.reason if isinstance(exc, ArgError) else str(exc)
            raise CallError(f"error on format iteration {index}: {reason}") from None
    return results


@function("indent", Param("spaces", NUMBER), Param("str", STRING))
def indent(spaces: int | float, text: str) -> str:
    """The string with every line but the first indented by the given number of spaces."""
    count = whole_number(spaces)
    return text.replace("\n", "\n" + " " * max(count, 0))


@function(
    "join", Param("separator", STRING), var_param=Param("lists", ListType(STRING), allow_null=True)
)
def join(separator: str, *lists: list[Any] | None) -> str:
    """The elements of one or more lists of strings, joined by the separator."""
    if not lists:
        raise CallError("at least one list is required")
    items: list[str] = []
    for list_index, values in enumerate(lists):
        if values is None:
            raise ArgError(list_index + 1, "argument must not be null")
        for element_index, value in enumerate(values):
            if value is None:
                where = (
                    f"element {element_index} of list {list_index + 1}"
                    if len(lists) > 1
                    else f"element {element_index}"
                )
                raise ArgError(list_index + 1, f"{where} is null; cannot concatenate null values")
            items.append(value)
    return separator.join(items)


@function("lower", Param("str", STRING))
def lower(text: str) -> str:
    """The string in lowercase."""
    return go_lower(text)


@function("upper", Param("str", STRING))
def upper(text: str) -> str:
    """The string in uppercase."""
    return go_upper(text)


@function("title", Param("str", STRING))
def title(text: str) -> str:
    """The string with the first letter of each word in uppercase."""
    return go_title(text)


def _pattern_shape(pattern: str) -> tuple[BoundedPattern, Any]:
    """The compiled pattern and what a match yields: None, a tuple size or group names."""
    try:
        regex = compile_go_regex(pattern)
    except RegexSyntaxError as exc:
        raise ArgError(0, f"invalid regexp pattern: {exc.code} in {exc.expr}") from None
    names = {index: name for name, index in regex.groupindex.items()}
    if regex.groups == 0:
        return regex, None
    if names and len(names) != regex.groups:
        raise ArgError(
            0, "invalid regexp pattern: cannot mix both named and unnamed capture groups"
        )
    if names:
        return regex, [names[i] for i in range(1, regex.groups + 1)]
    return regex, regex.groups


def _match_value(match: re.Match[str], shape: Any) -> Any:
    if shape is None:
        return match.group(0)
    if isinstance(shape, int):
        return list(match.groups())
    return {name: match.group(name) for name in shape}


@function("regex", Param("pattern", STRING), Param("string", STRING))
def regex(pattern: str, text: str) -> Any:
    """The first match of a regular expression: the match, its groups or named groups."""
    compiled, shape = _pattern_shape(pattern)
    matches = go_finditer(compiled, text)
    if not matches:
        raise CallError("pattern did not match any part of the given string")
    return _match_value(matches[0], shape)


@function("regexall", Param("pattern", STRING), Param("string", STRING))
def regexall(pattern: str, text: str) -> list[Any]:
    """Every match of a regular expression, as ``regex`` describes each."""
    compiled, shape = _pattern_shape(pattern)
    return [_match_value(m, shape) for m in go_finditer(compiled, text)]


@function("regex_replace", Param("str", STRING), Param("substr", STRING), Param("replace", STRING))
def regex_replace(text: str, pattern: str, replacement: str) -> str:
    """The string with every match of a regular expression replaced (``$1`` expands)."""
    compiled = regex_or_fail(pattern)
    expand = go_expander(replacement)
    out: list[str] = []
    last = 0
    for match in go_finditer(compiled, text):
        out.append(text[last : match.start()])
        out.append(expand(match))
        last = match.end()
    out.append(text[last:])
    return "".join(out)


@function("replace", Param("str", STRING), Param("substr", STRING), Param("replace", STRING))
def replace(text: str, substr: str, replacement: str) -> str:
    """The string with every occurrence of a substring replaced."""
    return text.replace(substr, replacement)


@function("split", Param("separator", STRING), Param("str", STRING))
def split(separator: str, text: str) -> list[str]:
    """The parts of the string between occurrences of the separator."""
    if separator == "":
        return list(text)
    return text.split(separator)


@function("strrev", Param("str", STRING))
def strrev(text: str) -> str:
    """The string with its characters in reverse order."""
    return "".join(reversed(graphemes(text)))


@function("substr", Param("str", STRING), Param("offset", NUMBER), Param("length", NUMBER))
def substr(text: str, offset: int | float, length: int | float) -> str:
    """Part of the string, by character offset (negative counts from the end) and length."""
    start = whole_number(offset)
    count = whole_number(length)
    chars = graphemes(text)
    if start < 0:
        start = max(start + len(chars), 0)
    elif count == 0:
        return ""
    if start >= len(chars):
        return ""
    rest = chars[start:]
    return "".join(rest if count < 0 else rest[:count])


@function("trim", Param("str", STRING), Param("cutset", STRING))
def trim(text: str, cutset: str) -> str:
    """The string without the given characters at its start and end."""
    return text.strip(cutset) if cutset else text


@function("trimprefix", Param("str", STRING), Param("prefix", STRING))
def trimprefix(text: str, prefix: str) -> str:
    """The string without the prefix, if it starts with it."""
    return text.removeprefix(prefix)


@function("trimsuffix", Param("str", STRING), Param("suffix", STRING))
def trimsuffix(text: str, suffix: str) -> str:
    """The string without the suffix, if it ends with it."""
    return text.removesuffix(suffix)


@function("trimspace", Param("str", STRING))
def trimspace(text: str) -> str:
    """The string without whitespace at its start and end."""
    return go_trim_space(text)
