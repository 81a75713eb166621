"""Template functions: the registry API, unknown values, and the functions Packer 1.6.6
does not have (their expected values come from the Packer and Terraform documentation).

Functions 1.6.6 has are checked against its output in test_functions_packer.py.
"""

from __future__ import annotations

import base64
import gzip
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kiln.hcl.diagnostics import Diagnostic
from kiln.hcl.eval import EvalError, NativeExpression, Scope
from kiln.hcl.functions import FUNCTIONS, Function, FunctionContext, FunctionError
from kiln.hcl.syntax import Source, parse_expression
from kiln.hcl.values import UNKNOWN, HclSet, format_console

FIXTURES = Path(__file__).parent / "fixtures" / "functions"


def render(text: str, filename: str, variables: dict[str, Any]) -> str:
    """A stand-in for the evaluator's template rendering: ``${name}`` only."""
    return re.sub(r"\$\{(\w+)\}", lambda m: str(variables[m.group(1)]), text)


CTX = FunctionContext(base_dir=str(FIXTURES), render_template=render)


def call(name: str, *args: Any) -> Any:
    return FUNCTIONS[name].call(list(args), CTX)


def ev(expr: str) -> Any:
    """Evaluate with kiln's evaluator; relative paths resolve against the fixtures."""
    node = parse_expression(expr, Source("<t>", expr))
    return NativeExpression(node).evaluate(Scope(base_dir=str(FIXTURES)))


def errors_of(expr: str) -> list[Diagnostic]:
    with pytest.raises(EvalError) as info:
        ev(expr)
    return info.value.diagnostics


def error_of(expr: str) -> Diagnostic:
    return errors_of(expr)[0]


def column(diag: Diagnostic) -> int:
    assert diag.subject is not None
    return diag.subject.start.column


# --------------------------------------------------------------------------- registry


PACKER_FUNCTIONS = """
abs ceil floor log max min parseint pow signum sum
chomp endswith format formatlist indent join lower regex regexall regex_replace replace
split startswith strcontains strrev substr title trim trimprefix trimspace trimsuffix upper
alltrue anytrue chunklist coalesce coalescelist compact concat contains distinct element
flatten index keys length lookup merge range reverse setintersection setproduct setunion
slice sort values zipmap
base64decode base64encode base64gzip csvdecode jsondecode jsonencode textdecodebase64
textencodebase64 urlencode yamldecode yamlencode
abspath basename dirname file filebase64 fileexists fileset pathexpand templatefile
formatdate legacy_isotime legacy_strftime rfc3339_parse timeadd timestamp unix_timestamp_parse
bcrypt md5 rsadecrypt sha1 sha256 sha512
uuidv4 uuidv5
cidrhost cidrnetmask cidrsubnet cidrsubnets
aws_secretsmanager aws_secretsmanager_raw consul_key vault
env
""".split()  # noqa: SIM905


def test_registry_has_every_packer_function() -> None:
    assert sorted(FUNCTIONS) == sorted(PACKER_FUNCTIONS)
    for name in ("try", "can", "convert"):
        assert name not in FUNCTIONS  # the evaluator implements these


def test_function_shape() -> None:
    upper = FUNCTIONS["upper"]
    assert isinstance(upper, Function)
    assert (upper.name, upper.variadic, upper.min_args, upper.max_args) == ("upper", False, 1, 1)
    join = FUNCTIONS["join"]
    assert (join.variadic, join.min_args, join.max_args) == (True, 1, None)
    assert FUNCTIONS["timestamp"].max_args == 0
    assert all(fn.description for fn in FUNCTIONS.values())


def test_env_is_only_for_variable_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert FUNCTIONS["env"].only_in_variable_defaults
    assert not any(f.only_in_variable_defaults for n, f in FUNCTIONS.items() if n != "env")
    monkeypatch.setenv("KILN_TEST_ENV", "value")
    monkeypatch.delenv("KILN_TEST_UNSET", raising=False)
    assert call("env", "KILN_TEST_ENV") == "value"
    assert call("env", "KILN_TEST_UNSET") == ""


