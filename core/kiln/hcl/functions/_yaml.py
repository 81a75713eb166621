"""YAML for ``yamldecode`` and ``yamlencode``, following cty-yaml's mapping to values.

Decoding resolves plain scalars as cty-yaml does (YAML 1.1 booleans such as ``yes``,
decimal numbers only, timestamps as RFC 3339 strings). Encoding writes strings
double-quoted (literal blocks when they span lines) and keys sorted, as go-yaml does.
PyYAML is imported only when one of these functions runs.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from typing import Any

from kiln.hcl.functions._base import CallError
from kiln.hcl.values import is_number, number_to_string, parse_number, to_string

_TAG = "tag:yaml.org,2002:"
_PLAIN = "!kiln-plain"

_MAP_VALUES: dict[str, Any] = {}
for _words, _value in (
    (("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    (("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    (("", "~", "null", "Null", "NULL"), None),
    ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    (("-.inf", "-.Inf", "-.INF"), float("-inf")),
):
    for _word in _words:
        _MAP_VALUES[_word] = _value

_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?))?"
)


def _timestamp(src: str) -> str | None:
    """A YAML timestamp as an RFC 3339 string, or None if ``src`` is not one."""
    match = _TIMESTAMP_RE.fullmatch(src)
    if not match:
        return None
    year, month, day = (int(g) for g in match.group(1, 2, 3))
    if match.group(4):
        hour, minute, second = (int(g) for g in match.group(4, 5, 6))
        zone = match.group(7)
    elif match.group(8):
        hour, minute, second = (int(g) for g in match.group(8, 9, 10))
        zone = "Z"
    else:
        hour = minute = second = 0
        zone = "Z"
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{zone}"


def _resolve(tag: str, src: str) -> Any:
    """A scalar's value: ``tag`` is the explicit tag, or _PLAIN for an untagged plain one."""
    short = tag.replace(_TAG, "!!")
    if short not in (
        _PLAIN,
        "!!str",
        "!!bool",
        "!!int",
        "!!float",
        "!!null",
        "!!timestamp",
        "!!binary",
    ):
        raise CallError(f'unsupported tag "{tag}"')
    if short in (_PLAIN, "!!bool", "!!int", "!!float", "!!null", "!!timestamp"):
        hint = src[:1]
        if src in _MAP_VALUES:
            value = _MAP_VALUES[src]
            if short in (_PLAIN, "!!bool", "!!null", "!!float") or value is not None:
                return value
        if src in (".nan", ".NaN", ".NAN"):
            raise CallError("floating point NaN is not supported")
        if hint == ".":
            number = parse_number(src)
            if number is not None:
                return number
        elif hint.isdigit() or hint in "+-":
            if short in (_PLAIN, "!!timestamp"):
                stamp = _timestamp(src)
                if stamp is not None:
                    return stamp
            plain = src.replace("_", "")
            number = parse_number(plain)
            if number is not None:
                return number
            if plain.startswith(("0b", "-0b")):
                short = "!!int"
    if short == _PLAIN or short == "!!str":
        return src
    if short == "!!binary":
        try:
            base64.b64decode(src, validate=True)
        except (binascii.Error, ValueError):
            raise CallError(f'cannot parse "{src}" as {tag}: not valid base64') from None
        return src
    if short in ("!!int", "!!float"):
        plain = src.replace("_", "")
        number = parse_number(plain)
        if number is not None:
            return number
        negative = plain.startswith("-")
        digits = plain.lstrip("+-")
        for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8), ("0", 8)):
            if digits.startswith(prefix) and len(digits) > len(prefix):
                try:
                    value = int(digits[len(prefix) :], base)
                except ValueError:
                    break
                return -value if negative else value
        raise CallError(f'cannot parse "{src}" as {tag}')
    if short == "!!null":
        return None
    if short == "!!timestamp":
        stamp = _timestamp(src)
        if stamp is None:
            raise CallError(f'cannot parse "{src}" as {tag}')
        return stamp
    raise CallError(f'cannot parse "{src}" as {tag}')


_PROBLEMS = {
    "expected the node content": "did not find expected node content",
    "expected a single document in the stream": "unexpected extra content after value",
}


def yaml_decode(src: str) -> Any:
    """The value of a single YAML document; raises CallError."""
    import yaml

    class Loader(yaml.SafeLoader):
        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode and implicit and implicit[0]:
                return _PLAIN
            return str(super().resolve(kind, value, implicit))

    loader = Loader(src)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = str(exc.problem or exc.context or "invalid YAML")
        for prefix, wording in _PROBLEMS.items():
            if problem.startswith(prefix):
                problem = wording
        if mark is None:
            raise CallError(problem) from None
        raise CallError(f"on line {mark.line + 1}, column {mark.column + 1}: {problem}") from None
    except yaml.YAMLError as exc:
        raise CallError(str(exc)) from None
    finally:
        loader.dispose()
    if node is None:
        raise CallError("on line 1, column 1: missing start of document")
    return _node_value(node, yaml)


