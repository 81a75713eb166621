"""Type constraints and conversion (kiln.hcl.types), following cty.

Conversion results and messages are also checked against Packer 1.6.6's ``convert()``
in the "types" family of tests/fixtures/functions/packer-1.6.6.json.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from kiln.hcl import types
from kiln.hcl.types import (
    ANY,
    BOOL,
    NUMBER,
    STRING,
    ConversionError,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    convert,
    type_of,
    unify,
)
from kiln.hcl.values import UNKNOWN, HclSet


@pytest.mark.parametrize(
    ("type_", "text"),
    [
        (STRING, "string"),
        (NUMBER, "number"),
        (BOOL, "bool"),
        (ANY, "any"),
        (ListType(STRING), "list(string)"),
        (SetType(NUMBER), "set(number)"),
        (MapType(ListType(ANY)), "map(list(any))"),
        (ObjectType({"b": NUMBER, "a": STRING}), "object({a=string,b=number})"),
        (TupleType([STRING, BOOL]), "tuple([string,bool])"),
        (
            ObjectType({"a": STRING, "b": NUMBER}, optional={"a", "b"}, defaults={"b": 3}),
            "object({a=optional(string),b=optional(number, 3)})",
        ),
    ],
)
def test_type_strings(type_: types.Type, text: str) -> None:
    assert str(type_) == text


def test_types_compare_by_value() -> None:
    assert ListType(STRING) == ListType(STRING)
    assert ListType(STRING) != SetType(STRING)
    assert ObjectType({"a": STRING}) == ObjectType({"a": STRING})
    assert ObjectType({"a": STRING}) != ObjectType({"a": STRING}, optional={"a"})
    assert len({ListType(STRING), ListType(STRING), MapType(STRING)}) == 2


def test_optional_must_name_attributes() -> None:
    with pytest.raises(ValueError):
        ObjectType({"a": STRING}, optional={"b"})


@pytest.mark.parametrize(
    ("type_", "name"),
    [
        (ANY, "any type"),
        (ListType(ANY), "list of any single type"),
        (SetType(STRING), "set of string"),
        (MapType(ListType(NUMBER)), "map of list of number"),
        (ObjectType({}), "object"),
        (TupleType([]), "tuple"),
    ],
)
def test_friendly_names(type_: types.Type, name: str) -> None:
    assert types.friendly_name(type_) == name


def test_friendly_name_of_a_value_type() -> None:
    assert types.friendly_name(ANY, constraint=False) == "dynamic"


@pytest.mark.parametrize(
    ("value", "type_"),
    [
        (None, ANY),
        (UNKNOWN, ANY),
        (True, BOOL),
        (1, NUMBER),
        (1.5, NUMBER),
        ("x", STRING),
        ([1, "a"], TupleType([NUMBER, STRING])),
        ({"a": [True]}, ObjectType({"a": TupleType([BOOL])})),
        (HclSet(["a", "b"]), SetType(STRING)),
        (HclSet(), SetType(ANY)),
    ],
)
def test_type_of(value: Any, type_: types.Type) -> None:
    assert type_of(value) == type_


@pytest.mark.parametrize(
    ("inputs", "result"),
    [
        ([], ANY),
        ([STRING, STRING], STRING),
        ([NUMBER, STRING], STRING),
        ([BOOL, STRING], STRING),
        ([NUMBER, BOOL], None),
        ([ANY, NUMBER], NUMBER),
        ([TupleType([NUMBER]), TupleType([STRING])], TupleType([STRING])),
        ([TupleType([NUMBER]), TupleType([NUMBER, NUMBER])], ListType(NUMBER)),
        ([ObjectType({"a": NUMBER}), ObjectType({"a": STRING})], ObjectType({"a": STRING})),
        ([ObjectType({"a": NUMBER}), ObjectType({"b": STRING})], MapType(STRING)),
        ([ObjectType({"a": NUMBER}), TupleType([])], None),
        ([ListType(NUMBER), ListType(STRING)], ListType(STRING)),
        ([MapType(NUMBER), ObjectType({"a": STRING})], MapType(STRING)),
    ],
)
def test_unify(inputs: list[types.Type], result: types.Type | None) -> None:
    assert unify(inputs) == result


@pytest.mark.parametrize(
    ("value", "type_", "result"),
    [
        (1, STRING, "1"),
        (1.5, STRING, "1.5"),
        (10**21, STRING, "1000000000000000000000"),
        (1e-05, STRING, "0.00001"),
        (True, STRING, "true"),
        ("12", NUMBER, 12),
        ("1.50", NUMBER, 1.5),
        ("1e3", NUMBER, 1000),
        ("true", BOOL, True),
        ("0", BOOL, False),
        (None, STRING, None),
        (UNKNOWN, NUMBER, UNKNOWN),
        ([1, "a"], ListType(ANY), ["1", "a"]),
        ([1, "a"], ListType(STRING), ["1", "a"]),
        (["b", "a", "b"], SetType(STRING), HclSet(["a", "b"])),
        ({"b": 1, "a": "x"}, MapType(ANY), {"a": "x", "b": "1"}),
        ({"a": 1, "z": 2}, ObjectType({"a": STRING}), {"a": "1"}),
        ([1, "2"], TupleType([STRING, NUMBER]), ["1", 2]),
        ([{"a": 1}, {"b": 2}], ListType(ANY), [{"a": 1}, {"b": 2}]),
        ([1, "a"], ANY, [1, "a"]),
        ([None, "a"], ListType(ANY), [None, "a"]),
    ],
)
def test_convert(value: Any, type_: types.Type, result: Any) -> None:
    converted = convert(value, type_)
    assert converted == result
    assert type(converted) is type(result)


def test_convert_infinity() -> None:
    assert convert("-Inf", NUMBER) == -math.inf
    assert convert(math.inf, STRING) == "+Inf"


def test_optional_attributes_and_defaults() -> None:
    target = ObjectType(
        {"name": STRING, "size": NUMBER, "tags": ListType(STRING)},
        optional={"size", "tags"},
        defaults={"size": 10},
    )
    assert convert({"name": "a"}, target) == {"name": "a", "size": 10, "tags": None}
    assert convert({"name": "a", "size": None}, target)["size"] == 10
    assert convert({"name": "a", "size": "3", "tags": [1]}, target) == {
        "name": "a",
        "size": 3,
        "tags": ["1"],
    }
    with pytest.raises(ConversionError, match='attribute "name" is required'):
        convert({}, target)


@pytest.mark.parametrize(
    ("value", "type_", "message"),
    [
        ("x", NUMBER, "a number is required"),
        ([1], NUMBER, "number required"),
        ("yes", BOOL, "a bool is required"),
        ("True", BOOL, 'a bool is required; to convert from string, use lowercase "true"'),
        (1, BOOL, "bool required"),
        ([1], STRING, "string required"),
        ([1, True], ListType(ANY), "all list elements must have the same type"),
        ([1, []], SetType(ANY), "all set elements must have the same type"),
        ({"a": 1, "b": []}, MapType(ANY), "all map elements must have the same type"),
        (["a", []], ListType(STRING), "element 1: string required"),
        ({"a": []}, MapType(STRING), 'element "a": string required'),
        ("a", ListType(STRING), "list of string required"),
        ({}, ObjectType({"a": STRING}), 'attribute "a" is required'),
        ({}, ObjectType({"a": STRING, "b": STRING}), 'attributes "a" and "b" are required'),
        (
            {},
            ObjectType({"a": STRING, "b": STRING, "c": STRING}),
            'attributes "a", "b", and "c" are required',
        ),
        ({"a": []}, ObjectType({"a": STRING}), 'attribute "a": string required'),
        (1, ObjectType({"a": STRING}), "object required"),
        ([1, 2], TupleType([STRING]), "tuple required"),
        ([[1], [True, []]], ListType(ListType(STRING)), "element 1: element 1: string required"),
    ],
)
def test_conversion_errors(value: Any, type_: types.Type, message: str) -> None:
    with pytest.raises(ConversionError) as info:
        convert(value, type_)
    assert info.value.message == message
    assert str(info.value) == message