# --------------------------------------------------------------------------- errors


def test_argument_error() -> None:
    with pytest.raises(FunctionError) as info:
        call("upper", ["a"])
    assert str(info.value) == 'Invalid value for "str" parameter: string required.'
    assert info.value.arg_index == 0
    err = error_of('upper(["a"])')
    assert err.summary == "Invalid function argument"
    assert err.detail == 'Invalid value for "str" parameter: string required.'
    assert column(err) == 7  # the argument, not the call


def test_call_error() -> None:
    with pytest.raises(FunctionError) as info:
        call("max")
    assert info.value.arg_index is None
    assert str(info.value) == "must pass at least one number."
    err = error_of("max()")
    assert column(err) == 1
    assert err.summary == "Error in function call"
    assert err.detail == 'Call to function "max" failed: must pass at least one number.'


def test_arity_errors() -> None:
    err = error_of("upper()")
    assert err.summary == "Not enough function arguments"
    assert err.detail == 'Function "upper" expects 1 argument(s). Missing value for "str".'
    err = error_of('upper("a", "b")')
    assert err.summary == "Too many function arguments"
    assert err.detail == 'Function "upper" expects only 1 argument(s).'
    err = error_of("join()")
    assert err.detail == (
        'Function "join" expects at least 1 argument(s). Missing value for "separator".'
    )


def test_every_bad_argument_is_reported() -> None:
    errs = errors_of("substr([], [], [])")
    assert [column(e) for e in errs] == [8, 12, 16]
    assert errs[2].detail == 'Invalid value for "length" parameter: number required.'


def test_null_arguments() -> None:
    assert error_of("upper(null)").detail == (
        'Invalid value for "str" parameter: argument must not be null.'
    )
    assert ev('coalesce(null, "x")') == "x"


def test_parameters_are_converted() -> None:
    assert ev("upper(1)") == "1"
    assert ev('abs("-3")') == 3
    assert ev("join(1, [2, true])") == "21true"


# --------------------------------------------------------------------------- unknown values


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("upper", [UNKNOWN], UNKNOWN),
        ("join", [",", ["a", UNKNOWN]], UNKNOWN),
        ("format", ["%s-%s", "a", UNKNOWN], UNKNOWN),
        ("jsonencode", [{"a": UNKNOWN}], UNKNOWN),
        ("length", [[UNKNOWN, 1]], 2),
        ("length", [UNKNOWN], UNKNOWN),
        ("concat", [[1], [UNKNOWN]], [1, UNKNOWN]),
        ("coalesce", [UNKNOWN, "a"], UNKNOWN),
        ("coalesce", [None, "a", UNKNOWN], "a"),
        ("formatlist", ["%s", ["a", UNKNOWN]], ["a", UNKNOWN]),
        ("sum", [[1, UNKNOWN]], UNKNOWN),
        ("yamlencode", [[UNKNOWN]], UNKNOWN),
    ],
)
def test_unknown_values(name: str, args: list[Any], expected: Any) -> None:
    result = call(name, *args)
    if expected is UNKNOWN:
        assert result is UNKNOWN
    else:
        assert result == expected


def test_results_are_nfc() -> None:
    decomposed = base64.b64encode("e\u0301".encode()).decode()
    assert call("base64decode", decomposed) == "\u00e9"


# --------------------------------------------------------------------------- console notation


def test_console_notation() -> None:
    assert format_console(UNKNOWN) == "<unknown>"
    assert format_console([UNKNOWN, None]) == "[\n  <unknown>,\n  null,\n]"
    assert format_console(HclSet(["b", "a"])) == '[\n  "a",\n  "b",\n]'
    assert format_console({"a": None}) == "{}"
    assert format_console("raw\n") == "raw\n"
    assert format_console(["\U0001f600\x00"]) == '[\n  "\U0001f600\\x00",\n]'


