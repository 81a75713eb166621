"""The value model of the template language.

Template values are plain Python objects, so evaluated configuration can be handed to
components as it is:

==============  ==========================================================
HCL type        Python
==============  ==========================================================
null            ``None``
bool            ``bool``
number          ``int`` (exact, any size) or ``float``
string          ``str``
tuple / list    ``list``
object / map    ``dict`` with ``str`` keys (insertion order kept)
set             :class:`HclSet` (a ``list`` kept unique and in cty's order)
unknown         :data:`UNKNOWN` (known only when the build runs)
==============  ==========================================================

Sensitive values are not marked on the value: like Packer, kiln collects the string
forms of sensitive values and redacts them from every output channel.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal
from typing import Any


class Unknown:
    """A value that is only known when the build runs (``build.ID``, ``build.Host``...)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:  # pragma: no cover - guards against accidental truth tests
        raise TypeError("an unknown value has no truth value")


UNKNOWN = Unknown()


class HclSet(list):
    """A set value: unique elements, ordered as cty orders sets.

    Strings sort lexically, numbers numerically; other elements keep first-seen order.
    """

    def __init__(self, items: Any = ()) -> None:
        unique: list[Any] = []
        for item in items:
            if not any(equal(item, seen) for seen in unique):
                unique.append(item)
        if all(isinstance(v, str) for v in unique) or all(is_number(v) for v in unique):
            unique.sort()
        super().__init__(unique)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_known(value: Any) -> bool:
    """True when ``value`` holds no unknown anywhere inside it."""
    if value is UNKNOWN:
        return False
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    return True


def type_name(value: Any) -> str:
    """The HCL name of a value's type, as used in error messages."""
    if value is None:
        return "null"
    if value is UNKNOWN:
        return "unknown"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, HclSet):
        return "set"
    if isinstance(value, list):
        return "tuple"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def normalize_number(value: int | float) -> int | float:
    """An integral float becomes an int, so ``10/2`` is ``5`` and prints as ``5``."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def format_number(value: int | float) -> str:
    """A number as Packer prints it: exact integers, else Go's shortest ``%g``.

    Integers that fit in 64 bits print in full; others print like Go's
    ``strconv.FormatFloat(f, 'g', -1, 64)`` (``1e+21``, ``1.23456785e+07``, ``1e-05``).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if -(2**63) <= value < 2**63:
            return str(value)
        value = float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    return go_shortest_g(value)


def go_shortest_g(value: int | float, upper: bool = False) -> str:
    """Go's ``big.Float.Text('g', -1)``: shortest digits, exponent form from 1e+06.

    For a float these are the digits of ``strconv.FormatFloat(f, 'g', -1, 64)``; an
    int keeps all of its digits.
    """
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    digits, point = _shortest_digits(value)
    sign = "-" if value < 0 else ""
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        e = "E" if upper else "e"
        return f"{sign}{mantissa}{e}{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _shortest_digits(value: int | float) -> tuple[str, int]:
    """Shortest decimal digits of ``abs(value)`` (no trailing zeros) and the point position."""
    if isinstance(value, int):
        text = str(abs(value))
        point = len(text)
    else:
        _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
        text = "".join(map(str, digit_tuple))
        point = len(text) + int(exponent)
    while len(text) > 1 and text[0] == "0":
        text = text[1:]
        point -= 1
    return (text.rstrip("0") or "0"), point


def equal(a: Any, b: Any) -> bool:
    """HCL equality: same type and same value (``1 == "1"`` is false)."""
    if a is UNKNOWN or b is UNKNOWN:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return False


# --------------------------------------------------------------------------- strings


_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INF_RE = re.compile(r"[+-]?(?:Inf|inf)")
_INT_RE = re.compile(r"[+-]?\d+")


def parse_number(text: str) -> int | float | None:
    """The number a string holds, as cty parses it (``"1e3"``, ``".5"``), else None.

    Only decimal notation is accepted: no spaces, hex, underscores or ``nan``.
    Integral values come back as ``int``.
    """
    if _INF_RE.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if not _NUMBER_RE.fullmatch(text):
        return None
    if _INT_RE.fullmatch(text):
        return int(text)
    exact = Decimal(text)
    if exact == exact.to_integral_value() and abs(exact.adjusted()) < 400:
        return int(exact)
    return normalize_number(float(text))


def parse_bool(text: str) -> bool | None:
    """The bool a string holds as cty converts it (``"true"``/``"1"``, ``"false"``/``"0"``).

    None for any other string, ``"True"`` included.
    """
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return None


