"""Collection functions.

alltrue anytrue chunklist coalesce coalescelist compact concat contains distinct element
flatten index keys length lookup merge range reverse setintersection setproduct setunion
slice sort values zipmap
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kiln.hcl.functions._base import ArgError, CallError, Param, function, whole_number
from kiln.hcl.types import (
    ANY,
    BOOL,
    NUMBER,
    STRING,
    ConversionError,
    ListType,
    SetType,
    Type,
    convert,
    type_of,
    unify,
)
from kiln.hcl.values import UNKNOWN, HclSet, equal, graphemes, normalize_number


def _kind(value: Any) -> str:
    """A value's type as cty names it in these functions' messages."""
    return type_of(value).friendly_name()


@function("alltrue", Param("list", ListType(BOOL)))
def alltrue(values: list[Any]) -> bool:
    """Whether every element of a list of bools is true (true for an empty list)."""
    return all(v is True for v in values)


@function("anytrue", Param("list", ListType(BOOL)))
def anytrue(values: list[Any]) -> bool:
    """Whether any element of a list of bools is true."""
    return any(v is True for v in values)


@function("chunklist", Param("list", ListType(ANY)), Param("size", NUMBER))
def chunklist(values: list[Any], size: int | float) -> list[Any]:
    """The list split into lists of at most ``size`` elements (0: one chunk)."""
    try:
        count = whole_number(size)
    except CallError as exc:
        raise CallError(f"invalid index: {exc}") from None
    if count < 0:
        raise CallError("the size argument must be positive")
    if not values:
        return []
    if count == 0:
        return [list(values)]
    return [list(values[i : i + count]) for i in range(0, len(values), count)]


@function("coalesce", var_param=Param("vals", ANY, allow_null=True, allow_unknown=True))
def coalesce(*vals: Any) -> Any:
    """The first argument that is neither null nor an empty string."""
    unified = unify(type_of(v) for v in vals) if vals else None
    if unified is None:
        raise CallError("all arguments must have the same type")
    for value in vals:
        value = convert(value, unified)
        if value is UNKNOWN:
            return UNKNOWN
        if value is None or (unified == STRING and value == ""):
            continue
        return value
    raise CallError("no non-null, non-empty-string arguments")


@function("coalescelist", var_param=Param("vals", ANY, allow_null=True, allow_unknown=True))
def coalescelist(*vals: Any) -> Any:
    """The first argument that is a non-empty list."""
    if not vals:
        raise CallError("at least one argument is required")
    for value in vals:
        is_list = isinstance(value, list) and not isinstance(value, HclSet)
        if value is not UNKNOWN and not is_list:
            raise CallError("coalescelist arguments must be lists or tuples")
    for value in vals:
        if value is UNKNOWN:
            return UNKNOWN
        if value:
            return value
    raise CallError("no non-null arguments")


@function("compact", Param("list", ListType(STRING)))
def compact(values: list[Any]) -> list[Any]:
    """The list without its null and empty-string elements."""
    return [v for v in values if v is not None and v != ""]


@function("concat", var_param=Param("seqs", ANY, allow_unknown=True))
def concat(*seqs: Any) -> Any:
    """The lists joined into one."""
    if not seqs:
        raise CallError("at least one argument is required")
    for i, seq in enumerate(seqs):
        if seq is UNKNOWN:
            continue
        if not isinstance(seq, list) or isinstance(seq, HclSet):
            raise ArgError(i, f"all arguments must be lists or tuples; got {_kind(seq)}")
    if any(seq is UNKNOWN for seq in seqs):
        return UNKNOWN
    out: list[Any] = []
    for seq in seqs:
        out.extend(seq)
    return out


@function("contains", Param("list", ANY), Param("value", ANY))
def contains(values: Any, value: Any) -> bool:
    """Whether the list, tuple or set holds the value."""
    if not isinstance(values, list):
        raise CallError("argument must be list, tuple, or set")
    return any(equal(value, v) for v in values)


@function("distinct", Param("list", ListType(ANY)))
def distinct(values: list[Any]) -> list[Any]:
    """The list without duplicate elements, first occurrences kept."""
    out: list[Any] = []
    for value in values:
        if not any(equal(value, seen) for seen in out):
            out.append(value)
    return out


@function("element", Param("list", ANY), Param("index", NUMBER))
def element(values: Any, index: int | float) -> Any:
    """The element at the index, wrapping around past the end."""
    if not isinstance(values, list) or isinstance(values, HclSet):
        raise CallError(f"cannot read elements from {_kind(values)}")
    try:
        position = whole_number(index)
    except CallError as exc:
        raise CallError(f"invalid index: {exc}") from None
    if position < 0:
        raise CallError("cannot use element function with a negative index")
    if not values:
        raise CallError("cannot use element function with an empty list")
    return values[position % len(values)]


@function("flatten", Param("list", ANY))
def flatten(values: Any) -> list[Any]:
    """Nested lists replaced by their elements, recursively."""
    if not isinstance(values, list):
        raise CallError("can only flatten lists, sets and tuples")
    out: list[Any] = []
    _flatten_into(values, out)
    return out


def _flatten_into(values: list[Any], out: list[Any]) -> None:
    for value in values:
        if isinstance(value, list):
            _flatten_into(value, out)
        else:
            out.append(value)


@function("index", Param("list", ANY), Param("value", ANY))
def index(values: Any, value: Any) -> int:
    """The position of the first element equal to the value."""
    if not isinstance(values, list) or isinstance(values, HclSet):
        raise CallError("argument must be a list or tuple")
    if not values:
        raise CallError("cannot search an empty list")
    for i, item in enumerate(values):
        if equal(item, value):
            return i
    raise CallError("item not found")


@function("keys", Param("inputMap", ANY))
def keys(mapping: Any) -> list[str]:
    """The keys of a map or object, sorted."""
    if not isinstance(mapping, dict):
        raise ArgError(0, "must have map or object type")
    return sorted(mapping)


@function("length", Param("value", ANY, allow_unknown=True))
def length(value: Any) -> Any:
    """The number of elements of a collection, or of characters of a string."""
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, str):
        return len(graphemes(value))
    if isinstance(value, (list, dict)):
        return len(value)
    raise CallError("argument must be a string, a collection type, or a structural type")


@function("lookup", Param("inputMap", ANY), Param("key", STRING), Param("default", ANY))
def lookup(mapping: Any, key: str, default: Any) -> Any:
    """The value of a map's key, or the default when the key is absent."""
    if not isinstance(mapping, dict):
        raise ArgError(0, "lookup() requires a map as the first argument")
    if key in mapping:
        return mapping[key]
    return default