# --------------------------------------------------------------------------- newer functions


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("alltrue([true, true])", True),
        ('alltrue(["true", true])', True),
        ("alltrue([true, false])", False),
        ("alltrue([])", True),
        ("anytrue([false, true])", True),
        ('anytrue(["false", false])', False),
        ("anytrue([])", False),
        ("sum([10, 13, 6, 4.5])", 33.5),
        ('sum(["1", 2])', 3),
        ("sum([-1, 1])", 0),
        ('endswith("hello world", "world")', True),
        ('endswith("hello world", "hello")', False),
        ('startswith("hello world", "hello")', True),
        ('startswith("hello world", "world")', False),
        ('strcontains("hello world", "wor")', True),
        ('strcontains("hello world", "wod")', False),
        ('regex("[a-z]+", "53453453.345345aaabbbccc23454")', "aaabbbccc"),
        (r'regex("(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)", "2019-02-01")', ["2019", "02", "01"]),
        (
            'regex("^(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?", '
            '"https://terraform.io/docs/")',
            {"authority": "terraform.io", "scheme": "https"},
        ),
        ('regex("a(b)?(c)", "ac")', [None, "c"]),
        ('regexall("[a-z]+", "1234abcd5678efgh9")', ["abcd", "efgh"]),
        ('regexall("x", "abc")', []),
        (r'regexall("(\\d)(\\w)", "1a2b")', [["1", "a"], ["2", "b"]]),
        ('textencodebase64("Hello World", "UTF-16LE")', "SABlAGwAbABvACAAVwBvAHIAbABkAA=="),
        ('textencodebase64("abc", "UTF-8")', "YWJj"),
        ('textencodebase64("é", "ISO-8859-1")', "6Q=="),
        ('textdecodebase64("SABlAGwAbABvACAAVwBvAHIAbABkAA==", "UTF-16LE")', "Hello World"),
        ('textdecodebase64("6Q==", "windows-1252")', "é"),
        ('filebase64("data/hello.txt")', "SGVsbG8sIFdvcmxkIQo="),
        ('index(["a", "b", "c"], "b")', 1),
        ("index([1, 2, 1], 1)", 0),
    ],
)
def test_newer_functions(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize(
    ("text", "count"),  # the counts packer console 1.6.6 prints
    [
        (r"a\u200db", 2),  # a zero-width joiner joins emoji, not letters
        (r"\U0001F468\u200d\U0001F469", 1),
        (r"\u1100\u1161", 1),  # Hangul jamo that make one syllable
        (r"\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", 1),
        (r"\n\u0301", 2),  # a mark does not join a newline
        (r"\u0600a", 1),  # a prepended mark joins what follows it
        (r"a\u200c", 1),
        (r"\u0e01\u0e33", 1),
        (r"\U0001F1FA\U0001F1F8\U0001F1EB", 2),  # regional indicators pair up
        (r"a\U0001F3FB\ufe0f", 1),
        (r"\r\n", 1),
    ],
)
def test_length_counts_grapheme_clusters_as_packer_does(text: str, count: int) -> None:
    assert ev(f'length("{text}")') == count


@pytest.mark.parametrize(
    ("expr", "detail"),
    [
        ("sum([])", 'Invalid value for "list" parameter: cannot sum an empty list.'),
        ('sum("a")', 'Invalid value for "list" parameter: cannot sum noniterable.'),
        (
            'sum([1, "x"])',
            'Invalid value for "list" parameter: argument must be list, set, or tuple of '
            "number values.",
        ),
        (
            'regex("x", "abc")',
            'Call to function "regex" failed: pattern did not match any part of the given string.',
        ),
        (
            'regex("a(b)(?P<x>c)", "abc")',
            'Invalid value for "pattern" parameter: invalid regexp pattern: cannot mix both '
            "named and unnamed capture groups.",
        ),
        (
            'regex("(?=a)", "a")',
            'Invalid value for "pattern" parameter: invalid regexp pattern: invalid or '
            "unsupported Perl syntax in (?=.",
        ),
        (
            'textencodebase64("x", "NOT-EXISTS")',
            'Invalid value for "encoding" parameter: "NOT-EXISTS" is not a supported IANA '
            "encoding name or alias.",
        ),
        (
            'textencodebase64("🤔", "cp437")',
            'Invalid value for "string" parameter: the given string contains characters that '
            "cannot be represented in IBM437.",
        ),
        (
            'textdecodebase64("a", "UTF-8")',
            'Invalid value for "source" parameter: the given value is has an invalid base64 '
            "symbol at offset 0.",
        ),
        ('index([], "b")', 'Call to function "index" failed: cannot search an empty list.'),
        ('index(["a"], "z")', 'Call to function "index" failed: item not found.'),
        ('index({a=1}, "a")', 'Call to function "index" failed: argument must be a list or tuple.'),
        (
            'templatefile("data/greeting.tmpl", [1])',
            'Invalid value for "vars" parameter: invalid vars value: must be a map.',
        ),
        (
            'templatefile("data/greeting.tmpl", {"a b"=1})',
            'Invalid value for "vars" parameter: invalid template variable name "a b": must '
            "start with a letter, followed by zero or more letters, digits, and underscores.",
        ),
        (
            'templatefile("data/missing.tmpl", {})',
            f'Call to function "templatefile" failed: no file exists at {FIXTURES}/data/'
            "missing.tmpl.",
        ),
        (
            'filebase64("data/nope")',
            'Call to function "filebase64" failed: failed to read file "data/nope": open '
            f"{FIXTURES}/data/nope: no such file or directory.",
        ),
    ],
)
def test_newer_function_errors(expr: str, detail: str) -> None:
    assert error_of(expr).detail == detail


def test_templatefile_renders(tmp_path: Path) -> None:
    (tmp_path / "hello.tmpl").write_text("Hello, ${name}!\n")
    ctx = FunctionContext(base_dir=str(tmp_path), render_template=render)
    result = FUNCTIONS["templatefile"].call(["hello.tmpl", {"name": "kiln"}], ctx)
    assert result == "Hello, kiln!\n"


def test_templatefile_passes_the_file_to_the_renderer() -> None:
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def recorder(text: str, filename: str, variables: dict[str, Any]) -> str:
        seen.append((text, filename, variables))
        return "rendered"

    ctx = FunctionContext(base_dir=str(FIXTURES), render_template=recorder)
    result = FUNCTIONS["templatefile"].call(["data/greeting.tmpl", {"name": "x"}], ctx)
    assert result == "rendered"
    assert seen == [
        ((FIXTURES / "data/greeting.tmpl").read_text(), "data/greeting.tmpl", {"name": "x"})
    ]


def test_templatefile_cannot_recurse() -> None:
    def recursive(text: str, filename: str, variables: dict[str, Any]) -> str:
        return FUNCTIONS["templatefile"].call([filename, {}], ctx)  # type: ignore[no-any-return]

    ctx = FunctionContext(base_dir=str(FIXTURES), render_template=recursive)
    with pytest.raises(FunctionError) as info:
        FUNCTIONS["templatefile"].call(["data/greeting.tmpl", {}], ctx)
    assert info.value.detail == (
        'Call to function "templatefile" failed: cannot recursively call templatefile from '
        "inside templatefile call."
    )


def test_base64gzip_round_trips() -> None:
    encoded = ev('base64gzip("hello, world")')
    data = base64.b64decode(encoded)
    assert data[:4] == b"\x1f\x8b\x08\x00"
    assert data[9] == 0xFF  # Go writes "unknown" as the OS
    assert gzip.decompress(data) == b"hello, world"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            'rfc3339_parse("2023-07-25T23:43:16Z")',
            {
                "day": 25,
                "hour": 23,
                "iso_week": 30,
                "iso_year": 2023,
                "minute": 43,
                "month": 7,
                "month_name": "July",
                "second": 16,
                "unix": 1690328596,
                "weekday": 2,
                "weekday_name": "Tuesday",
                "year": 2023,
                "year_day": 206,
            },
        ),
        (
            "unix_timestamp_parse(1690328596)",
            {
                "day": 25,
                "hour": 23,
                "iso_week": 30,
                "iso_year": 2023,
                "minute": 43,
                "month": 7,
                "month_name": "July",
                "rfc3339": "2023-07-25T23:43:16Z",
                "second": 16,
                "weekday": 2,
                "weekday_name": "Tuesday",
                "year": 2023,
                "year_day": 206,
            },
        ),
    ],
)
def test_time_parsing(expr: str, expected: dict[str, Any]) -> None:
    assert ev(expr) == expected