def _node_value(node: Any, yaml: Any) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("'", '"', "|", ">"):
            return node.value
        return _resolve(node.tag, node.value)
    if isinstance(node, yaml.SequenceNode):
        return [_node_value(item, yaml) for item in node.value]
    out: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if _is_merge_key(key_node, yaml):
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                value = _node_value(source, yaml)
                if not isinstance(value, dict):
                    raise CallError("map merge requires map or sequence of maps as the value")
                for k, v in value.items():
                    merged.setdefault(k, v)
            continue
        key = _node_value(key_node, yaml)
        if key is None or isinstance(key, (list, dict)):
            raise CallError("only strings, numbers and bools can be used as map keys")
        out[to_string(key)] = _node_value(value_node, yaml)
    for k, v in merged.items():
        out.setdefault(k, v)
    return dict(sorted(out.items()))


def _is_merge_key(node: Any, yaml: Any) -> bool:
    """Whether a mapping key is the ``<<`` merge key."""
    return (
        isinstance(node, yaml.ScalarNode)
        and node.value == "<<"
        and node.tag in (_PLAIN, _TAG + "merge")
    )


_LIBYAML_ESCAPES = {
    "\0": "0",
    "\a": "a",
    "\b": "b",
    "\t": "t",
    "\n": "n",
    "\v": "v",
    "\f": "f",
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\u2028": "L",
    "\u2029": "P",
}


def _libyaml_printable(ch: str) -> bool:
    code = ord(ch)
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
    )


def _write_double_quoted(emitter: Any, text: str, split: bool = True) -> None:
    """libyaml's (and go-yaml's) double-quoted scalar writer.

    Long lines fold at a space, which the line break replaces; characters libyaml
    does not print (controls, breaks, characters beyond U+FFFF) are escaped.
    """
    emitter.write_indicator('"', True)

    def put(data: str) -> None:
        emitter.column += len(data)
        emitter.stream.write(data.encode(emitter.encoding) if emitter.encoding else data)

    spaces = False
    last = len(text) - 1
    for i, ch in enumerate(text):
        if ch in _LIBYAML_ESCAPES or not _libyaml_printable(ch):
            code = ord(ch)
            if ch in _LIBYAML_ESCAPES:
                put("\\" + _LIBYAML_ESCAPES[ch])
            elif code <= 0xFF:
                put(f"\\x{code:02X}")
            elif code <= 0xFFFF:
                put(f"\\u{code:04X}")
            else:
                put(f"\\U{code:08X}")
            spaces = False
        elif ch == " ":
            if split and not spaces and emitter.column > emitter.best_width and 0 < i < last:
                emitter.write_indent()
                if text[i + 1] == " ":
                    put("\\")
            else:
                put(" ")
            spaces = True
        else:
            put(ch)
            spaces = False
    emitter.write_indicator('"', False)


def yaml_encode(value: Any) -> str:
    """A value as a YAML document, in go-yaml's style."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def write_double_quoted(self, text: str, split: bool = True) -> None:
            _write_double_quoted(self, text, split)

    node = _to_node(value, yaml)
    text = yaml.serialize(node, Dumper=Dumper, allow_unicode=True, width=80)
    return str(text)


def _to_node(value: Any, yaml: Any) -> Any:
    if value is None:
        return yaml.ScalarNode(_TAG + "null", "null")
    if isinstance(value, bool):
        return yaml.ScalarNode(_TAG + "bool", "true" if value else "false")
    if is_number(value):
        if value in (float("inf"), float("-inf")):
            return yaml.ScalarNode(_TAG + "float", "+.inf" if value > 0 else "-.inf")
        text = number_to_string(value)
        tag = "int" if re.fullmatch(r"-?\d+", text) else "float"
        return yaml.ScalarNode(_TAG + tag, text)
    if isinstance(value, str):
        style = "|" if "\n" in value else '"'
        return yaml.ScalarNode(_TAG + "str", value, style=style)
    if isinstance(value, list):
        items = [_to_node(v, yaml) for v in value]
        return yaml.SequenceNode(_TAG + "seq", items, flow_style=not items)
    pairs = [
        (yaml.ScalarNode(_TAG + "str", k, style='"'), _to_node(value[k], yaml))
        for k in sorted(value)
    ]
    return yaml.MappingNode(_TAG + "map", pairs, flow_style=not pairs)
