"""Property tests: generated and mutated templates never crash or hang kiln.

Templates come from two places: the example templates and a corpus of small valid
snippets, mutated (characters and lines deleted, duplicated, swapped; HCL tokens and
random unicode inserted), and templates generated from a small grammar of HCL
expressions and blocks. Each one goes through:

- :func:`kiln.hcl.loader.load`, which reports every problem as a diagnostic: no
  exception may escape it;
- ``kiln validate`` in-process (:func:`kiln.cli.main.main`): exit code 0 or 1, never a
  traceback nor an "internal error" report;
- :func:`kiln.hcl.fmt.format_source`: only DiagnosticError may escape; on success the
  result formats to itself, keeps every non-space character and every line.

Every call runs under a hard timer (:data:`HANG_SECONDS`) on top of Hypothesis'
deadline, so a hang fails the test instead of stalling the run. Set
``KILN_FUZZ_EXAMPLES`` to multiply the number of examples for a longer local run.
Inputs that once broke kiln are kept at the end of the file as explicit regression tests.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.cli.main import main
from kiln.hcl import functions
from kiln.hcl.diagnostics import DiagnosticError, Diagnostics
from kiln.hcl.loader import LoadOptions, load
from kiln.ui.redact import clear_secrets

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: A call taking longer than this is a hang (the whole call, not one example's run).
HANG_SECONDS = 20
SCALE = int(os.environ.get("KILN_FUZZ_EXAMPLES", "1"))


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=timedelta(seconds=5),
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# --- guards -------------------------------------------------------------------------


class Hang(Exception):
    """Raised by the timer inside a call that has run for too long."""


@contextmanager
def hang_guard(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Fail a call that runs longer than ``seconds`` (SIGALRM; pytest runs in the main thread).

    The timer's exception may be swallowed by the code under test (``main`` turns any
    exception into an internal-error report), so whether it fired is checked afterwards.
    """
    fired = False

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        fired = True
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if fired:
            raise AssertionError(f"hang: the call ran for more than {seconds} s")


@contextmanager
def template_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kiln-fuzz-") as tmp:
        yield Path(tmp)


