"""The expression language: each construct evaluates as HCL2 defines it."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.hcl.diagnostics import DiagnosticError
from kiln.hcl.eval import EvalError, NativeExpression, Scope
from kiln.hcl.syntax import Source, parse_expression
from kiln.hcl.values import UNKNOWN, HclSet

SCOPE = Scope(
    values={
        "var": {"list": ["a", "b"], "map": {"k": "v", "j": "w"}, "n": 3, "s": "x"},
        "local": {"objs": [{"id": 1, "tags": ["t1"]}, {"id": 2, "tags": []}], "none": None},
        "build": {"ID": UNKNOWN, "name": "b"},
    }
)


def ev(text: str, scope: Scope = SCOPE) -> Any:
    return NativeExpression(parse_expression(text, Source("<t>", text))).evaluate(scope)


def err(text: str, scope: Scope = SCOPE) -> EvalError:
    with pytest.raises(EvalError) as info:
        ev(text, scope)
    return info.value


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("1.5", 1.5),
        ("1e3", 1000),
        ("true", True),
        ("false", False),
        ("null", None),
        ('"plain"', "plain"),
        ("[]", []),
        ("{}", {}),
        ('[1, "a", true, null]', [1, "a", True, None]),
        ('{a = 1, "b" = 2}', {"a": 1, "b": 2}),
        ('{a: 1, b: "x"}', {"a": 1, "b": "x"}),
        ("{(var.s) = 1}", {"x": 1}),
    ],
)
def test_literals(expr: str, value: Any) -> None:
    assert ev(expr) == value


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 / 2", 5),
        ("1 / 4", 0.25),
        ("7 % 3", 1),
        ("-5 % 3", -2),
        ("5.5 % 2", 1.5),
        ("2 - 5", -3),
        ('"1" + 1', 2),
        ('"1e3" + 0', 1000),
        ("3 > 2", True),
        ("3 <= 2", False),
        ('1 == "1"', False),
        ('"a" == "a"', True),
        ("[1, 2] == [1, 2]", True),
        ("{a = 1} != {a = 2}", True),
        ("true && false", False),
        ("true || false", True),
        ("!true", False),
        ("-var.n", -3),
        ('var.n > 2 ? "big" : "small"', "big"),
        ('var.n > 5 ? "big" : "small"', "small"),
        ('"1" ? "y" : "n"', "y"),  # strings convert to bools as cty converts them
        ('true && "0"', False),
        ('!"1"', False),
    ],
)
def test_operators(expr: str, value: Any) -> None:
    assert ev(expr) == value


def test_division_by_zero_is_an_error_not_a_crash() -> None:
    assert "divide by zero" in err("1 / 0").diagnostic.detail


def test_arithmetic_on_a_non_number_says_a_number_is_required() -> None:
    assert "number is required" in err('"abc" * 2').diagnostic.detail


def test_a_condition_that_is_not_a_bool_string_is_an_error() -> None:
    assert "bool is required" in err('"True" ? 1 : 2').diagnostic.detail


@pytest.mark.parametrize("text", ['" 5"', '"1_000"', '"0x10"', '"nan"'])
def test_strings_convert_to_numbers_only_in_ctys_decimal_notation(text: str) -> None:
    assert "number is required" in err(f"{text} + 1").diagnostic.detail


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ('"a-${var.n}-b"', "a-3-b"),
        ('"${var.list}"', ["a", "b"]),  # a lone interpolation keeps its type
        ('"${true}"', True),
        ('"x${true}"', "xtrue"),
        ('"x${1.5}"', "x1.5"),
        ('"x${12345678.5}"', "x12345678.5"),  # numbers convert to plain decimal, as cty does
        ('"x${1e21}"', "x1000000000000000000000"),
        ('"x${0.00001}"', "x0.00001"),
        ('"e\u0301"', "\u00e9"),  # string literals are normalised to NFC
        ('"$${not.interpolated}"', "${not.interpolated}"),
        ('"%%{not a directive}"', "%{not a directive}"),
        ('"tab\\there\\nquote\\"back\\\\"', 'tab\there\nquote"back\\'),
        ('"\\u00e9\\U0001F600"', "é😀"),
        ('"%{ if var.n == 3 }three%{ else }other%{ endif }"', "three"),
        ('"%{ if false }yes%{ endif }"', ""),
        ('"%{ for x in var.list }[${x}]%{ endfor }"', "[a][b]"),
        ('"%{ for i, x in var.list }${i}=${x};%{ endfor }"', "0=a;1=b;"),
        ('"%{ for k, v in var.map }${k}${v}%{ endfor }"', "jwkv"),
        ('"a ${~ "b" ~} c"', "abc"),
        ('"%{ for x in var.list ~} ${x} %{~ endfor }"', "ab"),
        ('"x  %{~ if true ~}  y  %{~ endif ~}  z"', "xyz"),
    ],
)
def test_templates(expr: str, value: Any) -> None:
    assert ev(expr) == value


def test_heredoc_keeps_text_and_interpolates() -> None:
    assert ev("<<EOT\nhello ${var.s}\n  indented\nEOT\n") == "hello x\n  indented\n"


def test_flush_heredoc_removes_common_indentation() -> None:
    text = "<<-EOT\n    hello ${var.n}\n      more\n    EOT\n"
    assert ev(text) == "hello 3\n  more\n"


def test_heredoc_with_directives_and_strip_markers() -> None:
    text = "<<EOT\n%{ for x in var.list ~}\n- ${x}\n%{ endfor ~}\nEOT\n"
    assert ev(text) == "- a\n- b\n"


def test_interpolating_a_list_into_a_string_is_an_error() -> None:
    assert "string required" in err('"x ${var.list}"').diagnostic.detail


def test_interpolating_null_is_an_error() -> None:
    assert "null" in err('"x ${local.none}"').diagnostic.detail


def test_unterminated_template_directive_is_an_error() -> None:
    assert "Unterminated" in err('"%{ if true }x"').diagnostic.summary


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("var.list[1]", "b"),
        ('var.list["0"]', "a"),
        ('var.list["1.0"]', "b"),  # the key converts to a number as cty converts it
        ("var.list.0", "a"),
        ('var.map["k"]', "v"),
        ("var.map.j", "w"),
        ("local.objs[0].tags[0]", "t1"),
        ("local.objs[*].id", [1, 2]),
        ("local.objs.*.id", [1, 2]),
        ("local.objs[0].id", 1),
        ("var.s[*]", ["x"]),
        ("local.none[*]", []),
    ],
)
def test_traversals(expr: str, value: Any) -> None:
    assert ev(expr) == value


@pytest.mark.parametrize(
    ("expr", "summary", "detail_part"),
    [
        ("var.nope", "Unsupported attribute", 'named "nope"'),
        ("nope", "Unknown variable", 'named "nope"'),
        ("var.list.x", "Unsupported attribute", "list of objects"),
        ("var.list[5]", "Invalid index", "greater than or equal to the length"),
        ("var.list[-1]", "Invalid index", "negative"),
        ('var.map["zz"]', "Invalid index", "does not identify"),
        ("var.n.x", "Unsupported attribute", "primitive"),
        ("local.none.x", "Attempt to get attribute from null value", "null"),
    ],
)
def test_traversal_errors(expr: str, summary: str, detail_part: str) -> None:
    diag = err(expr).diagnostic
    assert diag.summary == summary
    assert detail_part in diag.detail


def test_error_points_at_the_failing_part() -> None:
    diag = err("var.nope").diagnostic
    assert diag.subject is not None
    assert (diag.subject.start.line, diag.subject.start.column) == (1, 5)


def test_did_you_mean_for_a_misspelt_attribute() -> None:
    assert 'Did you mean "list"' in err("var.lst").diagnostic.detail


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("[for s in var.list : upper(s)]", ["A", "B"]),
        ('[for i, s in var.list : "${i}${s}"]', ["0a", "1b"]),
        ('[for s in var.list : s if s != "a"]', ["b"]),
        ("{for k, v in var.map : v => k}", {"v": "k", "w": "j"}),
        ('{for s in ["a", "a", "b"] : s => s...}', {"a": ["a", "a"], "b": ["b"]}),
        ("[for o in local.objs : o.id]", [1, 2]),
        ("[for x in [] : x]", []),
    ],
)
def test_for_expressions(expr: str, value: Any) -> None:
    assert ev(expr) == value


def test_for_object_duplicate_keys_without_grouping_is_an_error() -> None:
    assert "Duplicate object key" in err('{for s in ["a", "a"] : s => s}').diagnostic.summary


def test_for_iterator_shadows_outer_names_only_inside() -> None:
    assert ev("[for var in [1, 2] : var]") == [1, 2]


@pytest.mark.parametrize(
    "expr",
    [
        "build.ID",
        '"id-${build.ID}"',
        "build.ID == 1",
        "build.ID + 1",
        "[for x in build.ID : x]",
        "build.ID ? 1 : 2",
        "!build.ID",
    ],
)
def test_unknown_values_propagate(expr: str) -> None:
    assert ev(expr) is UNKNOWN


def test_unknown_inside_a_collection_is_kept() -> None:
    assert ev("[build.ID, 1]") == [UNKNOWN, 1]


def test_try_returns_the_first_success() -> None:
    assert ev('try(var.nope, var.list[9], "fallback")') == "fallback"
    assert ev("try(var.n, 0)") == 3


def test_can_reports_whether_an_expression_evaluates() -> None:
    assert ev("can(var.nope)") is False
    assert ev("can(var.n)") is True


def test_try_with_no_success_is_an_error() -> None:
    assert "no expression succeeded" in err("try(var.nope)").diagnostic.detail


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("convert(1, string)", "1"),
        ('convert("5", number)', 5),
        ('convert(["a", "b", "a"], set(string))', HclSet(["a", "b"])),
        ("convert({a = 1}, map(string))", {"a": "1"}),
        ('convert({a = "x"}, object({a = string, b = optional(number, 7)}))', {"a": "x", "b": 7}),
    ],
)
def test_convert_takes_a_type_expression(expr: str, value: Any) -> None:
    assert ev(expr) == value


def test_convert_failure_is_an_error() -> None:
    assert err('convert("abc", number)').diagnostic.summary == "Invalid function argument"


def test_function_argument_expansion() -> None:
    assert ev("max([3, 9, 4]...)") == 9


def test_unknown_function_suggests_a_close_name() -> None:
    diag = err('uper("a")').diagnostic
    assert diag.summary == "Call to unknown function"
    assert 'Did you mean "upper"' in diag.detail


def test_env_is_only_allowed_in_variable_defaults() -> None:
    assert "default value" in err('env("HOME")').diagnostic.detail
    assert isinstance(ev('env("HOME")', Scope(allow_env=True)), str)


@pytest.mark.parametrize(
    "text",
    ["1 +", "[1, 2", '"unterminated', "{a = }", "a b", "${x}", "1 ? 2"],
)
def test_syntax_errors_are_diagnostics_with_a_position(text: str) -> None:
    with pytest.raises(DiagnosticError) as info:
        ev(text)
    subject = info.value.diagnostics[0].subject
    assert subject is not None and subject.start.line >= 1 and subject.start.column >= 1


def test_deeply_nested_expression_does_not_crash() -> None:
    text = "[" * 400 + "]" * 400
    assert "nested" in err(text).diagnostic.summary
