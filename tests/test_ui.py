"""Build output: Packer's line shapes, colours, machine-readable lines, redaction."""

from __future__ import annotations

import io
import re
import subprocess
import sys

from kiln.ui.redact import register_secret
from kiln.ui.terminal import Output, human_duration


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_say_message_and_error_have_packers_prefixes() -> None:
    out, err = io.StringIO(), io.StringIO()
    ui = Output(out, err, color=False).for_build("null.a")
    ui.say("Connecting")
    ui.message("detail")
    ui.error("broken")
    assert out.getvalue() == "==> null.a: Connecting\n    null.a: detail\n"
    assert err.getvalue() == "==> null.a: broken\n"


def test_each_build_gets_its_own_colour() -> None:
    out = io.StringIO()
    output = Output(out, io.StringIO(), color=True)
    output.for_build("a").say("x")
    output.for_build("b").say("y")
    output.for_build("a2").message("z")
    assert out.getvalue().splitlines() == [
        "\033[1;32m==> a: x\033[0m",
        "\033[1;36m==> b: y\033[0m",
        "\033[0;35m    a2: z\033[0m",
    ]


def test_machine_readable_lines_escape_commas_and_newlines() -> None:
    out = io.StringIO()
    output = Output(out, io.StringIO(), machine=True)
    ui = output.for_build("null.a")
    ui.message("a,b\nc")
    ui.machine("artifact", "0", "id", "x,y")
    first, second = out.getvalue().splitlines()
    assert re.fullmatch(r"\d+,,ui,message,    null\.a: a%!\(PACKER_COMMA\)b\\nc", first)
    assert re.fullmatch(r"\d+,null\.a,artifact,0,id,x%!\(PACKER_COMMA\)y", second)


def test_sensitive_values_are_redacted_in_every_channel() -> None:
    register_secret("hunter2")
    out, err = io.StringIO(), io.StringIO()
    output = Output(out, err, color=False)
    ui = output.for_build("b")
    ui.say("password hunter2")
    ui.error("hunter2!")
    machine = io.StringIO()
    Output(machine, io.StringIO(), machine=True).for_build("b").machine("x", "hunter2")
    for text in (out.getvalue(), err.getvalue(), machine.getvalue()):
        assert "hunter2" not in text and "<sensitive>" in text


def test_progress_off_a_terminal_is_one_summary_line() -> None:
    out = io.StringIO()
    ui = Output(out, io.StringIO(), color=False).for_build("b")
    with ui.progress("image.tar", 2 * 1048576) as progress:
        progress.advance(1048576)
        progress.advance(1048576)
    assert re.fullmatch(
        r"    b: image\.tar: 2\.0 MiB in [\d.]+s \([\d.]+ MiB/s\)\n", out.getvalue()
    )


def test_progress_on_a_terminal_draws_a_bar() -> None:
    out = Tty()
    ui = Output(out, io.StringIO(), color=False).for_build("b")
    with ui.progress("image.tar", 100) as progress:
        progress.advance(100)
    assert type(progress).__name__ == "BarProgress"


def test_durations_read_like_packers() -> None:
    assert human_duration(0.014276) == "14 milliseconds 276 microseconds"
    assert human_duration(1.023) == "1 second 23 milliseconds"
    assert human_duration(63) == "1 minute 3 seconds"
    assert human_duration(0) == "0 seconds"


def test_without_a_debug_log_errors_logged_by_kiln_print_nothing() -> None:
    """A component's bug is reported in the build's summary; its traceback goes to the
    debug log (KILN_LOG), never to a user who did not ask for it."""
    code = (
        "import logging\n"
        "from kiln.ui.log import setup_logging\n"
        "setup_logging({})\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    logging.getLogger('kiln.engine').exception('build failed')\n"
    )
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    logged = subprocess.run(
        [
            sys.executable,
            "-c",
            code.replace("setup_logging({})", "setup_logging({'KILN_LOG': '1'})"),
        ],
        capture_output=True,
        text=True,
    )
    assert "Traceback" in logged.stderr and "build failed" in logged.stderr
