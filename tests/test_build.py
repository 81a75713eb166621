"""``kiln build`` end to end: the null builder over SSH to a real sshd on loopback.

The "machine being built" is this machine reached through sshd, so what provisioners
do on it is checked with plain file-system reads.
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import KILN, Result
from tests.sshd import SSHServer


@pytest.fixture
def template(tmp_path: Path, sshd: SSHServer) -> Callable[..., Path]:
    """Write a template of null sources (names given) plus the build body given."""

    def make(build: str, names: tuple[str, ...] = ("a",), extra: str = "") -> Path:
        folder = tmp_path / "template"
        folder.mkdir(exist_ok=True)
        sources = "".join(sshd.null_source(n) for n in names)
        listed = ", ".join(f'"source.null.{n}"' for n in names)
        (folder / "build.pkr.hcl").write_text(
            f"{extra}\n{sources}\nbuild {{\n  sources = [{listed}]\n{build}\n}}\n"
        )
        return folder

    return make


def test_shell_provisioner_runs_on_the_machine(
    kiln: Callable[..., Result], template: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.txt"
    path = template(
        f"""
  provisioner "shell" {{
    inline = ["echo hello from $PACKER_BUILD_NAME > {out}", "echo done"]
  }}"""
    )
    result = kiln("build", "-color=false", str(path))
    assert result.code == 0, result.err
    assert out.read_text() == "hello from a\n"
    assert "    null.a: done" in result.out
    assert "Build 'null.a' finished" in result.out
    assert "--> null.a: Did not export anything. This is the null builder" in result.out


def test_file_provisioner_uploads_and_downloads_files_and_folders(
    kiln: Callable[..., Result], template: Callable[..., Path], tmp_path: Path
) -> None:
    local = tmp_path / "local"
    (local / "tree" / "sub").mkdir(parents=True)
    (local / "one.txt").write_text("one")
    (local / "tree" / "a.txt").write_text("a")
    (local / "tree" / "sub" / "b.txt").write_text("b")
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "report.txt").write_text("from the machine")
    back = tmp_path / "back"
    path = template(
        f"""
  provisioner "file" {{
    source      = "{local / "one.txt"}"
    destination = "{remote / "one.txt"}"
  }}
  provisioner "file" {{
    source      = "{local / "tree"}"
    destination = "{remote}"
  }}
  provisioner "file" {{
    source      = "{local / "tree"}/"
    destination = "{remote / "contents"}"
  }}
  provisioner "file" {{
    content     = "made from a string"
    destination = "{remote / "content.txt"}"
  }}
  provisioner "file" {{
    direction   = "download"
    source      = "{remote / "report.txt"}"
    destination = "{back}/"
  }}
  provisioner "file" {{
    direction   = "download"
    source      = "{remote / "tree"}"
    destination = "{back}"
  }}"""
    )
    result = kiln("build", "-color=false", str(path))
    assert result.code == 0, result.err
    assert (remote / "one.txt").read_text() == "one"
    assert (remote / "tree" / "sub" / "b.txt").read_text() == "b"
    assert (remote / "contents" / "a.txt").read_text() == "a"
    assert (remote / "content.txt").read_text() == "made from a string"
    assert (back / "report.txt").read_text() == "from the machine"
    assert (back / "tree" / "sub" / "b.txt").read_text() == "b"


def test_build_variables_reach_provisioners(
    kiln: Callable[..., Result], template: Callable[..., Path], tmp_path: Path, sshd: SSHServer
) -> None:
    out = tmp_path / "vars.txt"
    path = template(
        f"""
  provisioner "shell" {{
    inline = [
      "echo '${{build.Host}} ${{build.Port}} ${{build.User}} ${{build.ID}} ' > {out}",
      "echo '${{build.PackerRunUUID}} ${{source.name}} ${{build.ConnType}}' >> {out}",
    ]
  }}"""
    )
    result = kiln("build", str(path))
    assert result.code == 0, result.err
    host, port, user, _id, run_uuid, name, conn = out.read_text().split()
    assert (host, port, user, name, conn) == (sshd.host, str(sshd.port), sshd.user, "a", "ssh")
    assert re.fullmatch(r"[0-9a-f-]{36}", run_uuid)


def test_retries_run_a_failing_provisioner_again(
    kiln: Callable[..., Result], template: Callable[..., Path], tmp_path: Path
) -> None:
    counter = tmp_path / "attempts"
    path = template(
        f"""
  provisioner "shell" {{
    max_retries = 2
    inline = ["echo x >> {counter}", "test $(wc -l < {counter}) -ge 2"]
  }}"""
    )
    result = kiln("build", "-color=false", str(path))
    assert result.code == 0, result.err
    assert counter.read_text() == "x\nx\n"
    assert "retrying with 2 trie(s) left" in result.err


def test_a_provisioner_timeout_stops_the_command(
    kiln: Callable[..., Result], template: Callable[..., Path], tmp_path: Path
) -> None:
    marker = tmp_path / "finished"
    path = template(
        f"""
  provisioner "shell" {{
    timeout = "1s"
    inline  = ["sleep 20", "touch {marker}"]
  }}"""
    )
    start = time.monotonic()
    result = kiln("build", "-color=false", str(path))
    assert time.monotonic() - start < 15
    assert result.code == 1
    assert "timed out after 1s" in result.err
    assert not marker.exists()


FAILING_WITH_CLEANUP = """
  provisioner "shell" {{
    inline = ["exit 7"]
  }}
  error-cleanup-provisioner "shell" {{
    inline = ["touch {marker}"]
  }}"""


@pytest.mark.parametrize(
    ("mode", "cleanup_ran"),
    [("cleanup", True), ("abort", False), ("run-cleanup-provisioner", True), ("ask", True)],
)
def test_on_error_modes(
    kiln: Callable[..., Result],
    template: Callable[..., Path],
    tmp_path: Path,
    mode: str,
    cleanup_ran: bool,
) -> None:
    marker = tmp_path / "cleaned"
    path = template(FAILING_WITH_CLEANUP.format(marker=marker))
    result = kiln("build", "-color=false", f"-on-error={mode}", str(path))
    assert result.code == 1
    assert "exit status: 7" in result.err
    assert marker.exists() is cleanup_ran
    if mode == "ask":  # no terminal under pytest: kiln says so and cleans up
        assert "no terminal" in result.err


def test_on_error_ask_on_a_terminal_takes_the_answer(
    template: Callable[..., Path], tmp_path: Path
) -> None:
    marker = tmp_path / "cleaned"
    path = template(FAILING_WITH_CLEANUP.format(marker=marker))
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [*KILN, "build", "-color=false", "-on-error=ask", str(path)],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    seen = _read_until(primary, b"[c] Clean up and exit", 30)
    assert b"exit status: 7" in seen
    os.write(primary, b"a\n")
    seen += _read_until(primary, b"Builds finished", 30)
    assert proc.wait(timeout=30) == 1
    os.close(primary)
    assert not marker.exists()  # "a": abort without cleanup


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_only_and_except_choose_builds(
    kiln: Callable[..., Result], template: Callable[..., Path], tmp_path: Path
) -> None:
    path = template(
        f"""
  provisioner "shell" {{
    inline = ["touch {tmp_path}/ran-${{source.name}}"]
  }}""",
        names=("web", "db", "cache"),
    )
    assert kiln("build", "-only=null.w*,null.db", "-except=null.db", str(path)).code == 0
    assert sorted(p.name for p in tmp_path.glob("ran-*")) == ["ran-web"]


def test_parallel_builds_one_failing_does_not_stop_the_others(
    kiln: Callable[..., Result], template: Callable[..., Path], tmp_path: Path
) -> None:
    path = template(
        f"""
  provisioner "shell" {{
    only   = ["null.bad"]
    inline = ["exit 3"]
  }}
  provisioner "shell" {{
    inline = ["sleep 1", "touch {tmp_path}/done-${{source.name}}"]
  }}""",
        names=("good1", "bad", "good2"),
    )
    start = time.monotonic()
    result = kiln("build", "-color=false", str(path))
    elapsed = time.monotonic() - start
    assert result.code == 1
    assert sorted(p.name for p in tmp_path.glob("done-*")) == ["done-good1", "done-good2"]
    assert "--> null.bad: Script exited with non-zero exit status: 3" in result.err
    assert "--> null.good1: Did not export anything" in result.out
    assert elapsed < 2 * 1 + 4  # the two sleeping builds ran side by side


def test_fail_fast_cancels_the_other_builds(
    kiln: Callable[..., Result], template: Callable[..., Path], tmp_path: Path
) -> None:
    path = template(
        f"""
  provisioner "shell" {{
    only   = ["null.bad"]
    inline = ["exit 3"]
  }}
  provisioner "shell" {{
    only   = ["null.slow"]
    inline = ["sleep 30", "touch {tmp_path}/slow-finished"]
  }}""",
        names=("slow", "bad"),
    )
    start = time.monotonic()
    result = kiln("build", "-color=false", "-fail-fast", str(path))
    assert time.monotonic() - start < 20
    assert result.code == 1
    assert not (tmp_path / "slow-finished").exists()


def test_provisioner_overrides_apply_per_source(
    kiln: Callable[..., Result], template: Callable[..., Path], tmp_path: Path
) -> None:
    path = template(
        f"""
  provisioner "shell" {{
    inline   = ["echo default > {tmp_path}/${{source.name}}.txt"]
    override = {{
      b = {{ inline = ["echo overridden > {tmp_path}/b.txt"] }}
    }}
  }}""",
        names=("a", "b"),
    )
    assert kiln("build", str(path)).code == 0
    assert (tmp_path / "a.txt").read_text() == "default\n"
    assert (tmp_path / "b.txt").read_text() == "overridden\n"


def test_sensitive_values_never_reach_any_output(
    template: Callable[..., Path], tmp_path: Path
) -> None:
    log = tmp_path / "kiln.log"
    path = template(
        """
  provisioner "shell" {
    inline = ["echo the secret is ${var.token}", "echo ${var.token} >&2"]
  }
  post-processor "shell-local" {
    inline = ["echo pp sees ${var.token}"]
  }""",
        extra='variable "token" {\n  type = string\n  sensitive = true\n}\n',
    )
    secret = "s3cr3t-v4lue"
    for flags in ([], ["-machine-readable"], ["-timestamp-ui"]):
        proc = subprocess.run(
            [*KILN, "build", *flags, "-var", f"token={secret}", str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, "KILN_LOG_PATH": str(log)},
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        everything = proc.stdout + proc.stderr + log.read_text()
        assert secret not in everything
        assert "the secret is <sensitive>" in everything


def test_machine_readable_output_has_packers_shape(
    kiln: Callable[..., Result], template: Callable[..., Path]
) -> None:
    path = template('  provisioner "shell" {\n    inline = ["echo a,b"]\n  }')
    result = kiln("build", "-machine-readable", str(path))
    assert result.code == 0
    lines = result.out.splitlines()
    assert all(re.match(r"^\d+,[^,]*,[a-z-]+", line) for line in lines)
    assert any(line.endswith(",ui,message,    null.a: a%!(PACKER_COMMA)b") for line in lines)
    assert any(",null.a,artifact,0,builder-id,fnoeding.null" in line for line in lines)


def test_timestamp_ui_prefixes_every_line(
    kiln: Callable[..., Result], template: Callable[..., Path]
) -> None:
    path = template('  provisioner "shell" {\n    inline = ["echo hi"]\n  }')
    result = kiln("build", "-timestamp-ui", str(path))
    assert result.code == 0
    stamped = [line for line in result.out.splitlines() if line.strip()]
    assert stamped and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: ", line) for line in stamped)


def test_sigint_during_provisioning_cancels_and_cleans_up(
    template: Callable[..., Path], tmp_path: Path
) -> None:
    marker = tmp_path / "finished"
    # a sleep whose command line is this test's own, to look for on the machine after
    naptime = f"4{os.getpid() % 1000}.5"
    path = template(
        f"""
  provisioner "shell" {{
    inline = ["echo started", "sleep {naptime}", "touch {marker}"]
  }}
  post-processor "shell-local" {{
    inline = ["touch {tmp_path}/post-processed"]
  }}"""
    )
    # with a pty, closing the session hangs up the remote command; without one OpenSSH
    # gives root's commands no signal, and they run on (see docs/building.md)
    text = (path / "build.pkr.hcl").read_text()
    (path / "build.pkr.hcl").write_text(text.replace("ssh_port ", "ssh_pty = true\n  ssh_port "))
    proc = subprocess.Popen(
        [*KILN, "build", "-color=false", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "null.a: started" in line:
            break
    time.sleep(0.3)
    assert subprocess.run(["pgrep", "-f", f"sleep {naptime}"], capture_output=True).stdout
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "Cleanly cancelled builds after being interrupted." in err
    assert not marker.exists() and not (tmp_path / "post-processed").exists()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = subprocess.run(["pgrep", "-f", f"sleep {naptime}"], capture_output=True).stdout
        if not left:
            break
        time.sleep(0.1)
    assert not left, "the remote command outlived the build"


def test_an_unknown_provisioner_argument_is_an_error_with_its_location(
    kiln: Callable[..., Result], template: Callable[..., Path]
) -> None:
    path = template('  provisioner "shell" {\n    inlin = ["echo hi"]\n  }')
    for command in ("validate", "build"):
        result = kiln(command, str(path))
        assert result.code == 1
        assert "Unsupported argument" in result.err
        assert 'Did you mean "inline"?' in result.err
        assert "build.pkr.hcl line" in result.err


SLOW_CLEANUP_PLUGIN = """
import time
from kiln.sdk import (
    Action, Artifact, Builder, BuilderSpec, Config, StateBag, Step, hookimpl, option, run_steps,
)