@function("merge", var_param=Param("maps", ANY, allow_null=True))
def merge(*maps: Any) -> Any:
    """The maps or objects combined; later keys win."""
    if not maps:
        return None
    out: dict[str, Any] = {}
    for value in maps:
        if value is None:
            continue
        if not isinstance(value, dict):
            raise CallError(f'arguments must be maps or objects, got "{_kind(value)}"')
        out.update(value)
    return dict(sorted(out.items()))


@function("range", var_param=Param("params", NUMBER))
def range_(*params: int | float) -> list[int | float]:
    """A list of numbers: range(end), range(start, end) or range(start, end, step)."""
    start: int | float
    end: int | float
    step: int | float
    if len(params) == 1:
        start, end = 0, params[0]
        step = -1 if end < 0 else 1
    elif len(params) == 2:
        start, end = params
        step = -1 if end < start else 1
    elif len(params) == 3:
        start, end, step = params
    else:
        raise CallError("must have one, two, or three arguments")
    down = step < 0
    if down and end > start:
        raise ArgError(1, "end must be less than start when step is negative")
    if not down and end < start:
        raise ArgError(1, "end must be greater than start when step is positive")
    exact = all(isinstance(p, int) for p in (start, end, step))
    num: Any = start if exact else Decimal(repr(start))
    inc: Any = step if exact else Decimal(repr(step))
    stop: Any = end if exact else Decimal(repr(end))
    values: list[int | float] = []
    while (num > stop) if down else (num < stop):
        if len(values) >= 1024:
            raise CallError(
                "more than 1024 values were generated; either decrease the difference "
                "between start and end or use a smaller step"
            )
        values.append(num if exact else normalize_number(float(num)))
        num += inc
    return values


@function("reverse", Param("list", ANY))
def reverse(values: Any) -> list[Any]:
    """The list in reverse order."""
    if not isinstance(values, list) or isinstance(values, HclSet):
        raise ArgError(0, f"can only reverse list or tuple values, not {_kind(values)}")
    return list(reversed(values))


