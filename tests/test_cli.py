"""The validate, inspect, console and version commands, against Packer 1.6.6 where it can."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

Kiln = Callable[..., Result]
Write = Callable[..., Path]
Packer = Callable[..., subprocess.CompletedProcess[str]]

TEMPLATE = """
variable "flavour" {
  type    = string
  default = "chocolate"
}
variable "secret" {
  type      = string
  default   = "hunter2"
  sensitive = true
}
locals {
  greeting = "hello ${var.flavour}"
  numbers  = [for n in [1, 2, 3] : n * 2]
}
source "null" "chocolate" {
  communicator = "none"
}
source "null" "vanilla" {
  communicator = "none"
}
build {
  sources = ["source.null.chocolate", "source.null.vanilla"]
  provisioner "shell-local" {
    inline = ["echo ${local.greeting} from ${source.name}"]
  }
  post-processor "shell-local" {
    inline = ["echo done"]
  }
}
"""


def test_valid_template(kiln: Kiln, write: Write) -> None:
    result = kiln("validate", str(write({"t.pkr.hcl": TEMPLATE})))
    assert (result.code, result.out, result.err) == (0, "The configuration is valid.\n", "")


@pytest.mark.parametrize("style", ["-{}={}", "--{}={}", "-{} {}", "--{} {}"])
def test_flags_take_one_or_two_dashes_and_either_value_form(
    kiln: Kiln, write: Write, style: str
) -> None:
    path = write({"t.pkr.hcl": TEMPLATE})
    args = style.format("var", "flavour=vanilla").split(" ")
    assert kiln("validate", *args, str(path)).code == 0


def test_unknown_flag_names_the_flag(kiln: Kiln, write: Write) -> None:
    result = kiln("validate", "-bogus", str(write({"t.pkr.hcl": TEMPLATE})))
    assert result.code == 1
    assert "-bogus" in result.err
    assert "Traceback" not in result.err


def test_validate_needs_exactly_one_path(kiln: Kiln) -> None:
    result = kiln("validate")
    assert result.code == 1
    assert "exactly one template path" in result.err


def test_error_in_provisioner_config_is_reported_with_its_location(
    kiln: Kiln, write: Write
) -> None:
    path = write({"t.pkr.hcl": TEMPLATE.replace("${local.greeting}", "${local.greting}")})
    result = kiln("validate", str(path))
    assert result.code == 1
    assert "Error: Unsupported attribute" in result.err
    assert "t.pkr.hcl line 23, column" in result.err
    assert '  23:     inline = ["echo ${local.greting} from ${source.name}"]' in result.err
    assert 'Did you mean "greeting"' in result.err
    assert result.err.count("Unsupported attribute") == 1  # once, though two builds use it
    assert result.out == ""


def test_syntax_only_ignores_unset_variables(kiln: Kiln, write: Write) -> None:
    path = write({"t.pkr.hcl": 'variable "foo" {}\n' + TEMPLATE})
    assert kiln("validate", str(path)).code == 1
    result = kiln("validate", "-syntax-only", str(path))
    assert result.code == 0
    assert "Syntax-only check passed" in result.out


EXCEPT = """
source "file" "chocolate" {
  content = "chocolate"
  target  = "chocolate.txt"
}
source "file" "vanilla" {
  content = "vanilla"
  target  = "vanilla.txt"
}
build {
  sources = ["source.file.chocolate", "source.file.vanilla"]
  source "source.file.vanilla" {
    name = "bad"
    content = var.nope
  }
  post-processor "shell-local" {
    name   = "apple"
    inline = [var.missing]
  }
}
"""


def test_only_and_except_choose_what_validate_checks(kiln: Kiln, write: Write) -> None:
    path = str(write({"t.pkr.hcl": EXCEPT}))
    assert kiln("validate", path).code == 1
    assert kiln("validate", "-only=file.chocolate", path).code == 1  # its post-processor fails
    assert kiln("validate", "-except=file.bad,file.chocolate", path).code == 1
    assert kiln("validate", "-only", "file.vanilla", path).code == 1
    fixed = str(write({"t.pkr.hcl": EXCEPT.replace("var.missing", '"ok"')}))
    assert kiln("validate", "-except=file.bad", fixed).code == 0
    assert kiln("validate", "-only=file.b*", fixed).code == 1
    assert kiln("validate", "-only=file.c*,file.v*", fixed).code == 0


def test_validate_agrees_with_packer_on_exit_codes(
    kiln: Kiln, write: Write, packer: Packer
) -> None:
    cases = {
        "valid": TEMPLATE,
        "unset": 'variable "foo" {}\n' + TEMPLATE,
        "unknown-source": TEMPLATE.replace('"source.null.vanilla"', '"source.null.pear"'),
        "bad-block": TEMPLATE + "nope {}\n",
        "bad-ref": TEMPLATE.replace("${var.flavour}", "${var.flavor}"),
        "syntax": TEMPLATE.replace('"chocolate"\n}', '"chocolate"\n'),
        "bad-pause": TEMPLATE.replace(
            'provisioner "shell-local" {', 'provisioner "shell-local" {\n    pause_before = "5"'
        ),
    }
    for name, text in cases.items():
        folder = write({f"{name}/t.pkr.hcl": text}) / name
        ours = kiln("validate", str(folder)).code
        theirs = packer("validate", str(folder)).returncode
        # Packer 1.6.6 crashes (exit 2) on a bad pause_before; kiln reports it (exit 1).
        assert ours in (0, 1)
        assert (ours == 0) == (theirs == 0), (name, ours, theirs)


def test_inspect_matches_packer(kiln: Kiln, write: Write, packer: Packer) -> None:
    text = (
        TEMPLATE.replace("build {", 'build {\n  name = "desserts"')
        + """
