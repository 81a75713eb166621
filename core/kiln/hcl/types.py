"""Type constraints of the template language and conversion between types.

These follow cty, the type system under HCL: a :class:`Type` is what a ``variable``
block's ``type`` or a function parameter asks for, :func:`convert` turns a value into
that type the way cty's ``convert.Convert`` does (``1`` becomes ``"1"`` for a string,
``"true"`` becomes ``true`` for a bool, a tuple becomes a list...), and a failure
raises :class:`ConversionError` with cty's wording (``a number is required``,
``attribute "x" is required``...).

Values carry no type of their own (see :mod:`kiln.hcl.values`): :func:`type_of` gives
the type cty would infer for a literal value, so a Python ``list`` is a tuple, a
``dict`` an object, and ``None`` or an unknown value is of type ``any``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kiln.hcl.values import (
    UNKNOWN,
    HclSet,
    format_number,
    go_quote,
    is_number,
    parse_bool,
    parse_number,
    to_string,
)

__all__ = [
    "ANY",
    "BOOL",
    "NUMBER",
    "STRING",
    "ConversionError",
    "ListType",
    "MapType",
    "ObjectType",
    "SetType",
    "TupleType",
    "Type",
    "convert",
    "friendly_name",
    "type_of",
    "unify",
]


class Type:
    """A type or type constraint. Types compare by value and are hashable."""

    def friendly_name(self, constraint: bool = False) -> str:
        """The name used in messages (``list of string``); see :func:`friendly_name`."""
        raise NotImplementedError

    def _key(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Type) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"<type {self}>"


class PrimitiveType(Type):
    """``string``, ``number`` or ``bool``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _key(self) -> tuple[Any, ...]:
        return ("primitive", self.name)

    def __str__(self) -> str:
        return self.name

    def friendly_name(self, constraint: bool = False) -> str:
        return self.name


class DynamicType(Type):
    """``any``: a placeholder that any type satisfies."""

    def _key(self) -> tuple[Any, ...]:
        return ("any",)

    def __str__(self) -> str:
        return "any"

    def friendly_name(self, constraint: bool = False) -> str:
        return "any type" if constraint else "dynamic"


STRING = PrimitiveType("string")
NUMBER = PrimitiveType("number")
BOOL = PrimitiveType("bool")
ANY = DynamicType()


class _CollectionType(Type):
    kind = ""

    def __init__(self, elem: Type) -> None:
        self.elem = elem

    def _key(self) -> tuple[Any, ...]:
        return (self.kind, self.elem._key())

    def __str__(self) -> str:
        return f"{self.kind}({self.elem})"

    def friendly_name(self, constraint: bool = False) -> str:
        if constraint and self.elem == ANY:
            return f"{self.kind} of any single type"
        return f"{self.kind} of {self.elem.friendly_name(constraint)}"


class ListType(_CollectionType):
    """``list(elem)``: an ordered sequence of one element type."""

    kind = "list"


class SetType(_CollectionType):
    """``set(elem)``: unique values of one element type."""

    kind = "set"


class MapType(_CollectionType):
    """``map(elem)``: string keys to values of one element type."""

    kind = "map"


