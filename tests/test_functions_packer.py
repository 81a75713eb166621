"""kiln's functions against what ``packer console`` 1.6.6 prints for the same calls.

The table (tests/fixtures/functions/packer-1.6.6.json) was produced by running each
expression of cases.txt through Packer 1.6.6 (generate.py); the last test re-runs a
sample through the installed Packer, to show the table is real.
"""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kiln.hcl.eval import EvalError, NativeExpression, Scope
from kiln.hcl.syntax import Source, parse_expression
from kiln.hcl.values import format_console

FIXTURES = Path(__file__).parent / "fixtures" / "functions"


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"functions_{name}", FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _load("generate")

TABLE = json.loads((FIXTURES / "packer-1.6.6.json").read_text(encoding="utf-8"))
CASES = TABLE["cases"]

# Calls where kiln knowingly differs from Packer 1.6.6 (see docs/functions.md): what kiln
# gives instead, an output or an error summary and detail.
DEVIATIONS: dict[str, dict[str, Any]] = {
    # 1.6.6's index is the [] operator; kiln has index(list, value), as current Packer.
    'index({a="x"}, "a")': {
        "errors": [
            {
                "summary": "Error in function call",
                "detail": 'Call to function "index" failed: argument must be a list or tuple.',
            }
        ]
    },
    'index(["a", "b"], 1)': {
        "errors": [
            {
                "summary": "Error in function call",
                "detail": 'Call to function "index" failed: item not found.',
            }
        ]
    },
    'index(["a", "b"], "b")': {"output": "1"},
    # 1.6.6 returns an unknown value for a null document; kiln returns null.
    'yamldecode("~")': {"output": "null"},
    # 1.6.6 panics on sets of tuples; kiln computes the union.
    "setunion([[1]], [[2]])": {"output": "[\n  [\n    1,\n  ],\n  [\n    2,\n  ],\n]"},
    # 1.6.6 wraps a negative netnum oddly; kiln refuses it.
    'cidrsubnet("10.0.0.0/8", 8, -1)': {
        "errors": [
            {
                "summary": "Error in function call",
                "detail": 'Call to function "cidrsubnet" failed: '
                "prefix extension of 8 does not accommodate a subnet "
                "numbered -1.",
            }
        ]
    },
}

# YAML syntax errors: kiln's parser (PyYAML) words and places them differently.
YAML_SYNTAX_ERRORS = {
    'yamldecode("[")',
    'yamldecode("a: [1, 2")',
    'yamldecode("a: b: c")',
    'yamldecode("\\"x")',
    'yamldecode("---\\na: 1\\n---\\nb: 2")',
}


def evaluate(expr: str, allow_env: bool = False) -> Any:
    """Evaluate a fixture expression with kiln's own evaluator."""
    node = parse_expression(expr, Source("<console-input>", expr))
    return NativeExpression(node).evaluate(Scope(base_dir=".", allow_env=allow_env))


def run_kiln(expr: str) -> dict[str, Any]:
    """What kiln gives for a fixture expression, in the table's shape."""
    try:
        value = evaluate(expr)
    except EvalError as exc:
        return {"errors": [{"summary": d.summary, "detail": d.detail} for d in exc.diagnostics]}
    return {"output": format_console(value)}


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [f"{c['family']}:{c['expr']}" for c in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_matches_packer(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    actual = run_kiln(case["expr"])
    if case["expr"] in DEVIATIONS:
        assert actual == DEVIATIONS[case["expr"]]
        return
    if case["expr"] in YAML_SYNTAX_ERRORS:
        assert actual["errors"][0]["summary"] == case["errors"][0]["summary"]
        assert actual["errors"][0]["detail"].startswith('Call to function "yamldecode" failed: ')
        return
    if "output" in case:
        assert actual == {"output": case["output"]}
        return
    assert "errors" in actual, f"expected an error, got {actual}"
    expected = case["errors"]
    if any("panic in function implementation" in e["detail"] for e in expected):
        # Packer 1.6.6 crashed inside the function; kiln reports a proper error instead.
        assert actual["errors"][0]["summary"] == expected[0]["summary"]
        return
    assert actual["errors"] == expected


def test_table_covers_every_family() -> None:
    families = {c["family"] for c in CASES}
    assert {"numeric", "string", "collection", "encoding", "filesystem"} <= families
    assert {"time", "crypto", "uuid", "network", "format"} <= families
    assert len(CASES) >= 400


@pytest.mark.packer
def test_table_is_what_packer_prints() -> None:
    """A sample of the table, re-run through the real Packer, prints the same."""
    packer = shutil.which("packer")
    if packer is None:
        pytest.fail("packer (Debian's 1.6.6) is not installed: run scripts/bootstrap test")
    sample = random.Random(1).sample(CASES, 40)
    for case in sample:
        live = generate.run(packer, case["expr"])
        expected = {k: v for k, v in case.items() if k in ("output", "errors")}
        if "panic in function implementation" in json.dumps(expected):
            continue
        assert live == expected, case["expr"]


@pytest.mark.packer
def test_env_and_bcrypt_agree_with_packer(tmp_path: Path) -> None:
    """env() in a variable default, and bcrypt hashes each side can verify."""
    import bcrypt

    packer = shutil.which("packer")
    if packer is None:
        pytest.fail("packer (Debian's 1.6.6) is not installed: run scripts/bootstrap test")
    template = tmp_path / "t.pkr.hcl"
    template.write_text(
        'variable "home" {\n  default = env("KILN_FN_TEST")\n}\n'
        + (FIXTURES / "console.pkr.hcl").read_text()
    )
    env = {"PATH": "/usr/bin:/bin", "CHECKPOINT_DISABLE": "1", "KILN_FN_TEST": "a b é"}

    def console(expr: str) -> str:
        proc = subprocess.run(
            [packer, "console", str(template)],
            input=expr + "\n",
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
            check=True,
        )
        return proc.stdout.rstrip("\n")

    assert console("var.home") == "a b é"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KILN_FN_TEST", "a b é")
        assert evaluate('env("KILN_FN_TEST")', allow_env=True) == "a b é"
    packer_hash = console('bcrypt("s3cret", 5)')
    assert packer_hash.startswith("$2a$05$")
    assert bcrypt.checkpw(b"s3cret", packer_hash.encode())
    kiln_hash = evaluate('bcrypt("s3cret", 5)')
    assert kiln_hash.startswith("$2a$05$")
    assert bcrypt.checkpw(b"s3cret", kiln_hash.encode())
