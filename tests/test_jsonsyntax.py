"""HCL's JSON syntax: the position-tracking reader, bodies read through a schema, and
expressions (strings are templates), plus whole ``*.pkr.json`` templates through the loader."""

from __future__ import annotations

import os
from typing import Any

import pytest

from kiln.hcl.body import BlockSpec, Schema
from kiln.hcl.diagnostics import DiagnosticError, Pos
from kiln.hcl.eval import EvalError, Scope, type_from_node
from kiln.hcl.jsonsyntax import (
    JsonExpression,
    duplicate_keys,
    parse_json,
    parse_json_body,
    parse_json_vars,
    raw_offset,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "pkrjson")
SCOPE = Scope(values={"var": {"name": "world", "items": ["a", "b"]}, "local": {"n": 2}})


def _error(text: str) -> DiagnosticError:
    with pytest.raises(DiagnosticError) as info:
        parse_json(text, "t.json")
    return info.value


# -- the reader ---------------------------------------------------------------


def test_reader_values_and_positions() -> None:
    doc = parse_json(
        '{\n  "a": [1, 2.5, -3e2, true, null],\n  "b": "x\\u00e9\\ud83d\\ude00"\n}', "f"
    )
    root = doc.root
    assert root.kind == "object"
    assert root.plain() == {"a": [1, 2.5, -300, True, None], "b": "xé😀"}
    a = root.props[0]
    assert (a.name, a.name_range.start, a.name_range.end) == ("a", Pos(2, 3), Pos(2, 6))
    assert a.value.range.start == Pos(2, 8)
    assert [v.range.start.column for v in a.value.items] == [9, 12, 17, 23, 29]
    b = root.get("b")
    assert b is not None and b.raw == "x\\u00e9\\ud83d\\ude00"


@pytest.mark.parametrize(
    ("text", "summary", "pos"),
    [
        ('{"a": 1,}', "Trailing comma in object", Pos(1, 9)),
        ("[1, 2,]", "Trailing comma in array", Pos(1, 7)),
        ('{"a" 1}', "Missing property value colon", Pos(1, 6)),
        ('{"a": "b}', "Unterminated string", Pos(1, 7)),
        ('{"a": "\\q"}', "Invalid escape sequence", Pos(1, 8)),
        ('{"a": "tab\there"}', "Invalid character in string", Pos(1, 11)),
        ("", "Empty JSON document", Pos(1, 1)),
        ("{} {}", "Extraneous data after value", Pos(1, 4)),
        ("{a: 1}", "Invalid JSON object property name", Pos(1, 2)),
        ('{"a": tru}', "Invalid JSON value", Pos(1, 7)),
        ('{"a": 01}', "Missing comma or closing brace", Pos(1, 8)),
        ('{"a": [1 2]}', "Missing comma or closing bracket", Pos(1, 10)),
        ('{\n  "a": 1.}', "Invalid number", Pos(2, 10)),
    ],
)
def test_reader_errors_carry_positions(text: str, summary: str, pos: Pos) -> None:
    diag = _error(text).diagnostics[0]
    assert diag.summary == summary
    assert diag.subject is not None
    assert diag.subject.filename == "t.json"
    assert diag.subject.start == pos


def test_duplicate_keys_anywhere() -> None:
    doc = parse_json('{"a": 1, "b": [{"c": 1, "c": 2}], "a": 3}', "f")
    found = [(name, r.start.column) for name, r in duplicate_keys(doc.root)]
    assert found == [("c", 25), ("a", 35)]


def test_raw_offset_walks_escapes() -> None:
    raw = 'a\\"b\\u00e9c'
    assert [raw_offset(raw, i) for i in range(5)] == [0, 1, 3, 4, 10]


# -- bodies -------------------------------------------------------------------

TOP = Schema(
    blocks={
        "source": BlockSpec(2, ("type", "name")),
        "variable": BlockSpec(1, ("name",)),
        "build": BlockSpec(),
        "locals": BlockSpec(),
    }
)


def test_blocks_with_labels_repeated_blocks_and_comments() -> None:
    body = parse_json_body(
        """{
  "//": "ignored",
  "source": {
    "null": {"a": {"x": 1}, "b": [{"x": 2}, {"x": 3}]},
    "file": [{"c": {"x": 4}}, {"d": {"x": 5}}]
  },
  "build": [{"name": "one"}, {"name": "two"}],
  "variable": {"v": {"default": 1}}
}""",
        "t.pkr.json",
    )
    content = body.content(TOP)
    assert content.diagnostics == []
    sources = [
        (b.labels, b.body.just_attributes()[0]["x"].expr.evaluate(Scope()))
        for b in content.blocks_of("source")
    ]
    assert sources == [
        (["null", "a"], 1),
        (["null", "b"], 2),
        (["null", "b"], 3),
        (["file", "c"], 4),
        (["file", "d"], 5),
    ]
    first = content.blocks_of("source")[0]
    assert [r.start for r in first.label_ranges] == [Pos(4, 5), Pos(4, 14)]
    assert first.range.start == Pos(4, 14)
    builds = content.blocks_of("build")
    assert [b.body.just_attributes()[0]["name"].expr.evaluate(Scope()) for b in builds] == [
        "one",
        "two",
    ]
    assert [b.type for b in content.blocks] == ["source"] * 5 + ["build", "build", "variable"]