def write(folder: Path, filename: str, text: str) -> Path:
    """Write ``text`` as is (no newline translation); return the path kiln should load."""
    target = folder / filename
    with open(target, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    # an HCL2 template is its folder; a legacy JSON template is its file
    return target if filename == "template.json" else folder


def run_load(path: Path) -> Diagnostics:
    """Load ``path``; no exception may escape (the loader reports problems as diagnostics)."""
    clear_secrets()
    with hang_guard():
        template, diags = load(str(path), LoadOptions(env={}))
    assert isinstance(diags, Diagnostics)
    assert template is not None or diags.has_errors, "no template and no error to say why"
    return diags


def run_validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``kiln validate ARGS`` in-process: exit 0 or 1, no traceback, no internal error."""
    clear_secrets()
    capsys.readouterr()
    with hang_guard():
        code = main(["validate", *args])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    assert code in (0, 1), (code, output)
    return code, output


def _without_spaces(text: str) -> str:
    return re.sub(r"\s+", "", text.removeprefix("\ufeff"))


def run_format(text: str) -> str | None:
    """``format_source``: only DiagnosticError may escape; a success is a fixed point."""
    from kiln.hcl.fmt import format_source

    with hang_guard():
        try:
            out: str = format_source(text, "fuzz.pkr.hcl")
        except DiagnosticError as exc:
            assert exc.diagnostics, "a DiagnosticError without a diagnostic"
            return None
        again = format_source(out, "fuzz.pkr.hcl")
    assert again == out, "formatting is not idempotent"
    assert _without_spaces(out) == _without_spaces(text), "formatting changed more than spaces"
    assert out.count("\n") == text.count("\n"), "formatting added or removed lines"
    return out


# --- seeds: the examples and a corpus of small valid snippets ----------------------

HCL_SNIPPETS = [
    'variable "a" {\n  type    = string\n  default = "x"\n}\n',
    'variable "n" {\n  type = number\n  default = 3\n  validation {\n'
    '    condition     = var.n > 0\n    error_message = "The n must be positive."\n  }\n}\n',
    'variable "m" {\n  type = map(list(string))\n  default = { a = ["b"] }\n'
    "  sensitive = true\n}\n",
    'variable "o" {\n  type = object({ name = string, size = optional(number, 1) })\n'
    '  default = { name = "x" }\n}\n',
    'locals {\n  a = [for i, v in ["x", "y"] : "${i}-${upper(v)}" if v != ""]\n'
    "  b = { for k, v in { p = 1, q = 2 } : k => v * 2... }\n"
    "  c = local.a[0]\n  d = length(local.b) > 1 ? local.a : []\n}\n",
    "locals {\n  s = <<-EOT\n    hello ${local.t}\n    %{ for x in [1, 2] }${x}%{ endfor }\n  EOT\n"
    '  t = "world"\n  u = try(jsondecode("{"), "fallback")\n  v = can(regex("[", "x"))\n}\n',
    'local "secret" {\n  expression = sha256("x")\n  sensitive  = true\n}\n',
    'locals {\n  list = [1, 2.5, -3, 1e3, true, null, "s"]\n  splat = [{ n = 1 }, { n = 2 }][*].n\n'
    '  obj = { "quoted key" = 1, (local.k) = 2 }\n  k = "dynamic"\n  neg = !false && -1 < 2\n}\n',
    'packer {\n  required_version = ">= 1.6.6"\n  required_plugins {\n'
    '    docker = {\n      source  = "github.com/hashicorp/docker"\n      version = "~> 1"\n'
    "    }\n  }\n}\n",
    'source "null" "a" {\n  communicator = "none"\n}\n\nbuild {\n  name    = "b"\n'
    '  sources = ["source.null.a"]\n\n  provisioner "shell-local" {\n'
    '    inline = ["echo ${source.name} ${build.name}"]\n    only   = ["null.a"]\n  }\n\n'
    '  post-processor "manifest" {\n    output = "m.json"\n  }\n}\n',
    'source "null" "a" {\n  communicator = "none"\n}\n\nbuild {\n  source "source.null.a" {\n'
    '    name = "renamed"\n  }\n  post-processors {\n    post-processor "shell-local" {\n'
    '      inline = ["true"]\n    }\n  }\n  error-cleanup-provisioner "shell-local" {\n'
    '    inline = ["echo cleanup"]\n  }\n}\n',
    "# a comment\n// another\n/* a block\n comment */\n",
    'data "null" "d" {\n  input = "x"\n}\n\nlocals {\n  from_data = data.null.d.output\n}\n',
]

JSON_SNIPPETS = [
    (
        "fuzz.pkr.json",
        json.dumps(
            {
                "variable": {"a": {"type": "string", "default": "x"}},
                "locals": {"b": "${upper(var.a)}"},
                "source": {"null": {"n": {"communicator": "none"}}},
                "build": {"sources": ["source.null.n"]},
            },
            indent=2,
        ),
    ),
    (
        "template.json",
        json.dumps(
            {
                "variables": {"a": "x", "b": "{{env `HOME`}}"},
                "builders": [{"type": "null", "communicator": "none"}],
                "provisioners": [{"type": "shell-local", "inline": ["echo {{user `a`}}"]}],
            },
            indent=2,
        ),
    ),
]


def _example_seeds() -> list[tuple[str, str]]:
    seeds = []
    for path in sorted(EXAMPLES.rglob("*")):
        if path.name.endswith((".pkr.hcl", ".pkrvars.hcl")):
            seeds.append(("fuzz.pkr.hcl", path.read_text(encoding="utf-8")))
        elif path.name == "template.json":
            seeds.append(("template.json", path.read_text(encoding="utf-8")))
    return seeds


SEEDS = [*_example_seeds(), *(("fuzz.pkr.hcl", s) for s in HCL_SNIPPETS), *JSON_SNIPPETS]
HCL_SEEDS = [text for name, text in SEEDS if name.endswith(".hcl")]
VAR_FILE = (EXAMPLES / "null-ssh" / "example.pkrvars.hcl").read_text(encoding="utf-8")


# --- mutations ----------------------------------------------------------------------

TOKENS = [
    "{", "}", "[", "]", "(", ")", '"', "${", "%{", "~", "}~", "=", ",", ".", "...", ":",
    "?", "=>", "*", "[*]", ".*", "!", "&&", "||", "==", "<", "-", "/", "%", "\\", "\n",
    "\r\n", "\t", " ", "#", "//", "/*", "*/", "<<EOT\n", "<<-EOT\n", "EOT\n", "for",
    "in", "if", "endfor", "else", "endif", "var.", "local.", "null", "true", "1e999",
    "-0", "0x1", "9" * 30, "\\u0000", "\\", "$${", "%%{", "\ufeff", "\x00", "{{", "}}",
    "`", "'", "\\n", '\\"', "source.", "build.", "path.root", "each.", "self.",
]  # fmt: skip

CHARS = st.characters(codec="utf-8")  # anything UTF-8 can encode: no lone surrogates
RANDOM_TEXT = st.text(CHARS, min_size=1, max_size=6)


@st.composite
def mutation(draw: st.DrawFn, text: str) -> str:
    """One edit of ``text``: on characters, on lines, an insertion, or a long repetition."""
    n = len(text)

    def pos() -> int:
        return draw(st.integers(0, n))

    kind = draw(
        st.sampled_from(
            [
                "delete", "duplicate", "swap", "token", "unicode", "replace",
                "delete-line", "duplicate-line", "swap-lines", "truncate", "repeat",
            ]
        )
    )  # fmt: skip
    if kind in ("delete", "duplicate", "replace"):
        i = pos()
        j = min(n, i + draw(st.integers(1, 12)))
        insert = {
            "delete": "",
            "duplicate": text[i:j] * 2,
            "replace": draw(st.sampled_from(TOKENS) | RANDOM_TEXT),
        }[kind]
        return text[:i] + insert + text[j:]
    if kind == "swap" and n >= 2:
        i, j = sorted((draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))))
        return text[:i] + text[j] + text[i + 1 : j] + text[i] + text[j + 1 :]
    if kind in ("token", "unicode"):
        i = pos()
        insert = draw(st.sampled_from(TOKENS) if kind == "token" else RANDOM_TEXT)
        return text[:i] + insert + text[i:]
    if kind == "truncate":
        return text[: pos()]
    if kind == "repeat":  # deep nesting and long runs: (((( [[[[ ${${ !!!! ----
        i = pos()
        token = draw(st.sampled_from(["(", "[", "{", "${", '"${', "!", "-", "list(", "%{ if x }"]))
        return text[:i] + token * draw(st.integers(2, 1500)) + text[i:]
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = draw(st.integers(0, len(lines) - 1))
    j = draw(st.integers(0, len(lines) - 1))
    if kind == "delete-line":
        del lines[i]
    elif kind == "duplicate-line":
        lines.insert(i, lines[i])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[tuple[str, str]]) -> tuple[str, str]:
    """A seed (filename, text), edited one to five times."""
    filename, text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 5))):
        text = draw(mutation(text))
    return filename, text


# --- generated templates ------------------------------------------------------------

#: Functions that reach the network (or take long on purpose) are left out.
SKIPPED_FUNCTIONS = {"aws_secretsmanager", "aws_secretsmanager_raw", "consul_key", "vault"}
SKIPPED_FUNCTIONS.add("bcrypt")  # slow by design
FUNCTION_NAMES = [*sorted(set(functions.FUNCTIONS) - SKIPPED_FUNCTIONS), "try", "can", "convert"]
NAMES = ["a", "b", "c", "name", "list", "map", "x-y", "_"]
TYPES = [
    "string", "number", "bool", "any", "list(string)", "list(number)", "map(string)",
    "set(string)", "tuple([string, number])", "object({ a = string })", "list(any)",
    "map(list(bool))", "object({ a = optional(string, \"d\") })",
]  # fmt: skip

NUMBERS = st.one_of(
    st.integers(-1000, 1000),
    st.sampled_from([0, -0.0, 1e308, 1e-308, 2**63, 2**64 + 1, 10**30, 4294967296]),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: float(f"{f:.6g}")),
)
STRING_CHARS = [*(string.ascii_letters + string.digits + " -_./:%*?[]{}\\\"\n\t'"), "é", "∑", "😀"]
STRINGS = st.text(st.sampled_from(STRING_CHARS), max_size=10)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("${", "$${").replace("%{", "%%{")


def _number(value: float) -> str:
    text = repr(value)
    return text if not text.startswith("-") else f"({text})"


REFERENCES = st.one_of(
    st.sampled_from(NAMES).map(lambda n: f"var.{n}"),
    st.sampled_from(NAMES).map(lambda n: f"local.{n}"),
    st.sampled_from(
        ["path.root", "path.cwd", "source.name", "source.type", "build.name", "build.ID",
         "packer.version", "data.null.d", "each.key", "count.index", "self.x", "nothing"]
    ),
)  # fmt: skip

LEAVES = st.one_of(
    NUMBERS.map(_number),
    STRINGS.map(_quote),
    st.sampled_from(["true", "false", "null", "[]", "{}"]),
    REFERENCES,
)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(FUNCTION_NAMES), st.lists(inner, max_size=4)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        st.lists(inner, max_size=4).map(lambda xs: f"[{', '.join(xs)}]"),
        st.lists(st.tuples(st.sampled_from(NAMES), inner), max_size=3).map(
            lambda kv: "{ " + ", ".join(f'"{k}" = {v}' for k, v in kv) + " }"
        ),
        st.tuples(
            inner,
            st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||"]),
            inner,
        ).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["!", "-"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, st.sampled_from(NAMES)).map(lambda t: f"{t[0]}.{t[1]}"),
        inner.map(lambda e: f"{e}[*].a"),
        st.tuples(inner, inner).map(lambda t: f"[for k, v in {t[0]} : {t[1]} if v != null]"),
        st.tuples(inner, inner).map(lambda t: f"{{ for k, v in {t[0]} : k => {t[1]}... }}"),
        inner.map(lambda e: f'"pre ${{{e}}} post"'),
        inner.map(lambda e: f'"%{{ if {e} }}yes%{{ else }}no%{{ endif }}"'),
        inner.map(lambda e: f'"%{{ for x in {e} ~}}${{x}}%{{ endfor }}"'),
        inner.map(lambda e: f"<<-EOT\n  ${{{e}}}\n  EOT\n"),
    )


EXPRESSIONS = st.recursive(LEAVES, _compound, max_leaves=8)


def _variable(name: str, type_: str | None, default: str | None, condition: str | None) -> str:
    lines = [f'variable "{name}" {{']
    if type_ is not None:
        lines.append(f"  type = {type_}")
    if default is not None:
        lines.append(f"  default = {default}")
    if condition is not None:
        lines += [
            "  validation {",
            f"    condition = {condition}",
            '    error_message = "Bad."',
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines)


VARIABLES = st.builds(
    _variable,
    st.sampled_from(NAMES),
    st.none() | st.sampled_from(TYPES),
    st.none() | EXPRESSIONS,
    st.none() | EXPRESSIONS,
)
LOCALS = st.lists(st.tuples(st.sampled_from(NAMES), EXPRESSIONS), min_size=1, max_size=3).map(
    lambda kv: "locals {\n" + "".join(f"  {k} = {v}\n" for k, v in kv) + "}"
)
SOURCES = st.lists(st.tuples(st.sampled_from(["a", "b", "ssh_host"]), EXPRESSIONS), max_size=3).map(
    lambda kv: 'source "null" "n" {\n' + "".join(f"  {k} = {v}\n" for k, v in kv) + "}"
)
BUILDS = st.tuples(st.none() | EXPRESSIONS, st.lists(EXPRESSIONS, max_size=2)).map(
    lambda t: (
        "build {\n"
        + (f"  name = {t[0]}\n" if t[0] is not None else "")
        + '  sources = ["source.null.n"]\n'
        + "".join(f'  provisioner "shell-local" {{\n    inline = [{e}]\n  }}\n' for e in t[1])
        + "}"
    )
)


@st.composite
def generated(draw: st.DrawFn) -> str:
    """A template of a few variable, locals, source and build blocks with random expressions."""
    blocks = draw(st.lists(st.one_of(VARIABLES, LOCALS), max_size=4))
    blocks.append(draw(SOURCES))
    blocks.append(draw(BUILDS))
    return "\n\n".join(draw(st.permutations(blocks))) + "\n"


# --- the properties -----------------------------------------------------------------


@fuzz_settings(60)
@given(case=mutated(SEEDS))
def test_load_never_raises(case: tuple[str, str]) -> None:
    filename, text = case
    with template_dir() as folder:
        run_load(write(folder, filename, text))


@fuzz_settings(50)
@given(case=mutated(SEEDS))
def test_validate_reports_mutated_templates_cleanly(
    case: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    filename, text = case
    with template_dir() as folder, _crash_dir(folder):
        run_validate(capsys, str(write(folder, filename, text)))


@fuzz_settings(40)
@given(text=generated())
def test_validate_reports_generated_templates_cleanly(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with template_dir() as folder, _crash_dir(folder):
        run_validate(capsys, str(write(folder, "fuzz.pkr.hcl", text)))


@fuzz_settings(20)
@given(
    example=st.sampled_from(["docker-busybox", "null-ssh"]),
    assignments=st.lists(
        st.tuples(
            st.sampled_from(["host", "port", "tags", "greeting", "packages", "nope", "x y"]),
            st.sampled_from(TOKENS) | STRINGS | EXPRESSIONS,
        ),
        max_size=3,
    ),
    var_file=st.none() | mutated([("x.pkrvars.hcl", VAR_FILE)]),
)
def test_validate_reports_bad_variable_values_cleanly(
    example: str,
    assignments: list[tuple[str, str]],
    var_file: tuple[str, str] | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [f"-var={name}={value}" for name, value in assignments]
    with template_dir() as folder, _crash_dir(folder):
        if var_file is not None:
            path = folder / "fuzz.pkrvars.hcl"
            path.write_text(var_file[1], encoding="utf-8")
            args.append(f"-var-file={path}")
        run_validate(capsys, *args, str(EXAMPLES / example))


@fuzz_settings(60)
@given(case=mutated([("fuzz.pkr.hcl", t) for t in HCL_SEEDS]) | generated().map(lambda t: ("", t)))
def test_format_source_fails_cleanly_or_reaches_a_fixed_point(case: tuple[str, str]) -> None:
    pytest.importorskip("kiln.hcl.fmt", reason="the formatter (kiln.hcl.fmt) is not there yet")
    run_format(case[1])


def test_seed_templates_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    """The unmutated examples validate, so mutations start from something meaningful.

    (docker-busybox needs the docker plugin, so it is a seed for the loader only.)"""
    for name in ("file-local", "null-ssh"):
        code, output = run_validate(capsys, str(EXAMPLES / name))
        assert code == 0, output


@contextmanager
def _crash_dir(folder: Path) -> Iterator[None]:
    """Crash logs (there should be none) go to the template's folder, not the checkout."""
    before = os.environ.get("KILN_CRASH_DIR")
    os.environ["KILN_CRASH_DIR"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            del os.environ["KILN_CRASH_DIR"]
        else:
            os.environ["KILN_CRASH_DIR"] = before


# --- regressions: inputs that broke kiln ---------------------------------------------
# Found by hand while writing these fuzz tests (deep nesting, long chains and costly
# function arguments, which random mutation rarely reaches). Each stays here, as it is.


def _deep(n: int, open_: str, leaf: str, close: str) -> str:
    return open_ * n + leaf + close * n


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        pytest.param(
            # RecursionError in the loader's dependency sort (loader._toposort.visit):
            # a chain of about 1000 locals, each using the next, crashes validate.
            "fuzz.pkr.hcl",
            "locals {\n"
            + "".join(f"  a{i} = local.a{i + 1}\n" for i in range(2000))
            + "  a2000 = 1\n}\n",
            id="long-chain-of-locals",
        ),
        pytest.param(
            # RecursionError in eval.type_from_node / syntax children: a type constraint
            # nested about 1000 deep crashes validate (expressions say "too deeply nested").
            "fuzz.pkr.hcl",
            f'variable "a" {{\n  type = {_deep(2000, "list(", "string", ")")}\n}}\n',
            id="deeply-nested-type-constraint",
        ),
        pytest.param(
            # RecursionError in the legacy template parser (legacy.py operand/pipeline):
            # about 330 nested parentheses in {{ }} crash validate.
            "template.json",
            json.dumps(
                {
                    "variables": {"a": "{{" + _deep(2000, "(", "user `b`", ")") + "}}", "b": "x"},
                    "builders": [{"type": "null", "communicator": "none"}],
                }
            ),
            id="legacy-deeply-nested-parentheses",
        ),
    ],
)
def test_regression_no_internal_error(
    filename: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with template_dir() as folder, _crash_dir(folder):
        run_validate(capsys, str(write(folder, filename, text)))


def _validate_in_subprocess(text: str, seconds: float, memory_bytes: int) -> tuple[str, float]:
    """``python -m kiln validate`` on ``text`` with a time and an address-space limit.

    A subprocess, so that a runaway allocation or a loop in C code (the regex engine)
    is stopped by the kernel and cannot take the test run down with it.
    """

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    with template_dir() as folder:
        write(folder, "fuzz.pkr.hcl", text)
        env = {**os.environ, "KILN_CRASH_DIR": str(folder)}
        start = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "kiln", "validate", str(folder)],
                capture_output=True,
                text=True,
                timeout=seconds,
                env=env,
                preexec_fn=limit,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"hang: kiln validate ran for more than {seconds} s")
        elapsed = time.monotonic() - start
    output = proc.stdout + proc.stderr
    assert "internal error" not in output and "Traceback" not in output, output
    assert proc.returncode in (0, 1), output
    return output, elapsed


