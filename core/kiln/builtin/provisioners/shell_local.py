"""The ``shell-local`` provisioner: run commands on the host running kiln.

The options and the runner are shared with the ``shell-local`` post-processor.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from kiln.builtin.shellcommon import (
    ShellCommonConfig,
    check_common,
    check_exit,
    env_vars,
    flatten,
    inline_script,
)
from kiln.sdk import (
    Communicator,
    Component,
    Config,
    ConfigError,
    Context,
    Provisioner,
    TempFolder,
    Ui,
    interpolate,
    option,
    run_process_with_ui,
)

#: Go's names for operating systems, which ``only_on`` uses
SUPPORTED_OS = ("darwin", "freebsd", "linux", "openbsd", "solaris", "windows")


DEFAULT_EXECUTE = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]


class ShellLocalConfig(ShellCommonConfig):
    command: str = option(
        "", doc="One command to run (older spelling of `inline` with a single line)."
    )
    execute_command: list[str] = option(
        default_factory=lambda: list(DEFAULT_EXECUTE),
        doc="The program and arguments that run each script, with placeholders `{{.Script}}` "
        "(the script's absolute path; `{{.Command}}` is the same) and `{{.Vars}}`. The "
        "variables are also set in the program's environment, so a custom command need "
        "not pass `{{.Vars}}`.",
    )
    inline_shebang: str = option(
        "/bin/sh -e", doc="The interpreter line put at the top of the `inline` script."
    )
    only_on: list[str] = option(
        default_factory=list,
        doc="Run only when kiln runs on one of these systems (Go's names: "
        + ", ".join(SUPPORTED_OS)
        + "); skipped elsewhere.",
    )
    tempfile_extension: str = option(
        "", doc="Extension of the file the `inline` commands are written to."
    )


def check_local(config: ShellLocalConfig) -> tuple[list[str], list[str]]:
    """Packer's rules for shell-local's options: the script files to run, and warnings."""
    scripts = check_common(config, allow_none=True)
    if config.command and (config.inline or scripts):
        raise ConfigError(
            "You may only specify one of the following options: command, inline, script or "
            "scripts. Please consolidate these options in your config.",
            option="command",
        )
    if not (config.command or config.inline or scripts):
        raise ConfigError(
            'Nothing to run: set "inline", "command", "script" or "scripts".', option="inline"
        )
    if not config.execute_command:
        raise ConfigError(
            "execute_command is empty: give the program to run and its arguments.",
            option="execute_command",
        )
    for part in config.execute_command:
        interpolate(part, {"Vars": "", "Script": "", "Command": ""}, option="execute_command")
    for name in config.only_on:
        if name not in SUPPORTED_OS:
            raise ConfigError(
                f"Invalid OS specified in only_on: '{name}'. Supported OS names: "
                + ", ".join(SUPPORTED_OS),
                option="only_on",
            )
    warnings = [
        f"The script {path} is not executable, and the default execute_command runs it "
        "directly, so it will fail with exit status 126. Run 'chmod +x' on it, or set "
        'execute_command = ["/bin/sh", "-c", "{{.Vars}} /bin/sh {{.Script}}"].'
        for path in scripts
        if config.execute_command == DEFAULT_EXECUTE and not os.access(path, os.X_OK)
    ]
    return scripts, warnings


def run_local(
    ctx: Context,
    ui: Ui,
    config: ShellLocalConfig,
    scripts: list[str],
    generated: Mapping[str, Any],
) -> None:
    """Run each script (or the inline commands as one) with ``execute_command``."""
    if config.only_on and host_os() not in config.only_on:
        ui.say("Skipping shell-local due to runtime OS")
        return
    variables = env_vars(ctx, config, generated)
    env = {**os.environ, **variables}
    if ctx.run_uuid:
        env["PACKER_RUN_UUID"] = ctx.run_uuid
    flat = flatten(variables, config.env_var_format)
    with TempFolder(ctx, "kiln-shell-local-") as tmp:
        targets = [(path, os.path.abspath(path)) for path in scripts]
        if not targets:
            lines = config.inline or [config.command]
            path = os.path.join(tmp, "script" + _extension(config.tempfile_extension))
            with open(path, "wb") as f:
                f.write(inline_script(config.inline_shebang, lines))
            os.chmod(path, 0o700)
            targets = [("inline commands", path)]
        for label, path in targets:
            values = {"Vars": flat, "Script": path, "Command": path}
            argv = [
                interpolate(part, values, option="execute_command")
                for part in config.execute_command
            ]
            ui.say(f"Running local shell script: {label}")
            status = run_process_with_ui(argv, ui, "script", env=env, ctx=ctx, grace=0)
            check_exit(status, config.valid_exit_codes)


def _extension(ext: str) -> str:
    ext = ext.lstrip(".")
    return "." + ext if ext else ""


def host_os() -> str:
    """This host's system, by Go's name for it (as ``only_on`` spells it)."""
    for prefix, name in (
        ("linux", "linux"),
        ("darwin", "darwin"),
        ("freebsd", "freebsd"),
        ("openbsd", "openbsd"),
        ("sunos", "solaris"),
        ("win32", "windows"),
        ("cygwin", "windows"),
    ):
        if sys.platform.startswith(prefix):
            return name
    return sys.platform


class LocalScripts(Component):
    """What the shell-local provisioner and post-processor share: their options, and
    the scripts they resolve from them."""

    config_class = ShellLocalConfig
    config: ShellLocalConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, ShellLocalConfig)
        self.scripts, warnings = check_local(config)
        return warnings


class ShellLocal(LocalScripts, Provisioner):
    """Runs commands on the host running kiln, not on the machine being built.

    Scripts see the same variables as the `shell` provisioner's, plus
    `PACKER_RUN_UUID`; output shows as build messages, and cancelling the build stops
    the command and everything it started.
    """

    def provision(self, ui: Ui, comm: Communicator | None, generated_data: dict[str, Any]) -> None:
        run_local(self.ctx, ui, self.config, self.scripts, generated_data)