def test_unknown_property_is_an_error_with_a_suggestion() -> None:
    body = parse_json_body('{"sorce": {}, "build": {}}', "t.pkr.json")
    content = body.content(TOP)
    assert len(content.diagnostics) == 1
    diag = content.diagnostics[0]
    assert diag.summary == "Extraneous JSON object property"
    assert 'Did you mean "source"?' in diag.detail
    assert diag.subject is not None and diag.subject.start == Pos(1, 2)


def test_block_value_must_be_an_object() -> None:
    content = parse_json_body('{"build": "x", "source": {"null": 3}}', "t").content(TOP)
    summaries = [d.summary for d in content.diagnostics]
    assert summaries == ["Incorrect JSON value type", "Incorrect JSON value type"]
    assert content.diagnostics[1].subject is not None
    assert content.diagnostics[1].subject.start == Pos(1, 35)


def test_attributes_schema_required_and_duplicates() -> None:
    schema = Schema(attributes=("a", "b"), required=("b",))
    content = parse_json_body('{"a": 1, "a": 2}', "t").content(schema)
    assert [d.summary for d in content.diagnostics] == [
        "Duplicate argument",
        "Missing required argument",
    ]
    attrs, diags = parse_json_body('{"x": 1, "x": 2, "//": 0}', "t").just_attributes()
    assert list(attrs) == ["x"]
    assert [d.summary for d in diags] == ["Duplicate argument"]


def test_open_schema_and_all_items_read_nested_objects_as_values() -> None:
    body = parse_json_body('{"tags": {"a": "b"}, "list": [{"x": 1}]}', "t")
    attrs, blocks = body.all_items()
    assert blocks == []
    assert {k: a.expr.evaluate(Scope()) for k, a in attrs.items()} == {
        "tags": {"a": "b"},
        "list": [{"x": 1}],
    }
    content = body.content(Schema(open_attributes=True))
    assert list(content.attributes) == ["tags", "list"]


def test_root_array_of_objects_is_merged() -> None:
    body = parse_json_body('[{"a": 1}, {"b": 2}]', "t")
    assert sorted(body.just_attributes()[0]) == ["a", "b"]
    with pytest.raises(DiagnosticError):
        parse_json_body("[1]", "t")


# -- expressions ----------------------------------------------------------------


def _expr(text: str) -> JsonExpression:
    doc = parse_json('{"v": ' + text + "}", "e.json")
    return JsonExpression(doc.root.props[0].value, "e.json", doc.text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"hello ${var.name}"', "hello world"),
        ('"${var.items}"', ["a", "b"]),
        ('"${local.n + 1}"', 3),
        ('"$${literal} and %%{ too }"', "${literal} and %{ too }"),
        ('"%{ for i in var.items }<${i}>%{ endfor }"', "<a><b>"),
        ('"say \\"${upper(var.name)}\\""', 'say "WORLD"'),
        ('{"${var.name}": "${local.n}", "k": [1, null]}', {"world": 2, "k": [1, None]}),
        ("12.50", 12.5),
        ("null", None),
    ],
)
def test_expressions_evaluate(text: str, value: object) -> None:
    assert _expr(text).evaluate(SCOPE) == value


def test_expression_errors_point_into_the_file_past_escapes() -> None:
    with pytest.raises(EvalError) as info:
        _expr('"a\\"b\\u0041 ${var.nope}"').evaluate(SCOPE)
    subject = info.value.diagnostic.subject
    assert subject is not None and subject.filename == "e.json"
    # {"v": "a\"b\u0041 ${var.nope}"}: "nope" starts at column 25
    assert subject.start == Pos(1, 25)


def test_references_static_traversal_and_elements() -> None:
    refs = _expr('["${var.name}", {"k": "${local.n} ${data.t.n.id}"}]').references()
    assert [r.names for r in refs] == [("var", "name"), ("local", "n"), ("data", "t", "n", "id")]
    assert refs[0].range.start == Pos(1, 11)
    assert _expr('"source.null.a"').static_traversal() == ("source", "null", "a")
    assert _expr('"${source.null.a}"').static_traversal() is None
    assert _expr('"not a traversal!"').static_traversal() is None
    elements = _expr('["source.null.a", "x"]').elements()
    assert elements is not None and [e.source_text() for e in elements] == [
        '"source.null.a"',
        '"x"',
    ]
    assert _expr('"x"').elements() is None