class ObjectType(Type):
    """``object({name=type, ...})``, with ``optional(type[, default])`` attributes."""

    def __init__(
        self,
        attrs: Mapping[str, Type],
        optional: Iterable[str] = frozenset(),
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.attrs: dict[str, Type] = dict(sorted(attrs.items()))
        self.optional = frozenset(optional)
        self.defaults: dict[str, Any] = dict(defaults or {})
        unknown = (self.optional | self.defaults.keys()) - self.attrs.keys()
        if unknown:
            raise ValueError(f"optional attributes not in the object: {sorted(unknown)}")

    def _key(self) -> tuple[Any, ...]:
        return (
            "object",
            tuple((k, v._key()) for k, v in self.attrs.items()),
            tuple(sorted(self.optional)),
            repr(sorted(self.defaults.items())),
        )

    def __str__(self) -> str:
        parts = []
        for name, attr in self.attrs.items():
            text = str(attr)
            if name in self.optional:
                if name in self.defaults:
                    text = f"optional({text}, {_literal(self.defaults[name])})"
                else:
                    text = f"optional({text})"
            parts.append(f"{name}={text}")
        return "object({" + ",".join(parts) + "})"

    def friendly_name(self, constraint: bool = False) -> str:
        return "object"


class TupleType(Type):
    """``tuple([type, ...])``: a fixed sequence of element types."""

    def __init__(self, elems: Iterable[Type]) -> None:
        self.elems: tuple[Type, ...] = tuple(elems)

    def _key(self) -> tuple[Any, ...]:
        return ("tuple", tuple(e._key() for e in self.elems))

    def __str__(self) -> str:
        return "tuple([" + ",".join(str(e) for e in self.elems) + "])"

    def friendly_name(self, constraint: bool = False) -> str:
        return "tuple"


def friendly_name(t: Type, constraint: bool = True) -> str:
    """The name cty uses for ``t`` in messages.

    As a constraint (the default), ``any`` reads "any type" and ``list(any)`` reads
    "list of any single type"; as a value's type, ``any`` reads "dynamic".
    """
    return t.friendly_name(constraint)


def _literal(value: Any) -> str:
    """A value written as an HCL literal, for ``optional(T, default)`` in type strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


class ConversionError(Exception):
    """A value that cannot be converted; ``path`` locates the failing part."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


# --------------------------------------------------------------------------- inference


def type_of(value: Any) -> Type:
    """The type cty gives ``value`` as a literal: lists are tuples, dicts objects.

    ``None`` and unknown values are of type ``any``; a set's element type is the
    unification of its elements.
    """
    if value is None or value is UNKNOWN:
        return ANY
    if isinstance(value, bool):
        return BOOL
    if is_number(value):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, HclSet):
        return SetType(unify([type_of(v) for v in value]) or ANY)
    if isinstance(value, (list, tuple)):
        return TupleType(type_of(v) for v in value)
    if isinstance(value, dict):
        return ObjectType({k: type_of(v) for k, v in value.items()})
    raise TypeError(f"not a template value: {value!r}")


# --------------------------------------------------------------------------- unification


def unify(types: Iterable[Type]) -> Type | None:
    """The one type all ``types`` convert to, as cty chooses it, or None if none exists.

    ``any`` (the type of null and unknown values) unifies with everything; mixed
    primitives unify to ``string`` when one of them is a string; objects with
    different attributes unify to a map and tuples of different lengths to a list.
    """
    known = [t for t in types if t != ANY]
    if not known:
        return ANY
    first = known[0]
    if all(t == first for t in known[1:]):
        return first
    if all(isinstance(t, ObjectType) for t in known):
        return _unify_objects(known)  # type: ignore[arg-type]
    if all(isinstance(t, TupleType) for t in known):
        return _unify_tuples(known)  # type: ignore[arg-type]
    for kind in (ListType, SetType, MapType):
        if all(isinstance(t, kind) for t in known):
            elem = unify(t.elem for t in known)  # type: ignore[attr-defined]
            return None if elem is None else kind(elem)
    if any(isinstance(t, MapType) for t in known) and all(
        isinstance(t, (MapType, ObjectType)) for t in known
    ):
        elem = unify(_element_types(known))
        return None if elem is None else MapType(elem)
    for candidate in sorted(known, key=_preference):
        if all(t == candidate or _can_convert(t, candidate) for t in known):
            return candidate
    return None


def _preference(t: Type) -> int:
    """Lower sorts first: the more general types cty prefers as a unification result."""
    if t == STRING:
        return 0
    if isinstance(t, PrimitiveType):
        return 1
    if isinstance(t, SetType):
        return 2
    if isinstance(t, (ListType, MapType)):
        return 3
    return 4


def _element_types(types: list[Type]) -> list[Type]:
    out: list[Type] = []
    for t in types:
        if isinstance(t, ObjectType):
            out.extend(t.attrs.values())
        elif isinstance(t, TupleType):
            out.extend(t.elems)
        elif isinstance(t, _CollectionType):
            out.append(t.elem)
    return out


