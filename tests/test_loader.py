"""Loading templates: files, blocks, variables and their precedence, locals, builds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kiln.hcl.diagnostics import Diagnostics
from kiln.hcl.loader import LoadOptions, load
from kiln.hcl.model import Template
from kiln.ui.redact import redact_text

Write = Callable[..., Path]

SOURCE = """
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
}
"""


def ok(path: Path, **options: object) -> Template:
    template, diags = load(str(path), LoadOptions(env={}, **options))  # type: ignore[arg-type]
    assert not diags.has_errors, [(d.summary, d.detail) for d in diags]
    assert template is not None
    return template


def errors(path: Path, **options: object) -> Diagnostics:
    _, diags = load(str(path), LoadOptions(env={}, **options))  # type: ignore[arg-type]
    assert diags.has_errors
    return diags


def summaries(diags: Diagnostics) -> list[str]:
    return [d.summary for d in diags.errors]


# -- files -------------------------------------------------------------------


def test_folder_loads_hcl_files_in_sorted_order_as_one_configuration(write: Write) -> None:
    path = write({"b.pkr.hcl": SOURCE, "a.pkr.hcl": 'variable "v" {\n  default = "x"\n}\n'})
    template = ok(path)
    assert [Path(f).name for f in template.files] == ["a.pkr.hcl", "b.pkr.hcl"]
    assert template.variables["v"].value == "x"
    assert template.root == str(path)


def test_folder_is_not_read_recursively(write: Write) -> None:
    path = write({"main.pkr.hcl": SOURCE, "sub/x.pkr.hcl": "this is not hcl {"})
    ok(path)


def test_single_file_path_sets_path_root_to_its_folder(write: Write) -> None:
    path = write({"t.pkr.hcl": SOURCE + "locals {\n  r = path.root\n}\n"})
    template = ok(path / "t.pkr.hcl")
    assert template.locals["r"].value == str(path)


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    assert "No configuration files" in summaries(errors(tmp_path))


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    assert "No such file or folder" in summaries(errors(tmp_path / "nope"))


def test_syntax_error_has_file_line_and_column(write: Write) -> None:
    path = write({"t.pkr.hcl": 'source "null" "a" {\n  communicator = \n}\n'})
    diag = errors(path).errors[0]
    assert diag.subject is not None
    assert diag.subject.filename.endswith("t.pkr.hcl")
    assert diag.subject.start.line == 2


def test_unknown_top_level_block_suggests_the_right_one(write: Write) -> None:
    path = write({"t.pkr.hcl": SOURCE + 'varible "x" {}\n'})
    diag = errors(path).errors[0]
    assert diag.summary == "Unsupported block type"
    assert 'Did you mean "variable"' in diag.detail
    assert diag.subject is not None and diag.subject.start.line == 7


def test_unknown_attribute_in_variable_suggests_the_right_one(write: Write) -> None:
    path = write({"t.pkr.hcl": SOURCE + 'variable "x" {\n  defualt = 1\n}\n'})
    diag = errors(path).errors[0]
    assert diag.summary == "Unsupported argument"
    assert 'Did you mean "default"' in diag.detail


def test_attribute_at_top_level_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": SOURCE + "x = 1\n"})
    assert "Unsupported argument" in summaries(errors(path))


def test_duplicate_argument_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": SOURCE + 'variable "x" {\n  default = 1\n  default = 2\n}\n'})
    assert "Duplicate argument" in summaries(errors(path))


# -- packer block ------------------------------------------------------------


@pytest.mark.parametrize("constraint", [">= 1.7.0", "~> 1.10", ">= 1.5, < 2.0.0", "> 1"])
def test_required_version_constraints_that_kiln_satisfies(write: Write, constraint: str) -> None:
    ok(write({"t.pkr.hcl": f'packer {{\n  required_version = "{constraint}"\n}}\n' + SOURCE}))


def test_unsatisfied_required_version_is_reported_first(write: Write) -> None:
    path = write(
        {"t.pkr.hcl": 'packer {\n  required_version = ">= 9.0"\n}\n' + SOURCE + "broken {}\n"}
    )
    diags = errors(path)
    assert diags.errors[0].summary == "Unsupported Packer Core version"


def test_required_plugins_are_parsed(write: Write) -> None:
    path = write(
        {
            "t.pkr.hcl": """
            packer {
              required_plugins {
                amazon = {
                  source  = "github.com/hashicorp/amazon"
                  version = ">= 1.2.0, < 2.0.0"
                }
              }
            }
            """
            + SOURCE
        }
    )
    plugin = ok(path).required_plugins["amazon"]
    assert (plugin.source, plugin.version) == ("github.com/hashicorp/amazon", ">= 1.2.0, < 2.0.0")


def test_a_pre_release_constraint_is_accepted(write: Write) -> None:
    # Packer refuses it; in kiln it is how a template asks for pre-releases.
    entry = 'amazon = { source = "github.com/hashicorp/amazon", version = ">= 1.2.0-beta1" }'
    path = write(
        {"t.pkr.hcl": f"packer {{\n  required_plugins {{\n    {entry}\n  }}\n}}\n" + SOURCE}
    )
    assert ok(path).required_plugins["amazon"].version == ">= 1.2.0-beta1"


@pytest.mark.parametrize(
    ("entry", "detail_part"),
    [
        ('amazon = ">= 1"', "must be an object"),
        ('amazon = { source = "hashicorp/amazon", version = ">= 1" }', "at least 3"),
        ('amazon = { source = "https://github.com/hashicorp/amazon" }', "no scheme"),
        (
            'amazon = { source = "github.com/hashicorp/packer-plugin-amazon" }',
            '"github.com/hashicorp/amazon"',
        ),
        ('amazon = { source = "github.com/hashicorp/amazon", version = "foo" }', "malformed"),
        ('amazon = { source = "github.com/hashicorp/amazon", versions = ">= 1" }', "versions"),
    ],
)
def test_invalid_plugin_requirements(write: Write, entry: str, detail_part: str) -> None:
    path = write(
        {"t.pkr.hcl": f"packer {{\n  required_plugins {{\n    {entry}\n  }}\n}}\n" + SOURCE}
    )
    details = " ".join(d.detail for d in errors(path).errors)
    assert detail_part in details


def test_duplicate_required_plugin_key_is_an_error(write: Write) -> None:
    body = 'a = { source = "github.com/x/a" }\n    a = { source = "github.com/x/a" }'
    path = write(
        {"t.pkr.hcl": f"packer {{\n  required_plugins {{\n    {body}\n  }}\n}}\n" + SOURCE}
    )
    assert "Duplicate argument" in summaries(errors(path))


# -- variables ---------------------------------------------------------------

PRECEDENCE = """
variable "v" {
  type    = string
  default = "default"
}
"""


def test_variable_precedence(write: Write) -> None:
    path = write(
        {
            "t.pkr.hcl": PRECEDENCE + SOURCE,
            "a.auto.pkrvars.hcl": 'v = "auto-a"\n',
            "b.auto.pkrvars.hcl": 'v = "auto-b"\n',
            "one.pkrvars.hcl": 'v = "file-one"\n',
            "two.pkrvars.json": '{"v": "file-two"}\n',
        }
    )
    env = {"PKR_VAR_v": "env"}

    def value(**opts: object) -> str:
        template, diags = load(str(path), LoadOptions(**opts))  # type: ignore[arg-type]
        assert template is not None and not diags.has_errors
        return str(template.variables["v"].value)

    bare = write({"bare/t.pkr.hcl": PRECEDENCE + SOURCE}) / "bare"
    template, _ = load(str(bare), LoadOptions(env={}))
    assert template is not None and template.variables["v"].value == "default"
    template, _ = load(str(bare), LoadOptions(env=env))
    assert template is not None and template.variables["v"].value == "env"
    assert value(env=env) == "auto-b"  # auto files beat env; later (alphabetical) wins
    files = [str(path / "one.pkrvars.hcl"), str(path / "two.pkrvars.json")]
    assert value(env=env, var_files=files) == "file-two"
    assert value(env=env, var_files=files[::-1]) == "file-one"
    assert value(env=env, var_files=files, vars=[("v", "cli1"), ("v", "cli2")]) == "cli2"


def test_auto_var_files_load_only_for_folders(write: Write) -> None:
    path = write({"t.pkr.hcl": PRECEDENCE + SOURCE, "x.auto.pkrvars.hcl": 'v = "auto"\n'})
    assert ok(path / "t.pkr.hcl").variables["v"].value == "default"
    assert ok(path).variables["v"].value == "auto"


def test_misspelt_auto_var_file_is_not_loaded(write: Write) -> None:
    path = write({"t.pkr.hcl": PRECEDENCE + SOURCE, "x.auto.pkrvrs.hcl": 'v = "auto"\n'})
    assert ok(path).variables["v"].value == "default"


def test_cli_and_env_values_are_literal_for_string_and_number(write: Write) -> None:
    path = write(
        {
            "t.pkr.hcl": """
            variable "s" { type = string }
            variable "n" { type = number }
            variable "u" {}
            variable "l" { type = list(string) }
            variable "m" { type = map(number) }
            variable "b" { type = bool }
            """
            + SOURCE
        }
    )
    template = ok(
        path,
        vars=[
            ("s", '["not", "parsed"]'),
            ("n", "42"),
            ("u", "[1]"),
            ("l", '["a", "b"]'),
            ("m", "{x = 1}"),
            ("b", "true"),
        ],
    )
    values = {n: v.value for n, v in template.variables.items()}
    assert values == {
        "s": '["not", "parsed"]',
        "n": 42,
        "u": "[1]",
        "l": ["a", "b"],
        "m": {"x": 1},
        "b": True,
    }


def test_undeclared_cli_variable_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": SOURCE})
    assert "Undefined -var variable" in summaries(errors(path, vars=[("nope", "1")]))


def test_undeclared_var_file_entry_warns_in_validate(write: Write) -> None:
    path = write({"t.pkr.hcl": SOURCE, "x.pkrvars.hcl": "nope = 1\n"})
    template, diags = load(str(path), LoadOptions(env={}, var_files=[str(path / "x.pkrvars.hcl")]))
    assert template is not None and not diags.has_errors
    assert [d.summary for d in diags.warnings] == ["Undefined variable"]
    _, quiet = load(
        str(path),
        LoadOptions(env={}, var_files=[str(path / "x.pkrvars.hcl")], warn_undeclared_vars=False),
    )
    assert not quiet.warnings


def test_undeclared_env_variable_is_ignored(write: Write) -> None:
    template, diags = load(str(write({"t.pkr.hcl": SOURCE})), LoadOptions(env={"PKR_VAR_x": "1"}))
    assert template is not None and not diags.items


def test_variable_block_in_var_file_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": PRECEDENCE + SOURCE, "x.pkrvars.hcl": 'variable "v" {}\n'})
    diags = errors(path, var_files=[str(path / "x.pkrvars.hcl")])
    assert "Variable declaration in a .pkrvar file" in summaries(diags)


def test_var_file_with_unknown_extension_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": SOURCE, "x.txt": "v = 1\n"})
    assert "Could not guess format of var file" in summaries(
        errors(path, var_files=[str(path / "x.txt")])
    )


def test_unset_variable_is_an_error_even_if_unused(write: Write) -> None:
    path = write({"t.pkr.hcl": 'variable "foo" {}\n' + SOURCE})
    diag = errors(path).errors[0]
    assert diag.summary == 'Unset variable "foo"'
    assert diag.subject is not None and diag.subject.start.line == 1


def test_type_is_inferred_from_default_and_values_converted(write: Write) -> None:
    path = write(
        {
            "t.pkr.hcl": """
            variable "n" {
              type    = number
              default = "5"
            }
            variable "l" {
              type    = list(string)
              default = [1, true]
            }
            """
            + SOURCE
        }
    )
    template = ok(path)
    assert template.variables["n"].value == 5
    assert template.variables["l"].value == ["1", "true"]


def test_invalid_default_for_the_type_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": 'variable "x" {\n  type    = list(string)\n  default = true\n}\n'})
    diag = errors(path).errors[0]
    assert diag.summary == "Invalid default value for variable"
    assert diag.subject is not None and diag.subject.start.line == 3


def test_value_of_the_wrong_type_names_where_it_came_from(write: Write) -> None:
    path = write({"t.pkr.hcl": 'variable "x" {\n  type = number\n}\n' + SOURCE})
    diag = errors(path, vars=[("x", "abc")]).errors[0]
    assert "-var" in diag.detail


def test_invalid_type_keyword_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": 'variable "x" {\n  type = strng\n  default = ""\n}\n' + SOURCE})
    diag = errors(path).errors[0]
    assert diag.summary == "Invalid type specification"
    assert 'Did you mean "string"' in diag.detail


def test_duplicate_variable_is_an_error(write: Write) -> None:
    path = write(
        {"t.pkr.hcl": 'variable "x" {\n  default = 1\n}\nvariable "x" {\n  default = 2\n}\n'}
    )
    assert "Duplicate variable" in summaries(errors(path))


def test_variables_block_declares_variables_with_defaults(write: Write) -> None:
    path = write({"t.pkr.hcl": 'variables {\n  a = "x"\n  b = 2\n}\n' + SOURCE})
    template = ok(path)
    assert {n: v.value for n, v in template.variables.items()} == {"a": "x", "b": 2}


def test_env_function_works_in_defaults_only(write: Write) -> None:
    path = write({"t.pkr.hcl": 'variable "h" {\n  default = env("KILN_TEST_HOME")\n}\n' + SOURCE})
    monkey_env = {"KILN_TEST_HOME": "/home/x"}
    import os

    old = os.environ.get("KILN_TEST_HOME")
    os.environ.update(monkey_env)
    try:
        assert ok(path).variables["h"].value == "/home/x"
    finally:
        if old is None:
            del os.environ["KILN_TEST_HOME"]
    bad = write({"u.pkr.hcl": 'locals {\n  h = env("HOME")\n}\n'})
    assert "Call to unknown function" in summaries(errors(bad / "u.pkr.hcl"))


def test_variable_default_may_not_reference_variables(write: Write) -> None:
    path = write({"t.pkr.hcl": 'variable "a" {\n  default = var.b\n}\n' + SOURCE})
    assert "Variables not allowed" in summaries(errors(path))


def test_non_nullable_variable_rejects_null(write: Write) -> None:
    path = write(
        {"t.pkr.hcl": 'variable "a" {\n  nullable = false\n  default = null\n}\n' + SOURCE}
    )
    assert "Invalid value for variable" in summaries(errors(path))


VALIDATED = """
variable "image" {
  type    = string
  default = "ami-123"
  validation {
    condition     = length(var.image) > 4 && substr(var.image, 0, 4) == "ami-"
    error_message = "The image value must be a valid AMI id, starting with \\"ami-\\"."
  }
}
"""


def test_variable_validation_passes_and_fails(write: Write) -> None:
    path = write({"t.pkr.hcl": VALIDATED + SOURCE})
    ok(path)
    diag = errors(path, vars=[("image", "nope")]).errors[0]
    assert diag.summary == "Invalid value for variable"
    assert 'must be a valid AMI id, starting with "ami-".' in diag.detail


def test_invalid_default_fails_validation_at_the_default(write: Write) -> None:
    path = write({"t.pkr.hcl": VALIDATED.replace('"ami-123"', '"xyz"') + SOURCE})
    assert "Invalid value for variable" in summaries(errors(path))


def test_validation_error_message_must_be_a_sentence(write: Write) -> None:
    text = VALIDATED.replace('"The image value', '"the image value')
    assert "Invalid validation error message" in summaries(errors(write({"t.pkr.hcl": text})))


def test_validation_condition_may_only_use_its_own_variable(write: Write) -> None:
    text = 'variable "o" {\n  default = 1\n}\n' + VALIDATED.replace(
        "length(var.image) > 4", "var.o > 0"
    )
    assert "Invalid variable validation condition" in summaries(errors(write({"t.pkr.hcl": text})))


def test_sensitive_values_are_redacted_from_output(write: Write) -> None:
    path = write(
        {
            "t.pkr.hcl": 'variable "pw" {\n  sensitive = true\n  default = "hunter2"\n}\n'
            'variable "keys" {\n  sensitive = true\n  default = ["k-one", "k-two"]\n}\n' + SOURCE
        }
    )
    template = ok(path)
    assert template.variables["pw"].sensitive
    assert (
        redact_text("pw=hunter2 keys=k-one,k-two") == "pw=<sensitive> keys=<sensitive>,<sensitive>"
    )


# -- locals and data ---------------------------------------------------------


def test_locals_are_evaluated_in_dependency_order(write: Write) -> None:
    path = write(
        {
            "a.pkr.hcl": 'locals {\n  c = "${local.b}-c"\n}\n',
            "b.pkr.hcl": 'locals {\n  b = "${local.a}-b"\n  a = upper(var.v)\n}\n'
            'variable "v" {\n  default = "x"\n}\n' + SOURCE,
        }
    )
    template = ok(path)
    assert {n: lc.value for n, lc in template.locals.items()} == {
        "c": "X-b-c",
        "b": "X-b",
        "a": "X",
    }


def test_local_block_long_form_and_sensitive(write: Write) -> None:
    path = write(
        {"t.pkr.hcl": 'local "secret" {\n  expression = "s3cr3t"\n  sensitive = true\n}\n' + SOURCE}
    )
    template = ok(path)
    assert template.locals["secret"].value == "s3cr3t"
    assert redact_text("s3cr3t") == "<sensitive>"


def test_cycle_in_locals_names_the_cycle(write: Write) -> None:
    path = write(
        {"t.pkr.hcl": "locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\n" + SOURCE}
    )
    diag = errors(path).errors[0]
    assert diag.summary == "Cycle in local values and data sources"
    assert "local.a -> local.b -> local.c -> local.a" in diag.detail


def test_cycle_through_data_sources_is_detected(write: Write) -> None:
    path = write(
        {
            "t.pkr.hcl": 'data "null" "d" {\n  input = local.a\n}\n'
            "locals {\n  a = data.null.d.output\n}\n" + SOURCE
        }
    )
    assert "Cycle in local values and data sources" in summaries(errors(path))


def test_duplicate_local_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": "locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\n" + SOURCE})
    assert "Duplicate local definition" in summaries(errors(path))


def test_data_sources_are_unknown_until_a_plugin_runs_them(write: Write) -> None:
    path = write(
        {
            "t.pkr.hcl": 'data "amazon-ami" "x" {\n  owners = ["self"]\n}\n'
            "locals {\n  id = data.amazon-ami.x.id\n}\n" + SOURCE
        }
    )
    from kiln.hcl.values import UNKNOWN

    assert ok(path).locals["id"].value is UNKNOWN


def test_data_source_executor_supplies_values(write: Write) -> None:
    path = write(
        {
            "t.pkr.hcl": 'data "static" "x" {\n  v = "in"\n}\n'
            "locals {\n  out = data.static.x.v\n}\n" + SOURCE
        }
    )
    template = ok(path, execute_datasource=lambda ds, config: {"v": config["v"] + "-out"})
    assert template.locals["out"].value == "in-out"


# -- sources and builds ------------------------------------------------------

BUILDS = """
variable "wait" {
  default = "2s"
}
source "null" "chocolate" {
  communicator = "none"
}
source "null" "vanilla" {
  communicator = "none"
}
build {
  name        = "desserts"
  description = "two flavours"
  sources     = ["source.null.chocolate"]
  source "source.null.vanilla" {
    name = "pear"
  }
  provisioner "shell-local" {
    name         = "first"
    only         = ["null.pear"]
    pause_before = var.wait
    max_retries  = 3
    timeout      = "1m30s"
    inline       = ["echo ${source.name}"]
  }
  provisioner "shell-local" {
    except   = ["null.chocolate"]
    override = { pear = { inline = ["echo pear"] } }
    inline   = ["echo"]
  }
  error-cleanup-provisioner "shell-local" {
    inline = ["echo cleanup"]
  }
  post-processor "manifest" {
    keep_input_artifact = true
  }
  post-processors {
    post-processor "checksum" {
      name = "sums"
    }
    post-processor "compress" {}
  }
}
"""


def test_builds_sources_provisioners_and_post_processors(write: Write) -> None:
    template = ok(write({"t.pkr.hcl": BUILDS}))
    (build,) = template.builds
    assert (build.name, build.description) == ("desserts", "two flavours")
    assert [s.ref for s in build.sources] == ["null.chocolate", "null.pear"]
    assert build.sources[1].alias == "pear"
    first, second = build.provisioners
    assert (first.name, first.only, first.pause_before, first.max_retries, first.timeout) == (
        "first",
        ["null.pear"],
        2.0,
        3,
        90.0,
    )
    assert second.except_ == ["null.chocolate"]
    assert second.override == {"pear": {"inline": ["echo pear"]}}
    assert build.error_cleanup_provisioner is not None
    chains = [[pp.display_name for pp in chain] for chain in build.post_processors]
    assert chains == [["manifest"], ["sums", "compress"]]
    assert build.post_processors[0][0].keep_input_artifact is True


def test_unknown_source_reference_lists_known_ones(write: Write) -> None:
    path = write(
        {"t.pkr.hcl": 'source "file" "chocolate" {}\nbuild {\n  sources = ["source.file.cho"]\n}\n'}
    )
    diag = errors(path).errors[0]
    assert diag.summary == "Unknown source file.cho"
    assert "Known: [file.chocolate]" in diag.detail
    assert diag.subject is not None and diag.subject.start.line == 3


def test_invalid_source_reference(write: Write) -> None:
    path = write({"t.pkr.hcl": 'source "file" "a" {}\nbuild {\n  sources = ["ami"]\n}\n'})
    assert "Invalid source reference" in summaries(errors(path))


def test_source_references_may_be_traversals(write: Write) -> None:
    path = write({"t.pkr.hcl": 'source "file" "a" {}\nbuild {\n  sources = [source.file.a]\n}\n'})
    assert ok(path).builds[0].sources[0].ref == "file.a"


def test_build_without_sources_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": 'source "file" "a" {}\nbuild {\n}\n'})
    assert "Missing source reference" in summaries(errors(path))


def test_duplicate_source_is_an_error(write: Write) -> None:
    path = write({"t.pkr.hcl": 'source "file" "a" {}\nsource "file" "a" {}\n'})
    assert "Duplicate source block" in summaries(errors(path))


def test_two_error_cleanup_provisioners_is_an_error(write: Write) -> None:
    text = BUILDS.replace(
        'error-cleanup-provisioner "shell-local" {',
        'error-cleanup-provisioner "shell-local" {}\n  error-cleanup-provisioner "shell-local" {',
    )
    assert "Only one error-cleanup-provisioner is allowed" in summaries(
        errors(write({"t.pkr.hcl": text}))
    )


@pytest.mark.parametrize(
    ("old", "new", "summary"),
    [
        ("pause_before = var.wait", 'pause_before = "5"', "Invalid pause_before"),
        ('timeout      = "1m30s"', 'timeout = "soon"', "Invalid timeout"),
        ("max_retries  = 3", 'max_retries = "x"', "Invalid max_retries"),
        (
            'only         = ["null.pear"]',
            'only = ["a"]\n    except = ["b"]',
            "Only one of only or except",
        ),
        (
            "keep_input_artifact = true",
            'keep_input_artifact = "maybe"',
            "Invalid keep_input_artifact",
        ),
    ],
)
def test_invalid_meta_arguments(write: Write, old: str, new: str, summary: str) -> None:
    assert old in BUILDS
    assert summary in summaries(errors(write({"t.pkr.hcl": BUILDS.replace(old, new)})))


def test_hcp_packer_registry_is_parsed_with_a_warning(write: Write) -> None:
    path = write(
        {
            "t.pkr.hcl": SOURCE.replace(
                "build {", 'build {\n  hcp_packer_registry {\n    bucket_name = "x"\n  }'
            )
        }
    )
    template, diags = load(str(path), LoadOptions(env={}))
    assert template is not None and not diags.has_errors
    assert template.hcp_packer_registry
    assert "does nothing" in diags.warnings[0].summary


def test_syntax_only_skips_values(write: Write) -> None:
    path = write({"t.pkr.hcl": 'variable "foo" {}\n' + SOURCE})
    template, diags = load(str(path), LoadOptions(env={}, syntax_only=True))
    assert template is not None and not diags.has_errors


def test_dynamic_blocks_expand_in_component_config(write: Write) -> None:
    from kiln.hcl.loader import build_scope, evaluate_body

    path = write(
        {
            "t.pkr.hcl": """
            variable "disks" {
              default = { sda = 10, sdb = 20 }
            }
            source "null" "a" {
              communicator = "none"
              dynamic "disk" {
                for_each = var.disks
                iterator = d
                content {
                  device = "/dev/${d.key}"
                  size   = d.value
                }
              }
            }
            build {
              sources = ["source.null.a"]
            }
            """
        }
    )
    template = ok(path)
    config, diags = evaluate_body(
        template.sources[("null", "a")].body, build_scope(template, "null", "a")
    )
    assert not diags
    assert config["disk"] == [
        {"device": "/dev/sda", "size": 10},
        {"device": "/dev/sdb", "size": 20},
    ]
