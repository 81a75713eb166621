"""Numeric functions: abs ceil floor log max min parseint pow signum sum."""

from __future__ import annotations

import math
from typing import Any

from kiln.hcl.functions._base import ArgError, CallError, Param, function, whole_number
from kiln.hcl.types import ANY, NUMBER, ConversionError, convert, type_of
from kiln.hcl.values import UNKNOWN, is_known, normalize_number

Number = int | float


def _result(value: float) -> Number:
    if math.isnan(value):
        raise CallError("the result is not a number (NaN)")
    return normalize_number(value)


@function("abs", Param("num", NUMBER))
def abs_(num: Number) -> Number:
    """The absolute value of a number."""
    return abs(num)


@function("ceil", Param("num", NUMBER))
def ceil(num: Number) -> Number:
    """The closest whole number greater than or equal to the given value."""
    if isinstance(num, float) and math.isinf(num):
        return num
    return math.ceil(num)


@function("floor", Param("num", NUMBER))
def floor(num: Number) -> Number:
    """The closest whole number less than or equal to the given value."""
    if isinstance(num, float) and math.isinf(num):
        return num
    return math.floor(num)


@function("log", Param("num", NUMBER), Param("base", NUMBER))
def log(num: Number, base: Number) -> Number:
    """The logarithm of a number in the given base."""
    return _result(_ln(num) / _ln(base))


def _ln(value: Number) -> float:
    if value == 0:
        return -math.inf
    if value < 0:
        return math.nan
    if isinstance(value, float) and math.isinf(value):
        return math.inf
    return math.log(value)


@function("max", var_param=Param("numbers", NUMBER))
def max_(*numbers: Number) -> Number:
    """The greatest of the given numbers."""
    if not numbers:
        raise CallError("must pass at least one number")
    return max(numbers)


@function("min", var_param=Param("numbers", NUMBER))
def min_(*numbers: Number) -> Number:
    """The smallest of the given numbers."""
    if not numbers:
        raise CallError("must pass at least one number")
    return min(numbers)


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@function("parseint", Param("number", ANY), Param("base", NUMBER))
def parseint(number: Any, base: Number) -> int:
    """The integer a string represents in the given base (2 to 62)."""
    if not isinstance(number, str):
        raise ArgError(0, f"first argument must be a string, not {type_of(number).friendly_name()}")
    if not (isinstance(base, int) or base.is_integer()) or not 2 <= base <= 62:
        raise ArgError(1, "base must be a whole number between 2 and 62 inclusive")
    base = int(base)
    text = number
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if not text:
        raise ArgError(0, f'cannot parse "{number}" as a base {base} integer')
    value = 0
    for ch in text:
        digit = _DIGITS.find(ch.lower() if base <= 36 else ch)
        if digit < 0 or digit >= base:
            raise ArgError(0, f'cannot parse "{number}" as a base {base} integer')
        value = value * base + digit
    return sign * value


@function("pow", Param("num", NUMBER), Param("power", NUMBER))
def pow_(num: Number, power: Number) -> Number:
    """A number raised to a power."""
    if isinstance(num, int) and isinstance(power, int) and 0 <= power <= 1024:
        return num**power
    try:
        return _result(math.pow(num, power))
    except ZeroDivisionError:
        return math.inf
    except ValueError:
        raise CallError("the result is not a number (NaN)") from None
    except OverflowError:
        return math.inf


@function("signum", Param("num", NUMBER))
def signum(num: Number) -> int:
    """-1, 0 or 1: the sign of a whole number."""
    value = whole_number(num)
    return (value > 0) - (value < 0)


@function("sum", Param("list", ANY, allow_unknown=True))
def sum_(items: Any) -> Any:
    """The sum of the numbers of a list, set or tuple."""
    if not isinstance(items, list):
        raise ArgError(0, "cannot sum noniterable")
    if not items:
        raise ArgError(0, "cannot sum an empty list")
    if not is_known(items):
        return UNKNOWN
    total: Number = 0
    seen_inf = 0.0
    for item in items:
        try:
            value = convert(item, NUMBER) if item is not None else None
        except ConversionError:
            value = None
        if value is None:
            raise ArgError(0, "argument must be list, set, or tuple of number values")
        if isinstance(value, float) and math.isinf(value):
            if seen_inf and seen_inf != value:
                raise CallError("can't compute sum of opposing infinities")
            seen_inf = value
        total = total + value
    return total if seen_inf == 0 else seen_inf