def _as_sets(sets: tuple[Any, ...]) -> list[list[Any]]:
    """The arguments converted to sets of one unified element type."""
    elems: list[Type] = []
    for value in sets:
        value_type = type_of(value)
        elems.append(value_type.elem if isinstance(value_type, SetType) else ANY)
    unified = unify(elems) or ANY
    out = []
    for i, value in enumerate(sets):
        try:
            out.append(convert(value, SetType(unified)))
        except ConversionError as exc:
            raise ArgError(i, exc.message) from None
    return out


def _set_operation(
    first: Any, others: tuple[Any, ...], combine: Callable[[list[Any], list[Any]], list[Any]]
) -> HclSet:
    sets = _as_sets((first, *others))
    result = sets[0]
    for other in sets[1:]:
        result = combine(result, other)
    return HclSet(result)


@function(
    "setintersection",
    Param("first_set", SetType(ANY)),
    var_param=Param("other_sets", SetType(ANY)),
)
def setintersection(first: Any, *others: Any) -> HclSet:
    """The elements all the sets have in common."""
    return _set_operation(first, others, lambda a, b: [x for x in a if any(equal(x, y) for y in b)])


@function("setunion", Param("first_set", SetType(ANY)), var_param=Param("other_sets", SetType(ANY)))
def setunion(first: Any, *others: Any) -> HclSet:
    """The elements of any of the sets."""
    return _set_operation(first, others, lambda a, b: [*a, *b])


@function("setproduct", var_param=Param("sets", ANY))
def setproduct(*sets: Any) -> list[Any]:
    """Every combination of one element from each set or list."""
    if len(sets) < 2:
        raise CallError("at least two arguments are required")
    for i, value in enumerate(sets):
        if not isinstance(value, list):
            raise ArgError(i, "a set or a list is required")
    product: list[list[Any]] = [[]]
    for value in sets:
        product = [[*prefix, item] for prefix in product for item in value]
    if all(isinstance(v, HclSet) for v in sets):
        return HclSet(product)
    return product


@function("slice", Param("list", ANY), Param("start_index", NUMBER), Param("end_index", NUMBER))
def slice_(values: Any, start_index: int | float, end_index: int | float) -> list[Any]:
    """The elements from start_index (inclusive) to end_index (exclusive)."""
    if not isinstance(values, list) or isinstance(values, HclSet):
        raise ArgError(0, "must be a list or tuple value")
    start = _slice_index(start_index, 1, "start")
    end = _slice_index(end_index, 2, "end")
    if start > len(values):
        raise ArgError(1, "start index must not be greater than the length of the list")
    if end > len(values):
        raise ArgError(2, "end index must not be greater than the length of the list")
    if start > end:
        raise ArgError(1, "start index must not be greater than end index")
    return list(values[start:end])


def _slice_index(value: int | float, arg: int, which: str) -> int:
    try:
        number = whole_number(value)
    except CallError as exc:
        raise ArgError(arg, f"invalid {which} index: {exc}") from None
    if number < 0:
        raise ArgError(arg, f"{which} index must not be less than zero")
    return number


@function("sort", Param("list", ListType(STRING)))
def sort(values: list[Any]) -> list[str]:
    """The strings in lexicographic order."""
    for i, value in enumerate(values):
        if value is None:
            raise CallError(f"given list element {i} is null; a null string cannot be sorted")
    return sorted(values)


@function("values", Param("values", ANY))
def values(mapping: Any) -> list[Any]:
    """The values of a map or object, in key order."""
    if not isinstance(mapping, dict):
        raise CallError("values() requires a map as the first argument")
    return [mapping[k] for k in sorted(mapping)]


@function("zipmap", Param("keys", ListType(STRING)), Param("values", ANY))
def zipmap(keys_: list[Any], values_: Any) -> dict[str, Any]:
    """A map from a list of keys and a list of values."""
    if not isinstance(values_, list) or isinstance(values_, HclSet):
        raise CallError("values argument must be a list or tuple value")
    if len(keys_) != len(values_):
        raise CallError(
            f"number of keys ({len(keys_)}) does not match number of values ({len(values_)})"
        )
    out: dict[str, Any] = {}
    for i, key in enumerate(keys_):
        if key is None:
            raise ArgError(0, f"keys list has null value at index {i}")
        out[key] = values_[i]
    return dict(sorted(out.items()))