def _unify_objects(types: list[ObjectType]) -> Type | None:
    names = types[0].attrs.keys()
    if all(t.attrs.keys() == names for t in types[1:]):
        attrs: dict[str, Type] = {}
        for name in names:
            unified = unify(t.attrs[name] for t in types)
            if unified is None:
                return None
            attrs[name] = unified
        return ObjectType(attrs)
    elem = unify(_element_types(list(types)))
    return None if elem is None else MapType(elem)


def _unify_tuples(types: list[TupleType]) -> Type | None:
    length = len(types[0].elems)
    if all(len(t.elems) == length for t in types[1:]):
        elems: list[Type] = []
        for i in range(length):
            unified = unify(t.elems[i] for t in types)
            if unified is None:
                break
            elems.append(unified)
        else:
            return TupleType(elems)
    elem = unify(_element_types(list(types)))
    return None if elem is None else ListType(elem)


# --------------------------------------------------------------------------- type-level check


def _can_convert(got: Type, want: Type) -> bool:
    """Whether some value of type ``got`` may convert to ``want`` (cty's unsafe mode)."""
    if want == ANY or got in (ANY, want):
        return True
    if isinstance(want, PrimitiveType):
        if not isinstance(got, PrimitiveType):
            return False
        return STRING in (got, want)
    if isinstance(want, (ListType, SetType)):
        if isinstance(got, TupleType):
            if want.elem == ANY:
                return unify(got.elems) is not None
            return all(_can_convert(e, want.elem) for e in got.elems)
        if isinstance(got, (ListType, SetType)):
            return want.elem == ANY or _can_convert(got.elem, want.elem)
        return False
    if isinstance(want, MapType):
        if isinstance(got, ObjectType):
            if want.elem == ANY:
                return unify(got.attrs.values()) is not None
            return all(_can_convert(a, want.elem) for a in got.attrs.values())
        if isinstance(got, MapType):
            return want.elem == ANY or _can_convert(got.elem, want.elem)
        return False
    if isinstance(want, ObjectType):
        if isinstance(got, ObjectType):
            for name, attr in want.attrs.items():
                if name not in got.attrs:
                    if name not in want.optional:
                        return False
                elif not _can_convert(got.attrs[name], attr):
                    return False
            return True
        if isinstance(got, MapType):
            return all(_can_convert(got.elem, a) for a in want.attrs.values())
        return False
    if isinstance(want, TupleType):
        if isinstance(got, TupleType):
            return len(got.elems) == len(want.elems) and all(
                _can_convert(g, w) for g, w in zip(got.elems, want.elems, strict=True)
            )
        if isinstance(got, (ListType, SetType)):
            return all(_can_convert(got.elem, w) for w in want.elems)
        return False
    return False


def mismatch_message(got: Type, want: Type) -> str:
    """cty's ``MismatchMessage``: why no value of ``got`` converts to ``want``."""
    if isinstance(got, ObjectType) and isinstance(want, ObjectType):
        return _mismatch_objects(got, want)
    if isinstance(got, TupleType) and isinstance(want, ListType) and want.elem == ANY:
        return "all list elements must have the same type"
    if isinstance(got, TupleType) and isinstance(want, SetType) and want.elem == ANY:
        return "all set elements must have the same type"
    if isinstance(got, ObjectType) and isinstance(want, MapType) and want.elem == ANY:
        return "all map elements must have the same type"
    if isinstance(got, (TupleType, ObjectType)) and isinstance(want, _CollectionType):
        return _mismatch_from_structural(got, want)
    if isinstance(got, _CollectionType) and isinstance(want, _CollectionType):
        return _mismatch_from_collection(got, want)
    return want.friendly_name(True) + " required"


def _mismatch_objects(got: ObjectType, want: ObjectType) -> str:
    missing = []
    for name, attr in want.attrs.items():
        if name not in got.attrs:
            if name not in want.optional:
                missing.append(name)
            continue
        if not _can_convert(got.attrs[name], attr):
            return f'attribute "{name}": {mismatch_message(got.attrs[name], attr)}'
    if not missing:
        return "incorrect object attributes"
    quoted = [go_quote(m) for m in sorted(missing)]
    if len(quoted) == 1:
        return f"attribute {quoted[0]} is required"
    if len(quoted) == 2:
        return f"attributes {quoted[0]} and {quoted[1]} are required"
    return f"attributes {', '.join(quoted[:-1])}, and {quoted[-1]} are required"