def test_rfc3339_parse_variants() -> None:
    spaced = ev('rfc3339_parse("2023-07-25 23:43:16.5-05:00")')
    assert (spaced["hour"], spaced["unix"]) == (23, 1690346596)
    assert ev('rfc3339_parse("2024-12-30T00:00:00Z")')["iso_year"] == 2025
    assert error_of('rfc3339_parse("2023-07-25")').detail == (
        'Invalid value for "timestamp" parameter: "2023-07-25" is not a valid RFC3339 timestamp.'
    )
    assert ev("unix_timestamp_parse(0)")["rfc3339"] == "1970-01-01T00:00:00Z"
    assert ev("unix_timestamp_parse(-1)")["year"] == 1969
    assert column(error_of("unix_timestamp_parse(1.5)")) == 22


# --------------------------------------------------------------------------- changing values


RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_timestamp_is_utc_rfc3339() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    value = call("timestamp")
    assert RFC3339.fullmatch(value)
    parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= parsed <= datetime.now(UTC)


def test_legacy_time_functions() -> None:
    assert RFC3339.fullmatch(call("legacy_isotime"))
    assert call("legacy_isotime") == call("legacy_strftime")  # one start time per process
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", call("legacy_isotime", "2006-01-02 15:04:05 MST")
    )
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]+ \d\d?", call("legacy_isotime", "Jan Monday 2"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", call("legacy_strftime", "%Y-%m-%d"))
    assert error_of('legacy_isotime("a", "b")').summary == "Error in function call"


