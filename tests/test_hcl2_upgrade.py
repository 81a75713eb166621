"""``kiln hcl2_upgrade``: the HCL2 it writes loads, means what the legacy template meant,
and has the shape ``packer hcl2_upgrade`` (1.6.6) gives the same input."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiln.hcl.model import NO_VALUE, Template
from kiln.hcl.upgrade import hcl_quote, upgrade

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
UPGRADE = LEGACY / "upgrade"


def _upgrade_to(tmp_path: Path, source: Path, **kwargs: Any) -> tuple[Path, list[Any]]:
    """Copy a legacy template into ``tmp_path``, upgrade it, write ``NAME.pkr.hcl``."""
    legacy = tmp_path / source.name
    shutil.copy(source, legacy)
    result = upgrade(str(legacy), **kwargs)
    out = tmp_path / (source.stem + ".pkr.hcl")
    out.write_text(result.text, encoding="utf-8")
    return out, result.diagnostics


def _load(path: Path, **variables: str) -> Template:
    from kiln.hcl.loader import LoadOptions, load

    template, diags = load(str(path), LoadOptions(vars=list(variables.items()), var_files=[]))
    assert template is not None, [f"{d.summary}: {d.detail}" for d in diags]
    assert not diags.has_errors, [f"{d.summary}: {d.detail} {d.subject}" for d in diags]
    return template


# -- comparing models -----------------------------------------------------------


def _normal(value: Any) -> Any:
    """HCL2 nested blocks evaluate to lists of objects where JSON has an object."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], dict):
            return _normal(value[0])
        return [_normal(v) for v in value]
    return value