variable "aaa" {
  default = "declared last, listed first"
}
locals {
  aardvark = 1
}
build {
  sources = ["source.null.vanilla"]
  provisioner "shell-local" {
    inline = ["one"]
  }
  provisioner "shell-local" {
    inline = ["two"]
  }
  post-processors {
    post-processor "checksum" {}
    post-processor "compress" {}
  }
}
"""
    )
    path = write({"t.pkr.hcl": text})
    ours = kiln("inspect", str(path))
    theirs = packer("inspect", str(path))
    assert ours.code == theirs.returncode == 0
    packers_part, components = ours.out.split("> components:")
    assert packers_part.splitlines()[1:] == theirs.stdout.splitlines()[1:]
    assert ours.out.startswith("kiln inspect: HCL2 mode\n")
    assert "  builder null (kiln " in components
    assert "  post-processor compress (kiln " in components
    assert "hunter2" not in ours.out


def test_inspect_shows_required_plugins_and_data_sources(kiln: Kiln, write: Write) -> None:
    text = (
        'packer {\n  required_plugins {\n    docker = {\n      source = "github.com/hashicorp/'
        'docker"\n      version = ">= 1.0"\n    }\n  }\n}\n'
        'data "amazon-ami" "base" {\n  owners = ["self"]\n}\n' + TEMPLATE
    )
    out = kiln("inspect", str(write({"t.pkr.hcl": text}))).out
    assert "> required-plugins:\n\ndocker: github.com/hashicorp/docker >= 1.0" in out
    assert "> data-sources:\n\ndata.amazon-ami.base" in out


CONSOLE_EXPRESSIONS = [
    "var.flavour",
    "local.greeting",
    "local.numbers",
    "local",
    "var.secret",
    "1/3",
    "2e30",
    "12345678.5",
    "0.00001",
    "{b = 1, a = {c = [{}]}}",
    '[[1], [], "x"]',
    '"multi\\nline"',
    "null",
    "true",
    "source",
    "build",
    "packer.version == packer.version",
    '"quote\\" and tab\\t"',
    '["quote\\" and tab\\t", "é"]',
    "[for k, v in {b = 2, a = 1} : k]",
]


def test_console_prints_what_packer_prints(write: Write, packer: Packer) -> None:
    path = write({"t.pkr.hcl": TEMPLATE})
    for expr in CONSOLE_EXPRESSIONS:
        ours = subprocess.run(
            [sys.executable, "-m", "kiln", "console", str(path)],
            input=expr + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        theirs = packer("console", str(path), stdin=expr + "\n")
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), expr


def test_console_reports_errors_and_goes_on(write: Write) -> None:
    path = write({"t.pkr.hcl": TEMPLATE})
    result = subprocess.run(
        [sys.executable, "-m", "kiln", "console", str(path)],
        input="var.nope\n1 +\nvar.flavour\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == "chocolate\n"
    assert "Unsupported attribute" in result.stderr
    assert "  on <console-input> line 1, column 5:\n     1: var.nope" in result.stderr
    assert "Traceback" not in result.stderr


def test_console_without_a_template(write: Write) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kiln", "console"],
        input="1 + 1\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "2\n")


def test_version(kiln: Kiln) -> None:
    result = kiln("version")
    assert result.code == 0
    assert result.out.startswith("kiln v")
    assert kiln("--version").out == result.out


def test_unknown_command(kiln: Kiln) -> None:
    result = kiln("bogus")
    assert result.code == 127
    assert "unknown command 'bogus'" in result.err


def test_internal_error_prints_a_short_report_and_a_redacted_crash_log(
    kiln: Kiln, write: Write, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kiln.cli import cmd_validate
    from kiln.ui.redact import register_secret

    def boom(argv: list[str]) -> int:
        register_secret("topsecret")
        raise RuntimeError("failed with topsecret inside")

    monkeypatch.setattr(cmd_validate, "run", boom)
    monkeypatch.setenv("KILN_CRASH_DIR", str(tmp_path))
    result = kiln("validate", "x")
    assert result.code == 1
    assert "internal error" in result.err
    assert "Traceback" not in result.err
    log = (tmp_path / "crash.log").read_text()
    assert "RuntimeError" in log and "topsecret" not in log and "<sensitive>" in log


LEGACY = """{
  "description": "demo",
  "variables": {"r": null, "o": "x", "s": "pw"},
  "sensitive-variables": ["s"],
  "builders": [
    {"type": "null", "name": "first", "communicator": "none"},
    {"type": "null", "communicator": "none"}
  ],
  "provisioners": [
    {"type": "shell-local", "inline": ["echo {{user `r`}}"]},
    {"type": "file", "source": "a", "destination": "b"}
  ]
}
"""


def test_inspect_of_a_legacy_template_matches_packer(
    kiln: Kiln, write: Write, packer: Packer
) -> None:
    path = str(write({"t.json": LEGACY}) / "t.json")
    ours = kiln("inspect", "-var", "r=1", path)
    theirs = packer("inspect", "-var", "r=1", path)
    assert ours.code == theirs.returncode == 0
    packers_part = ours.out.split("> components:")[0]
    assert packers_part.splitlines()[1:] == theirs.stdout.splitlines()[1:]
    assert "pw" not in ours.out


def test_legacy_only_matches_builder_names(kiln: Kiln, write: Write) -> None:
    text = LEGACY.replace('"echo {{user `r`}}"', '"echo {{bogus}}"')
    path = str(write({"t.json": text}) / "t.json")
    assert kiln("validate", "-var", "r=1", "-only=first", path).code == 1
    assert kiln("validate", "-var", "r=1", "-only=nothing", path).code == 0


def test_syntax_only_on_a_legacy_template_ignores_unset_variables(kiln: Kiln, write: Write) -> None:
    path = str(write({"t.json": LEGACY}) / "t.json")
    assert kiln("validate", path).code == 1
    assert kiln("validate", "-syntax-only", path).code == 0


def test_console_is_interactive_on_a_terminal(write: Write) -> None:
    import os
    import pty
    import select

    path = write({"t.pkr.hcl": TEMPLATE})
    pid, fd = pty.fork()
    if pid == 0:  # the child: kiln console on the terminal's side
        os.execv(sys.executable, [sys.executable, "-m", "kiln", "console", str(path)])

    def read_until(marker: str, limit: float = 30.0) -> str:
        seen = ""
        while marker not in seen:
            ready, _, _ = select.select([fd], [], [], limit)
            assert ready, f"no {marker!r} in {seen!r}"
            seen += os.read(fd, 4096).decode()
        return seen

    try:
        read_until("> ")
        os.write(fd, b"upper(var.flavour)\n")
        assert "CHOCOLATE" in read_until("> ")
        os.write(fd, b"exit\n")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)


def test_a_closed_pipe_is_no_crash(tmp_path: Path) -> None:
    # kiln plugins installed | head: the reader may leave before kiln writes.
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiln", "plugins", "installed"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "KILN_CRASH_DIR": str(tmp_path)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "internal error" not in err and not (tmp_path / "crash.log").exists()
