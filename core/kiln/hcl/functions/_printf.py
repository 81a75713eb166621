"""``format``'s printf engine, as cty implements it (over Go's ``fmt`` for numbers)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kiln.hcl.functions._base import ArgError, CallError
from kiln.hcl.functions.encoding import json_encode
from kiln.hcl.types import BOOL, NUMBER, STRING, ConversionError, convert
from kiln.hcl.values import go_quote, go_quote_rune, go_shortest_g, graphemes


@dataclass
class Verb:
    """One ``%`` sequence of a format string."""

    raw: str = ""
    offset: int = 0
    arg_num: int = 1
    mode: str = ""
    zero: bool = False
    sharp: bool = False
    plus: bool = False
    minus: bool = False
    space: bool = False
    prec: int | None = None
    width: int | None = None


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _go_char(ch: str) -> str:
    """Go's ``%q`` of the first byte of ``ch`` (the FSM reports bytes)."""
    return go_quote_rune(chr(ch.encode("utf-8")[0]))


def go_format(fmt: str, args: list[Any]) -> str:
    """``fmt`` with its verbs replaced by ``args``; raises CallError or ArgError."""
    out: list[str] = []
    i = 0
    n = len(fmt)
    next_arg = 1
    highest = 0
    while i < n:
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 1 < n and fmt[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        verb = Verb(offset=_byte_offset(fmt, i), arg_num=next_arg)
        start = i
        i += 1
        while i < n and fmt[i] in "0#-+ ":
            flag = fmt[i]
            verb.zero |= flag == "0"
            verb.sharp |= flag == "#"
            verb.minus |= flag == "-"
            verb.plus |= flag == "+"
            verb.space |= flag == " "
            i += 1
        if i < n and fmt[i] == "[":
            i += 1
            if i >= n:
                break
            if not "1" <= fmt[i] <= "9":
                raise CallError(_bad_char(fmt, i))
            j = i
            while j < n and fmt[j].isdigit() and fmt[j].isascii():
                j += 1
            verb.arg_num = int(fmt[i:j])
            i = j
            if i >= n:
                break
            if fmt[i] != "]":
                raise CallError(_bad_char(fmt, i))
            i += 1
        if i < n and "1" <= fmt[i] <= "9":
            j = i
            while j < n and fmt[j].isdigit() and fmt[j].isascii():
                j += 1
            verb.width = _bounded(int(fmt[i:j]), "width")
            i = j
        if i < n and fmt[i] == ".":
            i += 1
            j = i
            while j < n and fmt[j].isdigit() and fmt[j].isascii():
                j += 1
            verb.prec = _bounded(int(fmt[i:j]), "precision") if j > i else 0
            i = j
        if i >= n:
            break
        if not (fmt[i].isascii() and fmt[i].isalpha()):
            raise CallError(_bad_char(fmt, i))
        verb.mode = fmt[i]
        i += 1
        verb.raw = fmt[start:i]
        out.append(_format_one(verb, args))
        highest = max(highest, verb.arg_num)
        next_arg = verb.arg_num + 1
    else:
        if highest < len(args):
            if highest == 0:
                raise ArgError(1, "too many arguments; no verbs in format string")
            raise ArgError(highest + 1, f"too many arguments; only {highest} used by format string")
        return "".join(out)
    raise CallError(f"invalid format string starting at offset {len(fmt.encode('utf-8'))}")


def _bad_char(fmt: str, index: int) -> str:
    return (
        f"unrecognized format character {_go_char(fmt[index])} at offset {_byte_offset(fmt, index)}"
    )


def _format_one(verb: Verb, args: list[Any]) -> str:
    index = verb.arg_num - 1
    if index >= len(args):
        raise CallError(
            f"not enough arguments for {go_quote(verb.raw)} at {verb.offset}: "
            f"need index {verb.arg_num} but have {len(args)} total"
        )
    arg = args[index]
    if verb.mode != "v" and arg is None:
        raise CallError(
            f"unsupported value for {go_quote(verb.raw)} at {verb.offset}: "
            "null value cannot be formatted"
        )
    mode = verb.mode
    if mode == "v":
        return _format_as_is(verb, arg)
    if mode == "t":
        return "true" if _convert(verb, arg, BOOL) else "false"
    if mode in "bdoxXeEfgG":
        number = _convert(verb, arg, NUMBER)
        if mode in "bdoxX":
            if isinstance(number, float) and not number.is_integer():
                raise CallError(
                    f"unsupported value for {go_quote(verb.raw)} at {verb.offset}: "
                    "an integer is required"
                )
            return format_go_int(int(number), verb)
        return format_go_float(number, verb)
    if mode in "sq":
        text = _convert(verb, arg, STRING)
        if verb.prec is not None and verb.prec > 0:
            text = "".join(graphemes(text)[: verb.prec])
        if mode == "q":
            text = json_encode(text)
        return _pad(verb, text)
    raise CallError(
        f"unsupported format verb {_go_char(mode)} in {go_quote(verb.raw)} at offset {verb.offset}"
    )


def _convert(verb: Verb, arg: Any, want: Any) -> Any:
    try:
        return convert(arg, want)
    except ConversionError as exc:
        raise CallError(
            f"unsupported value for {go_quote(verb.raw)} at {verb.offset}: {exc.message}"
        ) from None


def _format_as_is(verb: Verb, arg: Any) -> str:
    if not verb.sharp and arg is not None:
        if isinstance(arg, str):
            return _pad(verb, arg)
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return _pad(verb, go_shortest_g(arg))
    return _pad(verb, json_encode(arg))


def _pad(verb: Verb, text: str) -> str:
    if verb.width is None:
        return text
    missing = verb.width - len(graphemes(text))
    if missing <= 0:
        return text
    pad = ("0" if verb.zero else " ") * missing
    return text + pad if verb.minus else pad + text


# --------------------------------------------------------------------------- numbers


def format_go_float(value: int | float, verb: Verb) -> str:
    """A number through Go's ``big.Float.Format`` for e, E, f, g and G."""
    mode = verb.mode
    inf = isinstance(value, float) and math.isinf(value)
    if inf:
        body = "Inf"
    elif mode in "gG" and verb.prec is None:
        body = go_shortest_g(abs(value), upper=mode == "G")
    else:
        prec = 6 if verb.prec is None else verb.prec
        exact = Decimal(abs(value)) if isinstance(value, int) else Decimal(repr(abs(value)))
        if mode in "gG":
            body = format(exact, f".{max(prec, 1)}g")
            body = _go_exponent(body.replace("E", "e"))
            if mode == "G":
                body = body.upper()
        else:
            body = _go_exponent(format(exact, f".{prec}{mode.lower()}"))
            if mode == "E":
                body = body.upper()
    # Go always signs a positive infinity: a space when asked for one, else "+".
    positive_inf = " " if verb.space else "+"
    sign = positive_inf if inf and value > 0 else _sign(verb, value < 0)
    padding = max((verb.width or 0) - len(sign) - len(body), 0)
    if verb.zero and not verb.minus and not inf:
        return sign + "0" * padding + body
    if verb.minus:
        return sign + body + " " * padding
    return " " * padding + sign + body


def _go_exponent(text: str) -> str:
    """Python writes at least two exponent digits, as Go does; keep the sign explicit."""
    if "e" not in text:
        return text
    mantissa, _, exp = text.partition("e")
    sign = "-" if exp.startswith("-") else "+"
    return f"{mantissa}e{sign}{int(exp.lstrip('+-')):02d}"


def format_go_int(value: int, verb: Verb) -> str:
    """An integer through Go's ``big.Int.Format`` for b, d, o, x and X."""
    sign = _sign(verb, value < 0)
    prefix = ""
    if verb.sharp:
        prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(verb.mode, "")
    digits = format(abs(value), verb.mode)
    zeros = 0
    if verb.prec is not None:
        if len(digits) < verb.prec:
            zeros = verb.prec - len(digits)
        elif digits == "0" and verb.prec == 0:
            return ""
    left = right = 0
    length = len(sign) + len(prefix) + zeros + len(digits)
    if verb.width is not None and length < verb.width:
        extra = verb.width - length
        if verb.minus:
            right = extra
        elif verb.zero and verb.prec is None:
            zeros = extra
        else:
            left = extra
    return " " * left + sign + prefix + "0" * zeros + digits + " " * right


def _sign(verb: Verb, negative: bool) -> str:
    """The sign Go's fmt writes before a number: ``-``, or ``+``/space as the flags ask."""
    if negative:
        return "-"
    if verb.plus:
        return "+"
    return " " if verb.space else ""


#: Go's fmt refuses widths and precisions above a million; so does kiln, with a message.
_MAX_WIDTH = 1_000_000


def _bounded(number: int, what: str) -> int:
    if number > _MAX_WIDTH:
        raise CallError(f"the {what} {number} in a format verb is too large (at most {_MAX_WIDTH})")
    return number