def _config(body: Any, scope: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    from kiln.hcl.loader import evaluate_body

    values, diags = evaluate_body(body, scope, skip=skip)
    assert diags == [], [f"{d.summary}: {d.detail}" for d in diags]
    return _normal(values)


def _summary(template: Template, ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything a build would do, evaluated: sources, provisioners, post-processors."""
    from kiln.engine.plan import plan
    from kiln.hcl.loader import PROVISIONER_META, build_scope

    builds: dict[str, Any] = {}
    for planned in plan(template):
        scope = build_scope(
            template, planned.source.type, planned.source_name, generated={"ID": "i-0123"}
        )
        source = template.sources[(planned.source.type, planned.source.name)]

        def prov(p: Any, scope: Any = scope) -> tuple[Any, ...]:
            config = _config(p.body, scope, PROVISIONER_META)
            return (p.type, p.only, p.except_, p.pause_before, p.timeout, p.max_retries,
                    p.override, config)  # fmt: skip

        cleanup = planned.build.error_cleanup_provisioner
        builds[planned.source.ref] = {
            "source": {k: v for k, v in _config(source.body, scope).items() if k not in ignore},
            "provisioners": [prov(p) for p in planned.provisioners()],
            "cleanup": prov(cleanup) if cleanup is not None else None,
            "post-processors": [
                [_post_processor(pp, scope) for pp in chain]
                for chain in planned.post_processor_chains()
            ],
        }
    return builds


def _post_processor(pp: Any, scope: Any) -> tuple[Any, ...]:
    from kiln.hcl.loader import POST_PROCESSOR_META

    config = _config(pp.body, scope, POST_PROCESSOR_META)
    return (pp.type, pp.name, pp.only, pp.except_, pp.keep_input_artifact, config)


def _values(template: Template) -> dict[str, Any]:
    out = {n: v.value for n, v in template.variables.items() if v.value is not NO_VALUE}
    out.update({n: lc.value for n, lc in template.locals.items()})
    return out


def _round_trip(tmp_path: Path, name: str, ignore: tuple[str, ...] = (), **variables: str) -> None:
    from kiln.hcl.legacy import load_legacy

    source = UPGRADE / name if (UPGRADE / name).exists() else LEGACY / name
    out, _ = _upgrade_to(tmp_path, source)
    legacy, diags = load_legacy(str(tmp_path / name), [], variables)
    assert not [d for d in diags if d.is_error]
    upgraded = _load(out, **variables)
    assert sorted(upgraded.sources) == sorted(legacy.sources)
    assert _summary(upgraded, ignore) == _summary(legacy, ignore)
    legacy_values = _values(legacy)
    assert {k: v for k, v in _values(upgraded).items() if k in legacy_values} == legacy_values
    sensitive = {n for n, v in legacy.variables.items() if v.sensitive}
    hcl_sensitive = {n for n, v in upgraded.variables.items() if v.sensitive}
    hcl_sensitive |= {n for n, lc in upgraded.locals.items() if lc.sensitive}
    assert hcl_sensitive == sensitive


# -- round trips ------------------------------------------------------------------


def test_round_trip_every_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_TEST_HOME", "/home/kiln")
    _round_trip(tmp_path, "complete.json", required="given")


def test_round_trip_functions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_TEST_HOME", "/home/kiln")
    # {{timestamp}} becomes Packer's local.timestamp (a different format), {{isotime}}
    # becomes timestamp(), {{uuid}} is random, and replace with a count stays as written.
    ignore = ("timestamp", "isotime_default", "uuid", "replace")
    _round_trip(tmp_path, "functions.json", ignore=ignore)


def test_round_trip_escaping(tmp_path: Path) -> None:
    _round_trip(tmp_path, "escaping.json", from_var_file="value")


@pytest.mark.parametrize(
    ("name", "variables"),
    [
        ("basic.json", {"project": "p"}),
        ("minimal.json", {}),
        ("variables.json", {"d_required": "r"}),
    ],
)
def test_round_trip_shape_fixtures(tmp_path: Path, name: str, variables: dict[str, str]) -> None:
    _round_trip(tmp_path, name, ignore=("ami_name",), **variables)


def test_round_trip_example(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "examples" / "legacy"
    shutil.copy(example / "hello.txt", tmp_path / "hello.txt")
    out, diags = _upgrade_to(tmp_path, example / "template.json")
    assert diags == []
    template = _load(out)
    assert sorted(template.sources) == [("docker", "busybox")]


def test_timestamp_and_translations(tmp_path: Path) -> None:
    out, _ = _upgrade_to(tmp_path, UPGRADE / "basic.json")
    text = out.read_text()
    assert 'locals { timestamp = regex_replace(timestamp(), "[- TZ:]", "") }' in text
    assert 'ami_name      = "web-${local.timestamp}"' in text
    assert '"echo ${var.project} on ${build.ID}", "echo run in ${path.cwd}"' in text
    assert 'only        = ["amazon-ebs.web"]' in text
    template = _load(out, project="p")
    local = template.locals["timestamp"].value
    assert len(local) == 14 and local.isdigit()


def test_function_translations(tmp_path: Path) -> None:
    out, _ = _upgrade_to(tmp_path, LEGACY / "functions.json")
    text = out.read_text()
    for expected in (
        'build_name       = "${source.name}"',
        'build_type       = "${source.type}"',
        'isotime          = "${legacy_isotime("2006-01-02 15:04:05 MST")}"',
        'isotime_default  = "${timestamp()}"',
        'strftime         = "${legacy_strftime("%Y-%m-%d")}"',
        'packer_version   = "${packer.version}"',
        'template_dir     = "${abspath(path.root)}"',
        'pwd              = "${path.cwd}"',
        'build_data       = "${build.ID}"',
        'pipe             = "${lower(var.name)}"',
        'split            = "${split(",", (var.csv))[1]}"',
        'replace_negative = "${replace("banana", "a", "x")}"',
        'replace_all      = "${replace("banana", "a", "o")}"',
        'passthrough      = "http://{{ .HTTPIP }}:{{ .HTTPPort }}/${var.name}"',
        'default = "${env("KILN_TEST_HOME")}"',
    ):
        assert expected in text, expected


def test_build_names_stay_the_builder_names(tmp_path: Path) -> None:
    out, _ = _upgrade_to(tmp_path, LEGACY / "complete.json")
    text = out.read_text()
    assert 'source "file" "file" {' in text
    assert 'sources = ["source.file.file", "source.null.first"]' in text
    assert 'error-cleanup-provisioner "shell-local" {' in text
    assert "override = {\n      first = {" in text


# -- problems ---------------------------------------------------------------------


def test_untranslatable_calls_are_kept_with_a_comment(tmp_path: Path) -> None:
    out, diags = _upgrade_to(tmp_path, UPGRADE / "untranslatable.json")
    text = out.read_text()
    summaries = [d.summary for d in diags]
    assert summaries.count("Template call kept as written") == 4
    assert "Builder renamed" in summaries
    assert all(not d.is_error for d in diags)
    assert "# kiln hcl2_upgrade: {{ sed `s/a/b/` `abc` }}: sed is deprecated" in text
    assert 'source "null" "dotted_name" {' in text
    assert 'b            = "{{ replace `a` `b` 1 `aaa` }} and ${var.v}"' in text
    assert 'd            = "http://{{ .HTTPIP }}:{{ .HTTPPort }}/"' in text
    template = _load(out)
    assert sorted(template.sources) == [("null", "dotted_name")]


def test_output_is_formatted(tmp_path: Path) -> None:
    from kiln.hcl.fmt import format_source

    for fixture in [LEGACY / "complete.json", UPGRADE / "escaping.json", UPGRADE / "basic.json"]:
        out, _ = _upgrade_to(tmp_path, fixture)
        text = out.read_text()
        assert format_source(text, str(out)) == text


def test_hcl_quote() -> None:
    assert hcl_quote('a "b" \\ ${c} %{d}\n') == '"a \\"b\\" \\\\ $${c} %%{d}\\n"'


# -- the command ------------------------------------------------------------------


def loads_cleanly(path: Path, **variables: str) -> bool:
    """The upgraded template loads with no error (its components' plugins aside: the
    amazon and manifest components come with their plugins)."""
    from kiln.hcl.loader import LoadOptions, load

    template, diags = load(str(path), LoadOptions(vars=list(variables.items())))
    return template is not None and not diags.has_errors


def test_cli_default_output_name(tmp_path: Path, kiln: Callable[..., Any]) -> None:
    legacy = tmp_path / "template.json"
    shutil.copy(LEGACY / "complete.json", legacy)
    result = kiln("hcl2_upgrade", str(legacy))
    assert result.code == 0, result.err
    out = tmp_path / "template.json.pkr.hcl"
    assert result.out == f"Successfully created {out}\n"
    assert out.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["template.json", "template.json.pkr.hcl"]
    assert loads_cleanly(out, required="x")


def test_cli_output_file_in_a_new_folder(tmp_path: Path, kiln: Callable[..., Any]) -> None:
    out = tmp_path / "new" / "dir" / "main.pkr.hcl"
    result = kiln("hcl2_upgrade", f"-output-file={out}", str(UPGRADE / "minimal.json"))
    assert result.code == 0, result.err
    assert 'source "file" "note" {' in out.read_text()


def test_cli_annotations(tmp_path: Path, kiln: Callable[..., Any]) -> None:
    out = tmp_path / "annotated.pkr.hcl"
    result = kiln(
        "hcl2_upgrade", "-with-annotations", "-output-file", str(out), str(UPGRADE / "basic.json")
    )
    assert result.code == 0, result.err
    text = out.read_text()
    assert text.startswith("# Generated by 'kiln hcl2_upgrade'")
    assert "# One source block per builder." in text
    assert loads_cleanly(out, project="p")
    plain = tmp_path / "plain.pkr.hcl"
    kiln("hcl2_upgrade", "-output-file", str(plain), str(UPGRADE / "basic.json"))
    assert "#" not in plain.read_text()


def test_cli_invalid_json(tmp_path: Path, kiln: Callable[..., Any]) -> None:
    legacy = tmp_path / "bad.json"
    shutil.copy(LEGACY / "errors" / "invalid_json.json", legacy)
    result = kiln("hcl2_upgrade", str(legacy))
    assert result.code == 1
    assert "Error: Trailing comma in object" in result.err
    assert "line 5, column 1" in result.err
    assert "Traceback" not in result.err
    assert list(tmp_path.iterdir()) == [legacy]


def test_cli_structure_errors(tmp_path: Path, kiln: Callable[..., Any]) -> None:
    result = kiln(
        "hcl2_upgrade",
        "-output-file",
        str(tmp_path / "x.pkr.hcl"),
        str(LEGACY / "errors" / "unknown_root_key.json"),
    )
    assert result.code == 1
    assert 'Did you mean "provisioners"?' in result.err
    assert not (tmp_path / "x.pkr.hcl").exists()


def test_cli_refuses_hcl_and_missing_files(tmp_path: Path, kiln: Callable[..., Any]) -> None:
    hcl = tmp_path / "a.pkr.hcl"
    hcl.write_text("")
    result = kiln("hcl2_upgrade", str(hcl))
    assert (result.code, "already an HCL2 configuration" in result.err) == (1, True)
    result = kiln("hcl2_upgrade", str(tmp_path / "missing.json"))
    assert (result.code, "does not exist" in result.err) == (1, True)
    result = kiln("hcl2_upgrade")
    assert result.code == 1 and "exactly one template path" in result.err
    result = kiln("hcl2_upgrade", "-bogus", "x.json")
    assert result.code == 1 and "flag provided but not defined: -bogus" in result.err


def test_cli_unwritable_output(tmp_path: Path, kiln: Callable[..., Any]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = kiln(
        "hcl2_upgrade", "-output-file", str(blocker / "x.pkr.hcl"), str(UPGRADE / "minimal.json")
    )
    assert result.code == 1
    assert "Error: Failed to write the output file" in result.err


def test_cli_help(kiln: Callable[..., Any]) -> None:
    result = kiln("hcl2_upgrade", "-h")
    assert result.code == 0
    assert result.out.startswith("Usage: kiln hcl2_upgrade [options] TEMPLATE")
    assert "-with-annotations" in result.out


# -- the shape of Packer 1.6.6's output ------------------------------------------------


def _shape(text: str, filename: str) -> list[Any]:
    """Blocks (type, labels) and attribute names, in order, comments and values aside."""
    from kiln.hcl.eval import NativeBody
    from kiln.hcl.syntax import parse_file

    def walk(body: Any) -> list[Any]:
        attrs, blocks = body.all_items()
        return [*attrs, *[(b.type, b.labels, walk(b.body)) for b in blocks]]

    items = walk(NativeBody(parse_file(text, filename)))
    # Packer 1.6.6 writes the timestamp local even when nothing uses it.
    return [i for i in items if not (isinstance(i, tuple) and i[:2] == ("locals", []))]


@pytest.mark.packer
@pytest.mark.parametrize("name", ["basic.json", "minimal.json", "variables.json"])
def test_shape_matches_packer(
    tmp_path: Path, name: str, packer: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = tmp_path / name
    shutil.copy(UPGRADE / name, legacy)
    packer_out = tmp_path / "packer.pkr.hcl"
    done = packer("hcl2_upgrade", "-output-file", str(packer_out), str(legacy), cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    expected = _shape(packer_out.read_text(), str(packer_out))
    monkeypatch.chdir(tmp_path)
    result = upgrade(str(legacy))
    assert _shape(result.text, "kiln.pkr.hcl") == expected
    locals_in_kiln = 'locals { timestamp = regex_replace(timestamp(), "[- TZ:]", "") }'
    assert (locals_in_kiln in result.text) == ("{{timestamp}}" in legacy.read_text())


@pytest.mark.packer
def test_packer_accepts_what_kiln_writes(
    tmp_path: Path, packer: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packer 1.6.6 validates kiln's upgrade of a template that uses no function newer
    than 1.6.6 (legacy_isotime came later)."""
    out, _ = _upgrade_to(tmp_path, UPGRADE / "variables.json")
    done = packer("validate", "-var", "d_required=x", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    assert os.path.exists(out)


def test_variables_only_and_invalid_names(tmp_path: Path) -> None:
    legacy = tmp_path / "vars.json"
    legacy.write_text('{"variables": {"ok": "1", "not.valid": "2"}}')
    result = upgrade(str(legacy))
    assert [d.summary for d in result.diagnostics] == ["Variable left out"]
    assert result.text == 'variable "ok" {\n  type    = string\n  default = "1"\n}\n'