def number_to_string(value: int | float) -> str:
    """A number converted to a string as cty does: plain decimal, never an exponent.

    ``1e21`` gives ``"1000000000000000000000"`` and ``1e-5`` gives ``"0.00001"``
    (unlike :func:`format_number`, which is how Packer *prints* a number).
    """
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def to_string(value: Any) -> str:
    """The string a primitive value converts to: numbers plainly, bools as ``true``/``false``.

    Raises ``TypeError`` for null, unknown and collection values, which have none.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return number_to_string(value)
    raise TypeError(f"a {type_name(value)} value has no string form")


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """``text`` in double quotes as Go's ``strconv.Quote`` writes it.

    Printable characters (including non-ASCII letters) stay as they are; control
    and other unprintable characters become ``\\n``, ``\\x01``, ``\\u00a0``...
    """
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x20 or code == 0x7F:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_quote_rune(ch: str) -> str:
    """``ch`` in single quotes as Go's ``strconv.QuoteRune`` writes it (``'a'``, ``'\\n'``)."""
    if ch == "'":
        return "'\\''"
    return "'" + go_quote(ch)[1:-1].replace('\\"', '"') + "'"


def format_console(value: Any) -> str:
    """A value in the notation ``packer console`` prints.

    A top-level string prints raw; inside collections strings are quoted. Lists
    print one element per line, each followed by a comma; maps and objects print
    ``"key" = value`` lines with keys sorted, leaving out null attributes as Packer does.
    Unknown values print ``<unknown>``.
    """
    if isinstance(value, str):
        return value
    return _format_nested(value, "")


def _format_nested(value: Any, indent: str) -> str:
    if value is None:
        return "null"
    if value is UNKNOWN:
        return "<unknown>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if isinstance(value, str):
        return go_quote(value)
    inner = indent + "  "
    if isinstance(value, list):
        if not value:
            return "[]"
        lines = [f"{inner}{_format_nested(v, inner)},\n" for v in value]
        return "[\n" + "".join(lines) + indent + "]"
    if isinstance(value, dict):
        keys = [k for k in sorted(value) if value[k] is not None]
        if not keys:
            return "{}"
        lines = [f"{inner}{go_quote(k)} = {_format_nested(value[k], inner)}\n" for k in keys]
        return "{\n" + "".join(lines) + indent + "}"
    raise TypeError(f"not a template value: {value!r}")


# --------------------------------------------------------------------------- characters


def graphemes(text: str) -> list[str]:
    """``text`` split into user-perceived characters: Unicode's grapheme clusters
    (UAX #29), which cty counts for ``length`` and ``substr`` and hclwrite for aligning.

    Close enough for text in templates: marks, variation selectors, emoji modifiers and
    tags stay with what they follow; CR LF, flag pairs, zero-width-joiner emoji
    sequences, prepended marks and Hangul syllables stay together; controls stand alone.
    """
    if text.isascii() and "\r" not in text:
        return list(text)
    clusters: list[str] = []
    start = 0
    prev = ""
    emoji = ""  # "pict" after a pictograph and its extenders, "zwj" after a joiner then
    flags = 0  # regional indicators in a row
    for i, ch in enumerate(text):
        kind = _break_property(ch)
        if i and not _joins(prev, kind, emoji, flags):
            clusters.append(text[start:i])
            start = i
        flags = flags + 1 if kind == "RI" else 0
        if kind == "Pict" or (kind in ("Extend", "SpacingMark") and emoji == "pict"):
            emoji = "pict"
        else:
            emoji = "zwj" if kind == "ZWJ" and emoji == "pict" else ""
        prev = kind
    if text:
        clusters.append(text[start:])
    return clusters


def _joins(prev: str, kind: str, emoji: str, flags: int) -> bool:
    """Whether a character of break property ``kind`` continues the cluster before it."""
    if prev == "CR" and kind == "LF":
        return True
    if prev in _CONTROLS or kind in _CONTROLS:
        return False
    return (
        (prev == "L" and kind in ("L", "V", "LV", "LVT"))
        or (prev in ("LV", "V") and kind in ("V", "T"))
        or (prev in ("LVT", "T") and kind == "T")
        or kind in ("Extend", "ZWJ", "SpacingMark")
        or prev == "Prepend"
        or (kind == "Pict" and emoji == "zwj")
        or (kind == "RI" and flags % 2 == 1)
    )


_CONTROLS = ("CR", "LF", "Control")
_PREPEND = frozenset({*range(0x0600, 0x0606), 0x06DD, 0x070F, 0x08E2, 0x0D4E, 0x110BD, 0x110CD})


def _break_property(ch: str) -> str:
    """The grapheme-cluster break property of ``ch``, as far as :func:`graphemes` needs it."""
    cp = ord(ch)
    if ch in "\r\n":
        return "CR" if ch == "\r" else "LF"
    if cp == 0x200D:
        return "ZWJ"
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return "RI"
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    if cp in _PREPEND:
        return "Prepend"
    category = unicodedata.category(ch)
    if (
        category in ("Mn", "Me")
        or cp == 0x200C
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji modifiers
        or 0xE0020 <= cp <= 0xE007F  # emoji tags
    ):
        return "Extend"
    if category == "Mc" or cp in (0x0E33, 0x0EB3):
        return "SpacingMark"
    if category in ("Cc", "Cf", "Zl", "Zp"):
        return "Control"
    if 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF:
        return "Pict"
    return ""