def test_regression_regex_backtracking_does_not_hang() -> None:
    # Hang: regex/regexall/regex_replace/replace use Python's backtracking `re`, so a
    # pattern with nested quantifiers takes exponential time (Packer uses Go's RE2,
    # linear: newer Packer answers at once). 36 a's: minutes; each one more doubles it.
    text = 'locals {\n  a = regex("(a+)+$", "' + "a" * 36 + '!")\n}\n'
    _validate_in_subprocess(text, seconds=20, memory_bytes=1 << 30)


def test_regression_format_huge_width_is_cheap() -> None:
    # format("%999999999d", 1) builds a 1 GB string: 12 s and 2 GB of memory here.
    # Packer (Go's fmt) refuses widths that large: `packer console` 1.6.6 answers
    # %!(NOVERB)%!(EXTRA *big.Int=1) at once.
    text = 'locals {\n  a = format("%999999999d", 1)\n}\n'
    _validate_in_subprocess(text, seconds=20, memory_bytes=1 << 30)


def test_subprocess_limits_leave_room_for_validate() -> None:
    """The limits above are not what fails: a small template validates within them."""
    output, elapsed = _validate_in_subprocess(
        'locals {\n  a = format("%5d", 1)\n}\n', seconds=20, memory_bytes=1 << 30
    )
    assert "The configuration is valid." in output
    assert elapsed < 20, output