def test_type_expression_node() -> None:
    from kiln.hcl import types

    node = _expr('"map(list(string))"').type_expression_node()
    assert type_from_node(node) == types.MapType(types.ListType(types.STRING))
    with pytest.raises(EvalError) as info:
        _expr("3").type_expression_node()
    assert info.value.diagnostic.summary == "Invalid type specification"
    with pytest.raises(EvalError) as info:
        _expr('"list(string"').type_expression_node()
    assert info.value.diagnostic.subject is not None
    assert info.value.diagnostic.subject.start.line == 1


def test_parse_json_vars() -> None:
    values = parse_json_vars('{\n  "a": "x",\n  "b": [1, 2],\n  "//": "c"\n}', "v.json")
    assert {k: v for k, (v, _) in values.items()} == {"a": "x", "b": [1, 2]}
    assert values["b"][1].start == Pos(3, 8)
    with pytest.raises(DiagnosticError) as info:
        parse_json_vars('{"a": "${var.x}"}', "v.json")
    assert info.value.diagnostics[0].subject is not None


# -- whole templates through the loader ---------------------------------------


def test_complete_template_loads() -> None:
    from kiln.hcl.loader import load

    template, diags = load(os.path.join(FIXTURES, "complete"))
    assert not diags.has_errors, [d.summary for d in diags]
    assert template is not None
    assert template.variables["size"].value == 5
    assert template.variables["names"].value == ["gamma", "delta"]
    assert template.variables["greeting"].sensitive
    assert template.locals["label"].value == "gamma-delta-end"
    assert template.locals["tags"].value == {"team": "DELTA", "size": 5}
    assert sorted(template.sources) == [("file", "out"), ("null", "one"), ("null", "two")]
    main, other = template.builds
    assert main.name == "main"
    assert [s.ref for s in main.sources] == ["null.one", "null.two"]
    assert [p.only for p in main.provisioners] == [["null.one"], []]
    assert main.provisioners[1].pause_before == 1.0
    assert main.provisioners[1].max_retries == 2
    assert [[pp.type for pp in chain] for chain in main.post_processors] == [
        ["manifest"],
        ["manifest", "manifest"],
    ]
    assert [s.ref for s in other.sources] == ["file.out"]


def test_complete_template_evaluates_in_a_build_scope() -> None:
    from kiln.hcl.loader import build_scope, evaluate_body, load

    template, _ = load(os.path.join(FIXTURES, "complete"))
    assert template is not None
    scope = build_scope(template, "file", "out")
    config, diags = evaluate_body(template.sources[("file", "out")].body, scope)
    assert diags == []
    assert config == {"content": "gamma ${literal}", "target": "out.txt"}


@pytest.mark.parametrize(
    ("name", "summary", "line", "column"),
    [
        ("unknown_key.pkr.json", "Extraneous JSON object property", 5, 5),
        ("invalid.pkr.json", "Trailing comma in object", 3, 43),
    ],
)
def test_template_errors_have_positions(name: str, summary: str, line: int, column: int) -> None:
    from kiln.hcl.loader import load

    path = os.path.join(FIXTURES, "errors", name)
    _, diags = load(path)
    errors = diags.errors
    assert errors and errors[0].summary == summary
    subject = errors[0].subject
    assert subject is not None
    assert (subject.filename, subject.start) == (path, Pos(line, column))


def test_bad_reference_is_reported_where_it_is_written() -> None:
    from kiln.engine.prepare import prepare_builds
    from kiln.hcl.loader import load
    from kiln.plugins.manager import make_manager

    path = os.path.join(FIXTURES, "errors", "bad_reference.pkr.json")
    template, diags = load(path)
    assert template is not None and not diags.has_errors
    found = prepare_builds(template, make_manager())[1]
    assert [d.summary for d in found] == ["Unsupported attribute"]
    assert found[0].subject is not None
    assert found[0].subject.start == Pos(4, 71)


def test_dynamic_blocks_in_component_configuration(tmp_path: Any) -> None:
    from kiln.hcl.loader import build_scope, evaluate_body, load

    path = tmp_path / "dynamic.pkr.json"
    path.write_text(
        """{
  "variable": {"tags": {"default": {"a": "1", "b": "2"}}},
  "source": {"null": {"a": {
    "communicator": "none",
    "dynamic": {"tag": {
      "for_each": "${var.tags}",
      "iterator": "t",
      "content": {"key": "${t.key}", "value": "${t.value}"}
    }}
  }}},
  "build": {"sources": ["source.null.a"]}
}"""
    )
    template, diags = load(str(path))
    assert template is not None and not diags.has_errors
    config, errors = evaluate_body(
        template.sources[("null", "a")].body, build_scope(template, "null", "a")
    )
    assert errors == []
    assert config == {
        "communicator": "none",
        "tag": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
    }
