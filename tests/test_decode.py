"""Decoding component blocks into their declared configuration (kiln.hcl.decode)."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from kiln.hcl.decode import MergedBody, config_error, decode, fully_known
from kiln.hcl.eval import NativeBody, Scope
from kiln.hcl.jsonsyntax import parse_json_body
from kiln.hcl.syntax import parse_file
from kiln.hcl.values import UNKNOWN
from kiln.sdk import Config, ConfigError, Duration, option


class Mapping_(Config):
    device_name: str = option(required=True, doc="The device.")
    volume_size: int = option(8, doc="GiB.")


class Sample(Config):
    name: str = option(required=True, doc="A name.")
    count: int = option(1, doc="How many.")
    ratio: float = option(0.5, doc="A ratio.")
    enabled: bool = option(False, doc="On or off.")
    timeout: Duration = option(Duration(300), doc="How long.")
    tags: dict[str, str] = option(default_factory=dict, doc="Tags.")
    inline: list[str] = option(default_factory=list, doc="Lines.")
    direction: Literal["upload", "download"] = option("upload", doc="Which way.")
    password: str = option("", sensitive=True, doc="Secret.")
    mapping: list[Mapping_] = option(default_factory=list, doc="Repeatable block.")
    single: Mapping_ | None = option(None, doc="A single block.")
    anything: Any = option(None, doc="Any value.")


def native(text: str) -> NativeBody:
    return NativeBody(parse_file(text, "t.pkr.hcl"))


def run(text: str, scope: Scope | None = None, **kw: Any) -> tuple[Any, list[Any]]:
    return decode(Sample, native(text), scope or Scope(), 'a "sample" source', **kw)


def test_values_are_converted_to_the_declared_types() -> None:
    config, diags = run(
        'name = 42\ncount = "3"\nratio = 2\nenabled = "true"\ntimeout = "1m30s"\n'
        'tags = { a = 1 }\ninline = ["x", 2]\ndirection = "download"\n'
    )
    assert diags == []
    assert config.name == "42" and config.count == 3 and config.ratio == 2.0
    assert config.enabled is True and config.timeout == 90.0
    assert config.tags == {"a": "1"} and config.inline == ["x", "2"]
    assert config.direction == "download"
    assert config.is_set("count") and not config.is_set("password")


def test_defaults_fill_what_is_not_set_and_null_means_default() -> None:
    config, diags = run('name = "n"\ncount = null\n')
    assert diags == []
    assert config.count == 1 and config.tags == {} and config.timeout == 300


def test_an_unknown_argument_is_an_error_with_a_suggestion_and_its_position() -> None:
    _, diags = run('name = "n"\ncuont = 2\n')
    assert [d.summary for d in diags] == ["Unsupported argument"]
    assert 'Did you mean "count"?' in diags[0].detail
    assert 'in a "sample" source' in diags[0].detail
    assert (diags[0].subject.start.line, diags[0].subject.start.column) == (2, 1)


def test_a_missing_required_argument_is_reported_at_the_block() -> None:
    _, diags = run("count = 2\n")
    assert [d.summary for d in diags] == ["Missing required argument"]
    assert '"name" is required' in diags[0].detail


def test_a_value_of_the_wrong_type_is_reported_at_its_expression() -> None:
    _, diags = run('name = "n"\ncount = "many"\n')
    assert [d.summary for d in diags] == ["Incorrect attribute value type"]
    assert diags[0].subject.start.line == 2 and diags[0].subject.start.column == 9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("count = 1.5", "whole number"),
        ('timeout = "5 minutes"', 'unknown unit " minutes" in duration "5 minutes"'),
        ('direction = "sideways"', 'must be one of "upload", "download"'),
        ("inline = 3", "list of string required"),
        ("tags = [1]", "map of string required"),
    ],
)
def test_bad_values_say_what_is_expected(text: str, message: str) -> None:
    _, diags = run(f'name = "n"\n{text}\n')
    assert len(diags) == 1 and message in diags[0].detail


def test_nested_blocks_repeat_and_are_checked() -> None:
    config, diags = run(
        'name = "n"\nmapping {\n  device_name = "/dev/a"\n}\n'
        'mapping {\n  device_name = "/dev/b"\n  volume_size = 20\n}\n'
        'single {\n  device_name = "x"\n}\n'
    )
    assert diags == []
    assert [(m.device_name, m.volume_size) for m in config.mapping] == [
        ("/dev/a", 8),
        ("/dev/b", 20),
    ]
    assert config.single.device_name == "x"
    _, diags = run('name = "n"\nmapping {\n  volume_size = 1\n  devise = 2\n}\n')
    assert sorted(d.summary for d in diags) == ["Missing required argument", "Unsupported argument"]


def test_a_single_block_may_not_repeat() -> None:
    _, diags = run('name = "n"\nsingle {\n device_name = "a"\n}\nsingle {\n device_name = "b"\n}\n')
    assert [d.summary for d in diags] == ["Duplicate block"]


def test_an_unknown_block_type_is_an_error() -> None:
    _, diags = run('name = "n"\nmaping {\n}\n')
    assert [d.summary for d in diags] == ["Unsupported block type"]
    assert 'Did you mean "mapping"?' in diags[0].detail


def test_dynamic_blocks_generate_nested_blocks() -> None:
    config, diags = run(
        'name = "n"\ndynamic "mapping" {\n  for_each = ["a", "b"]\n'
        "  content {\n    device_name = mapping.value\n  }\n}\n"
    )
    assert diags == []
    assert [m.device_name for m in config.mapping] == ["a", "b"]


def test_json_templates_give_blocks_as_objects() -> None:
    body = parse_json_body(
        '{"name": "n", "mapping": [{"device_name": "a"}], "single": {"device_name": "s"}}',
        "t.pkr.json",
    )
    config, diags = decode(Sample, body, Scope(), "x")
    assert diags == []
    assert config.mapping[0].device_name == "a" and config.single.device_name == "s"
    body = parse_json_body('{"name": "n", "mapping": [{"devise": "a"}]}', "t.pkr.json")
    _, diags = decode(Sample, body, Scope(), "x")
    assert 'unsupported argument "devise"' in diags[0].detail


def test_unknown_values_pass_through_for_validate() -> None:
    scope = Scope(values={"build": {"ID": UNKNOWN}})
    config, diags = run('name = build.ID\ninline = ["echo ${build.ID}"]\n', scope)
    assert diags == []
    assert config.name is UNKNOWN and not fully_known(config)
    config, _ = run('name = "known"\n')
    assert fully_known(config)


def test_overrides_win_over_the_block() -> None:
    config, diags = run('name = "n"\ncount = 2\n', extra={"count": 5})
    assert diags == [] and config.count == 5
    _, diags = run('name = "n"\n', extra={"cuont": 5})
    assert [d.summary for d in diags] == ["Unsupported override"]


def test_a_source_with_build_overrides_merges_them() -> None:
    base = native('name = "base"\ncount = 2\nsingle {\n device_name = "a"\n}\n')
    override = native('name = "alias"\ncount = 3\nsingle {\n device_name = "b"\n}\n')
    config, diags = decode(Sample, MergedBody(base, override), Scope(), "x")
    assert diags == []
    assert (config.name, config.count, config.single.device_name) == ("base", 3, "b")


def test_sensitive_values_are_collected() -> None:
    config, _ = run('name = "n"\npassword = "hunter2"\n')
    assert config.sensitive_values() == ["hunter2"]


def test_a_config_error_points_at_the_option_that_caused_it() -> None:
    config, _ = run('name = "n"\n\ncount = 7\n')
    diag = config_error(ConfigError("too many", option="count"), config)
    assert diag.summary == 'Invalid "count"' and diag.subject.start.line == 3
    diag = config_error(ConfigError("broken"), config)
    assert diag.subject.start.line == 1