class SlowConfig(Config):
    marker: str = option(required=True, doc="Written when the cleanup finishes.")

class Slow(Step):
    def __init__(self, ctx, marker):
        self.ctx, self.marker = ctx, marker
    def run(self, state):
        state["ui"].say("started")
        self.ctx.sleep(60)
        return Action.CONTINUE
    def cleanup(self, state):
        state["ui"].say("cleaning up slowly")
        time.sleep(1.5)
        open(self.marker, "w").close()

class SlowBuilder(Builder):
    \"\"\"Waits, and takes its time to clean up.\"\"\"
    config_class = SlowConfig
    def run(self, ui, hook):
        run_steps(self.ctx, [Slow(self.ctx, self.config.marker)], StateBag(ui=ui, hook=hook), ui)
        return Artifact("test.slow")

@hookimpl
def kiln_builders():
    yield BuilderSpec("slow", SlowBuilder, "Slow to clean up.")
"""


def test_a_second_sigint_does_not_abandon_the_cleanup(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "kiln_plugin_slow-1.0.dist-info").mkdir(parents=True)
    (site / "kiln_plugin_slow-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: kiln-plugin-slow\nVersion: 1.0\n"
    )
    (site / "kiln_plugin_slow-1.0.dist-info" / "entry_points.txt").write_text(
        "[kiln]\nslow = kiln_plugin_slow\n"
    )
    (site / "kiln_plugin_slow.py").write_text(SLOW_CLEANUP_PLUGIN)
    marker = tmp_path / "cleaned"
    template = tmp_path / "slow.pkr.hcl"
    template.write_text(
        f'source "slow" "a" {{\n  marker = "{marker}"\n}}\n'
        'build {\n  sources = ["source.slow.a"]\n}\n'
    )
    proc = subprocess.Popen(
        [*KILN, "build", "-color=false", str(template)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "slow.a: started" in line:
            break
    proc.send_signal(signal.SIGINT)
    for line in proc.stdout:
        if "cleaning up slowly" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Cleanup is in progress" in err
    assert marker.exists(), "the cleanup was cut short"
