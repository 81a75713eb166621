"""Legacy JSON templates: the Go template language, every template key, variable
precedence, and errors with their positions."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from kiln.hcl.diagnostics import DiagnosticError, Pos
from kiln.hcl.eval import EvalError, Scope
from kiln.hcl.legacy import (
    GoTemplateError,
    LegacyBody,
    clean_resource_name,
    load_legacy,
    parse_go_template,
    render_go_template,
    time_ordered_uuid,
)
from kiln.hcl.model import NO_VALUE, Template
from kiln.hcl.values import UNKNOWN

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "legacy")
COMPLETE = os.path.join(FIXTURES, "complete.json")


def _fixture(*parts: str) -> str:
    return os.path.join(FIXTURES, *parts)


def _load(path: str, var_files: list[str] | None = None, **cli: str) -> tuple[Template, list[Any]]:
    return load_legacy(path, var_files or [], dict(cli))


def _scope(template: Template, type_: str, name: str, generated: dict[str, Any] | None = None):
    from kiln.hcl.loader import build_scope

    return build_scope(template, type_, name, generated=generated)


def _config(body: Any, scope: Any) -> dict[str, Any]:
    from kiln.hcl.loader import evaluate_body

    values, diags = evaluate_body(body, scope)
    assert diags == []
    return values


# -- the template language ----------------------------------------------------

VALUES = {
    "var": {"name": "Some Name", "csv": "a,b,c"},
    "source": {"name": "web", "type": "docker"},
    "build": {"ID": "abc123", "Host": UNKNOWN},
    "path": {"root": "/templates/app", "cwd": "/work"},
    "packer": {"version": "1.11.2"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("{{ user `name` }}", "Some Name"),
        ('{{ user "name" }}', "Some Name"),
        ("{{ user `unset` }}", ""),
        ("{{ upper `abc` }}-{{ lower `DEF` }}", "ABC-def"),
        ("{{ user `name` | lower }}", "some name"),
        ("{{ (user `name`) | upper | lower }}", "some name"),
        ("{{ split (user `csv`) `,` 2 }}", "c"),
        ("{{ replace `a` `x` 2 `banana` }}", "bxnxna"),
        ("{{ replace `a` `x` -1 `banana` }}", "bxnxnx"),
        ("{{ replace_all `a` `o` `banana` }}", "bonono"),
        ("{{ clean_resource_name `my image: v1.0+beta` }}", "my image- v1.0-beta"),
        ("{{ build_name }}/{{ build_type }}", "web/docker"),
        ("{{ build `ID` }}", "abc123"),
        ("{{ packer_version }}", "1.11.2"),
        ("{{ template_dir }}", "/templates/app"),
        ("{{ pwd }}", "/work"),
        (
            "http://{{ .HTTPIP }}:{{.HTTPPort}}/{{ user `name` }}",
            "http://{{ .HTTPIP }}:{{.HTTPPort}}/Some Name",
        ),
        ("{{ .Name | lower }}", "{{ .Name | lower }}"),
        ("a   {{- ` b ` -}}   c", "a b c"),
        ("x{{/* a comment */}}y", "xy"),
        ('{{ "{{" }} kept {{ `}}` }}', "{{ kept }}"),
        ('{{ "tab\\there" }}', "tab\there"),
        ("{{ 5 }} {{ true }} {{ 1.5 }}", "5 true 1.5"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert render_go_template(text, VALUES) == expected


def test_render_time_functions_share_one_start_time() -> None:
    from kiln.hcl.functions import time as tf

    start = tf._INIT_TIME
    assert render_go_template("{{ timestamp }}", {}) == str(int(start.timestamp()))
    assert render_go_template("{{ isotime }}", {}) == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert render_go_template("{{ isotime `2006-01-02 15:04` }}", {}) == start.strftime(
        "%Y-%m-%d %H:%M"
    )
    assert render_go_template("{{ strftime `%Y/%m/%d` }}", {}) == start.strftime("%Y/%m/%d")


def test_uuid_is_time_ordered() -> None:
    first, second = time_ordered_uuid(), time_ordered_uuid()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first)
    assert first != second and first[:8] <= second[:8]
    assert render_go_template("{{ uuid }}", {}) != render_go_template("{{ uuid }}", {})


def test_unknown_build_data_makes_the_string_unknown() -> None:
    assert render_go_template("host {{ build `Host` }}", VALUES) is UNKNOWN
    assert render_go_template("{{ build `ID` | upper }}", {**VALUES, "build": UNKNOWN}) is UNKNOWN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ nope }}", 'function "nope" not defined'),
        ("{{ uper `x` }}", 'Did you mean "upper"?'),
        ("{{ split `a` `,` }}", "wrong number of args for split: want 3 got 2"),
        ("{{ split `a` `,` `0` }}", "expected int; got string"),
        ("{{ upper 5 }}", "expected string; got int"),
        ("{{ split `a,b` `,` 5 }}", "the substring 5 was unavailable"),
        ("{{ sed `s/a/b/` `abc` }}", "`sed` is deprecated"),
        ("{{ env `HOME` }}", "env is only allowed in the variables section"),
        ("{{ vault `a` `b` }}", "vault is only allowed in the variables section"),
        ("{{ consul_key `a` }}", "consul_key is only allowed in the variables section"),
        ("{{ aws_secretsmanager `a` }}", "only allowed in the variables section"),
        ("{{ build `Nope` }}", 'the build variable "Nope" is not provided'),
        ("{{ upper `x` ", "unclosed action"),
        ("{{ }}", "missing value for command"),
        ("{{ if true }}x{{ end }}", '"if" action is not supported'),
        ("{{ $x := 1 }}", "template variables ($name) are not supported"),
        ('{{ "abc }}', "unterminated quoted string"),
        ("{{ `x` `y` }}", "can't give argument to non-function"),
    ],
)
def test_render_errors(text: str, message: str) -> None:
    with pytest.raises(GoTemplateError) as info:
        render_go_template(text, VALUES)
    assert message in info.value.message


def test_functions_only_for_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_LEGACY_TEST", "from-env")
    assert render_go_template("{{ env `KILN_LEGACY_TEST` }}", {}, in_variables=True) == ("from-env")
    with pytest.raises(GoTemplateError) as info:
        render_go_template("{{ vault `a` `b` }}", {}, in_variables=True)
    assert "kiln does not talk to" in info.value.message
    with pytest.raises(GoTemplateError) as info:
        render_go_template("{{ build_name }}", {}, in_variables=True)
    assert "build_name not available" in info.value.message


def test_parse_offsets() -> None:
    nodes = parse_go_template("ab {{ upper `x` }} cd")
    assert [type(n).__name__ for n in nodes] == ["GoText", "GoAction", "GoText"]
    action = nodes[1]
    assert (action.start, action.end, action.source) == (3, 18, "{{ upper `x` }}")


def test_clean_resource_name() -> None:
    assert clean_resource_name("a:b*c (d) [e] f/g@h'i_j-k.l") == "a-b-c (d) [e] f/g@h'i_j-k.l"


# -- every key of a template ------------------------------------------------------


def test_complete_template_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_TEST_HOME", "/home/kiln")
    template, diags = _load(COMPLETE, required="cli")
    assert [d.summary for d in diags] == []
    assert template.kind == "legacy"
    assert template.description == "A template that uses every key"
    assert [v for v, _ in template.required_version] == [">= 1.5.0"]
    variables = template.variables
    assert variables["message"].value == "hello, world"
    assert variables["message"].default == "{{user `greeting`}}, {{user `who`}}"
    assert variables["home"].value == "/home/kiln"
    assert variables["required"].default is NO_VALUE
    assert (variables["required"].value, variables["required"].value_source) == ("cli", "-var")
    assert variables["password"].sensitive and not variables["greeting"].sensitive

    assert list(template.sources) == [("null", "first"), ("file", "file")]
    (build,) = template.builds
    assert [s.ref for s in build.sources] == ["null.first", "file.file"]
    assert build.description == "A template that uses every key"

    first, second = build.provisioners
    assert (first.type, first.only, first.except_) == ("shell-local", ["null.first"], [])
    assert (first.pause_before, first.timeout, first.max_retries) == (2.0, 90.0, 2)
    assert second.except_ == ["file.file"]
    assert second.override == {"first": {"inline": ["echo overridden for first"]}}
    assert build.error_cleanup_provisioner is not None
    assert build.error_cleanup_provisioner.type == "shell-local"

    chains = [
        [(pp.type, pp.name, pp.only, pp.except_) for pp in chain] for chain in build.post_processors
    ]
    assert chains == [
        [("manifest", "", [], [])],
        [("manifest", "named-manifest", ["null.first"], [])],
        [("shell-local", "", [], []), ("manifest", "", [], ["null.first"])],
    ]
    assert build.post_processors[1][0].keep_input_artifact is True


def test_complete_template_configuration_evaluates_per_build() -> None:
    template, _ = _load(COMPLETE, required="x")
    build = template.builds[0]
    file_scope = _scope(template, "file", "file")
    assert _config(template.sources[("file", "file")].body, file_scope) == {
        "target": "world.txt",
        "content": "hello, world from file (file)",
    }
    assert _config(template.sources[("null", "first")].body, _scope(template, "null", "first")) == {
        "communicator": "none"
    }
    # meta keys are not configuration
    first = _config(build.provisioners[0].body, _scope(template, "null", "first"))
    assert first == {"inline": ["echo hello, world", UNKNOWN]}
    at_run = _scope(template, "null", "first", generated={"ID": "i-123"})
    assert _config(build.provisioners[0].body, at_run)["inline"][1] == "echo i-123"
    assert _config(build.provisioners[1].body, file_scope)["environment_vars"] == [
        "PASSWORD=s3cr3t-value"
    ]
    named = _config(build.post_processors[1][0].body, file_scope)
    assert named == {"output": "world-manifest.json"}
    assert _config(build.post_processors[0][0].body, file_scope) == {}


def test_sensitive_values_are_redacted() -> None:
    from kiln.ui.redact import redact_text

    _load(COMPLETE, required="x")
    assert redact_text("password is s3cr3t-value") == "password is <sensitive>"


def test_variable_precedence_default_var_files_then_cli() -> None:
    vars_file, late = _fixture("vars.json"), _fixture("vars-late.json")
    template, diags = _load(COMPLETE, [vars_file])
    assert not [d for d in diags if d.is_error]
    variables = template.variables
    assert (variables["who"].value, variables["who"].value_source) == ("file-world", vars_file)
    assert variables["who"].value_range is not None
    assert variables["who"].value_range.start == Pos(2, 10)
    assert variables["message"].value == "hello, file-world"  # derived values follow
    assert variables["required"].value == "from-file"
    assert variables["extra"].value == "undeclared but usable"
    template, _ = _load(COMPLETE, [vars_file, late])
    assert template.variables["who"].value == "later-file"
    template, _ = _load(COMPLETE, [vars_file, late], who="cli")
    assert template.variables["who"].value == "cli"
    assert template.variables["who"].value_source == "-var"


def test_cli_values_are_templates_too() -> None:
    template, _ = _load(COMPLETE, required="{{ user `greeting` }}!")
    assert template.variables["required"].value == "hello!"


def test_no_pkr_var_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKR_VAR_" + "required", "from-env")
    _, diags = _load(COMPLETE)
    assert [d.summary for d in diags if d.is_error] == ["Required variable not set"]


def test_functions_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_TEST_HOME", "/home/kiln")
    template, diags = _load(_fixture("functions.json"))
    assert diags == []
    config = _config(template.sources[("null", "null")].body, _scope(template, "null", "null"))
    assert config["user"] == "Some Name"
    assert config["env_in_variables"] == "/home/kiln"
    assert config["split"] == "b"
    assert config["replace"] == "bxnxna"
    assert config["clean"] == "my image- v1.0-beta"
    assert config["build_name"] == config["build_type"] == "null"
    assert config["template_dir"] == os.path.abspath(FIXTURES)
    assert config["build_data"] is UNKNOWN
    assert config["passthrough"] == "http://{{ .HTTPIP }}:{{ .HTTPPort }}/Some Name"
    assert config["list"] == ["Some Name", 1, True, None]
    assert config["object"] == {"key": "V"}
    assert config["number"] == 5


def test_legacy_body_protocol() -> None:
    template, _ = _load(_fixture("functions.json"))
    body = template.sources[("null", "null")].body
    assert isinstance(body, LegacyBody)
    attrs, blocks = body.all_items()
    assert "type" not in attrs and blocks == []
    refs = attrs["user"].expr.references()
    assert [r.names for r in refs] == [("var", "name")]
    assert refs[0].range.start == Pos(11, 19)
    assert [r.names for r in attrs["build_name"].expr.references()] == [("source", "name")]
    from kiln.hcl.body import BlockSpec, Schema

    content = body.content(Schema(attributes=("user",), blocks={"object": BlockSpec()}))
    assert [b.type for b in content.blocks] == ["object"]
    assert "user" in content.attributes
    assert (
        content.diagnostics and content.diagnostics[0].summary == "Extraneous JSON object property"
    )


def test_loader_dispatches_legacy_templates() -> None:
    from kiln.hcl.loader import LoadOptions, load

    template, diags = load(COMPLETE, LoadOptions(vars=[("required", "x")], var_files=[]))
    assert template is not None and template.kind == "legacy"
    assert not diags.has_errors


# -- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "summary", "detail", "line", "column"),
    [
        (
            "unknown_root_key.json",
            "Unknown root level key in template",
            'Did you mean "provisioners"?',
            3,
            3,
        ),
        ("duplicate_builder.json", "Duplicate builder name", "already exists", 4, 14),
        ("missing_type.json", "Invalid provisioner 1", "Provisioner missing 'type'", 3, 20),
        ("unknown_only.json", "Unknown builder", 'Did you mean "first"?', 3, 73),
        ("nested_chain.json", "Invalid post-processor 1.1", "not allowed inside a sequence", 3, 24),
        ("duplicate_key.json", "Duplicate key", 'The key "a" appears twice', 2, 27),
        ("bad_default.json", "Invalid variable default", "must be a string", 2, 26),
        ("min_version.json", "Unsupported Packer version", "requires Packer version 99.0.0", 2, 25),
        ("variable_cycle.json", "Template function failed", "loop: a -> b -> a", 2, 46),
        (
            "undefined_variable.json",
            "Template function failed",
            'variable "nope" is not set',
            2,
            27,
        ),
        ("vault.json", "Template function failed", "kiln does not talk to", 2, 30),
        ("bad_duration.json", "Invalid pause_before", "missing unit", 3, 80),
    ],
)
def test_load_errors(name: str, summary: str, detail: str, line: int, column: int) -> None:
    path = _fixture("errors", name)
    _, diags = _load(path)
    errors = [d for d in diags if d.is_error]
    assert errors, name
    assert errors[0].summary == summary
    assert detail in errors[0].detail
    assert errors[0].subject is not None
    assert (errors[0].subject.filename, errors[0].subject.start) == (path, Pos(line, column))


def test_nested_chain_reports_every_bad_entry() -> None:
    _, diags = _load(_fixture("errors", "nested_chain.json"))
    assert [d.summary for d in diags] == ["Invalid post-processor 1.1", "Invalid post-processor 2"]


def test_invalid_json_raises_with_position() -> None:
    path = _fixture("errors", "invalid_json.json")
    with pytest.raises(DiagnosticError) as info:
        _load(path)
    diag = info.value.diagnostics[0]
    assert diag.summary == "Trailing comma in object"
    assert diag.subject is not None and diag.subject.start == Pos(5, 1)


def test_required_variable_not_set() -> None:
    _, diags = _load(COMPLETE)
    (diag,) = [d for d in diags if d.is_error]
    assert diag.summary == "Required variable not set"
    assert "required variable not set: required" in diag.detail
    assert diag.subject is not None and diag.subject.start == Pos(11, 5)


@pytest.mark.parametrize(
    ("name", "summary", "detail", "column"),
    [
        ("bad_function.json", "Unknown template function", 'function "frobnicate" not defined', 42),
        ("env_in_builder.json", "Template function failed", "only allowed in the variables", 66),
        ("sed.json", "Template function failed", "`sed` is deprecated", 66),
        ("split_range.json", "Template function failed", "the substring 5 was unavailable", 66),
        ("unclosed_action.json", "Invalid template", "unclosed action", 65),
    ],
)
def test_configuration_errors_point_into_the_string(
    name: str, summary: str, detail: str, column: int
) -> None:
    path = _fixture("errors", name)
    template, diags = _load(path)
    assert diags == []
    source = next(iter(template.sources.values()))
    attr = source.body.all_items()[0]["a"]
    with pytest.raises(EvalError) as info:
        attr.expr.evaluate(_scope(template, source.type, source.name))
    diag = info.value.diagnostic
    assert (diag.summary, detail in diag.detail) == (summary, True)
    assert diag.subject is not None and diag.subject.filename == path
    assert diag.subject.start.column == column


def test_validate_command_reports_legacy_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from kiln.cli.main import main

    # the fixture's argument "a", renamed to one the null builder declares
    text = Path(_fixture("errors", "bad_function.json")).read_text().replace('"a":', '"ssh_host":')
    path = tmp_path / "bad_function.json"
    path.write_text(text)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Error: Unknown template function" in err
    assert "line 6, column 49" in err
    # (complete.json's post-processors come with plugins: it is checked as a template)
    template, diags = _load(COMPLETE, required="x")
    assert template is not None and not diags


def test_bare_scope_evaluation() -> None:
    template, _ = _load(_fixture("functions.json"))
    attrs = template.sources[("null", "null")].body.all_items()[0]
    assert attrs["upper"].expr.evaluate(Scope()) == "ABC"
    with pytest.raises(EvalError):
        attrs["build_name"].expr.evaluate(Scope())


def test_push_and_comments_keys_are_accepted(tmp_path: Any) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        '{"push": {"name": "x"}, "comments": [{"a": "b"}],'
        ' "builders": [{"type": "null", "communicator": "none"}]}'
    )
    template, diags = _load(str(path))
    assert [(d.summary, d.is_error) for d in diags] == [('"push" is ignored', False)]
    assert list(template.sources) == [("null", "null")]


def test_a_template_needs_a_builder(tmp_path: Any) -> None:
    path = tmp_path / "t.json"
    path.write_text('{\n  "variables": {"a": "b"},\n  "builders": []\n}')
    _, diags = _load(str(path))
    assert [d.summary for d in diags] == ["No builders"]
    assert diags[0].subject is not None and diags[0].subject.start == Pos(3, 3)


def test_syntax_only_checks_structure_alone() -> None:
    _, diags = load_legacy(COMPLETE, [], {}, syntax_only=True)
    assert diags == []
    _, diags = load_legacy(_fixture("errors", "min_version.json"), [], {}, syntax_only=True)
    assert diags == []
    _, diags = load_legacy(_fixture("errors", "unknown_only.json"), [], {}, syntax_only=True)
    assert [d.summary for d in diags] == ["Unknown builder"]