def test_uuidv4() -> None:
    first, second = call("uuidv4"), call("uuidv4")
    pattern = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(pattern, first)
    assert first != second


def test_bcrypt() -> None:
    import bcrypt

    hashed = call("bcrypt", "hello")
    assert re.fullmatch(r"\$2a\$10\$[./A-Za-z0-9]{53}", hashed)
    assert bcrypt.checkpw(b"hello", hashed.encode())
    assert call("bcrypt", "hello", 4).startswith("$2a$04$")
    assert call("bcrypt", "hello", 2).startswith("$2a$10$")  # Go's default below the minimum


def test_rsadecrypt() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    secret = key.public_key().encrypt(b"Hello, world!", padding.PKCS1v15())
    ciphertext = base64.b64encode(secret).decode()
    assert call("rsadecrypt", ciphertext, pem) == "Hello, world!"
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(FunctionError, match="ParsePKCS8PrivateKey"):
        call("rsadecrypt", ciphertext, pkcs8)
    with pytest.raises(FunctionError, match="no key found"):
        call("rsadecrypt", ciphertext, "not a key")


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("expr", "service"),
    [
        ('vault("secret/data/x", "k")', "a Vault server"),
        ('consul_key("a/b")', "a Consul server"),
        ('aws_secretsmanager("name", "key")', "AWS Secrets Manager"),
        ('aws_secretsmanager("name", null)', "AWS Secrets Manager"),
        ('aws_secretsmanager_raw("name")', "AWS Secrets Manager"),
    ],
)
def test_secret_functions_say_they_are_unavailable(expr: str, service: str) -> None:
    err = error_of(expr)
    name = expr.split("(")[0]
    assert err.summary == "Error in function call"
    assert err.detail == (
        f'Call to function "{name}" failed: the "{name}" function needs access to {service}, '
        "which kiln does not provide yet; pass the value in a variable instead."
    )