def _mismatch_from_structural(got: TupleType | ObjectType, want: _CollectionType) -> str:
    if isinstance(want, (ListType, SetType)) and not isinstance(got, TupleType):
        return want.friendly_name(True) + " required"
    if isinstance(want, MapType) and not isinstance(got, ObjectType):
        return want.friendly_name(True) + " required"
    if isinstance(got, TupleType):
        for i, elem in enumerate(got.elems):
            if not _can_convert(elem, want.elem):
                return f"element {i}: {mismatch_message(elem, want.elem)}"
    else:
        for name, attr in got.attrs.items():
            if not _can_convert(attr, want.elem):
                return f"element {go_quote(name)}: {mismatch_message(attr, want.elem)}"
    return f"all elements must be {want.elem.friendly_name(True)}"


def _mismatch_from_collection(got: _CollectionType, want: _CollectionType) -> str:
    if isinstance(want, (ListType, SetType)) and not isinstance(got, (ListType, SetType)):
        return want.friendly_name(True) + " required"
    if isinstance(want, MapType) and not isinstance(got, MapType):
        return want.friendly_name(True) + " required"
    return f"incorrect {want.kind} element type: {mismatch_message(got.elem, want.elem)}"


# --------------------------------------------------------------------------- value conversion


def convert(value: Any, want: Type) -> Any:
    """``value`` converted to type ``want`` as cty does, or :class:`ConversionError`.

    Null and unknown values convert to any type unchanged.
    """
    got = type_of(value)
    if not _can_convert(got, want):
        raise ConversionError(mismatch_message(got, want))
    return _convert(value, want, ())


def _convert(value: Any, want: Type, path: tuple[str | int, ...]) -> Any:
    if value is None or value is UNKNOWN or want == ANY:
        return value
    if want == STRING:
        if isinstance(value, (str, bool)) or is_number(value):
            return to_string(value)
        raise ConversionError("string required", path)
    if want == NUMBER:
        if is_number(value):
            return value
        if isinstance(value, str):
            number = parse_number(value)
            if number is None:
                raise ConversionError("a number is required", path)
            return number
        raise ConversionError("number required", path)
    if want == BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            flag = parse_bool(value)
            if flag is not None:
                return flag
            if value.lower() in ("true", "false"):
                raise ConversionError(
                    f'a bool is required; to convert from string, use lowercase "{value.lower()}"',
                    path,
                )
            raise ConversionError("a bool is required", path)
        raise ConversionError("bool required", path)
    if isinstance(want, (ListType, SetType)):
        if not isinstance(value, list):
            raise ConversionError(want.friendly_name(True) + " required", path)
        elem = want.elem
        if elem == ANY:
            elem = unify(type_of(v) for v in value) or ANY
        items = [_convert(v, elem, (*path, i)) for i, v in enumerate(value)]
        return HclSet(items) if isinstance(want, SetType) else items
    if isinstance(want, MapType):
        if not isinstance(value, dict):
            raise ConversionError(want.friendly_name(True) + " required", path)
        elem = want.elem
        if elem == ANY:
            elem = unify(type_of(v) for v in value.values()) or ANY
        return {k: _convert(value[k], elem, (*path, k)) for k in sorted(value)}
    if isinstance(want, ObjectType):
        if not isinstance(value, dict):
            raise ConversionError("object required", path)
        out: dict[str, Any] = {}
        for name, attr in want.attrs.items():
            item = value.get(name)
            if item is None and name in want.defaults:
                item = want.defaults[name]
            elif name not in value and name not in want.optional:
                raise ConversionError(f"attribute {go_quote(name)} is required", path)
            out[name] = _convert(item, attr, (*path, name))
        return out
    if isinstance(want, TupleType):
        if not isinstance(value, list) or len(value) != len(want.elems):
            raise ConversionError("tuple required", path)
        pairs = enumerate(zip(value, want.elems, strict=True))
        return [_convert(v, t, (*path, i)) for i, (v, t) in pairs]
    raise ConversionError(want.friendly_name(True) + " required", path)
