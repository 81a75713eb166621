"""What the shell and shell-local components share: the script options, the environment
variables a script sees, and the exit-code rule (Packer's ``shell`` SDK package)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kiln.sdk import BuildError, Config, ConfigError, Context, option

#: what a builder puts in build data when it serves no HTTP directory
_NOT_IMPLEMENTED = "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER"
_HTTP_VARS = {
    "PackerHTTPAddr": "PACKER_HTTP_ADDR",
    "PackerHTTPIP": "PACKER_HTTP_IP",
    "PackerHTTPPort": "PACKER_HTTP_PORT",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ShellCommonConfig(Config):
    """Options every shell-like component has, spelled as Packer spells them."""

    inline: list[str] = option(
        default_factory=list,
        doc="Commands to run, one per line of a single script (so `cd` and variables carry "
        "over from one line to the next). Unlike Packer, kiln leaves `{{...}}` in these "
        "lines alone, so `docker inspect -f '{{.Id}}'` needs no escaping.",
    )
    script: str = option("", doc="Path of a local script to run.")
    scripts: list[str] = option(
        default_factory=list, doc="Paths of local scripts to run, in this order."
    )
    environment_vars: list[str] = option(
        default_factory=list,
        doc='Environment variables for the scripts, as "NAME=value" strings. Values may hold '
        "any character, single quotes included.",
    )
    env: dict[str, str] = option(
        default_factory=dict,
        doc="Environment variables for the scripts, as a map; wins over `environment_vars` "
        "for a name set in both.",
    )
    env_var_format: str = option(
        "%s='%s' ",
        doc="How one variable is written into `{{.Vars}}`: a format with two `%s`, the "
        "name then the value (already quoted for a POSIX shell).",
    )
    valid_exit_codes: list[int] = option(
        default_factory=lambda: [0],
        doc="Exit codes that count as success; any other fails the build.",
    )


def check_common(config: ShellCommonConfig, *, allow_none: bool = False) -> list[str]:
    """The script sources and variables are consistent; the scripts to run, in order.

    ``allow_none`` lets a caller that has another source of commands (shell-local's
    ``command``) do its own check for "nothing to run".
    """
    if config.script and config.scripts:
        raise ConfigError('Set "script" or "scripts", not both.', option="script")
    scripts = [config.script] if config.script else list(config.scripts)
    if scripts and config.inline:
        raise ConfigError(
            'Set either "inline" or "script"/"scripts", not both: an inline script and '
            "script files cannot run from one provisioner.",
            option="inline",
        )
    if not scripts and not config.inline and not allow_none:
        raise ConfigError(
            'Nothing to run: set "inline" (commands), "script" or "scripts" (local files).',
            option="inline",
        )
    for path in scripts:
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            name = "script" if config.script else "scripts"
            raise ConfigError(f"Bad script '{path}': {exc.strerror}.", option=name) from None
    for entry in config.environment_vars:
        name, sep, _ = entry.partition("=")
        if not sep or not _NAME.match(name):
            raise ConfigError(
                f"Environment variable not in format 'key=value': {entry!r}. The name must "
                "be letters, digits and underscores, not starting with a digit.",
                option="environment_vars",
            )
    for name in config.env:
        if not _NAME.match(name):
            raise ConfigError(
                f"Invalid environment variable name {name!r} in env: use letters, digits "
                "and underscores, not starting with a digit.",
                option="env",
            )
    try:
        config.env_var_format % ("NAME", "value")
    except (TypeError, ValueError):
        raise ConfigError(
            f"env_var_format {config.env_var_format!r} must contain exactly two %s: the "
            "name, then the value (for example \"export %s='%s'\\n\").",
            option="env_var_format",
        ) from None
    return scripts


def env_vars(
    ctx: Context, config: ShellCommonConfig, generated: Mapping[str, Any]
) -> dict[str, str]:
    """The variables a script sees, sorted by name: Packer's own, then the user's."""
    found = {"PACKER_BUILD_NAME": ctx.build_name, "PACKER_BUILDER_TYPE": ctx.builder_type}
    for key, name in _HTTP_VARS.items():
        value = generated.get(key)
        if value not in (None, "", _NOT_IMPLEMENTED):
            found[name] = str(value)
    for entry in config.environment_vars:
        name, _, value = entry.partition("=")
        found[name] = value
    found.update(config.env)
    return dict(sorted(found.items()))


def flatten(variables: Mapping[str, str], fmt: str) -> str:
    """``{{.Vars}}``: each variable through ``fmt``, its value single-quoted for sh."""
    return "".join(fmt % (name, value.replace("'", "'\"'\"'")) for name, value in variables.items())


def inline_script(shebang: str, lines: list[str]) -> bytes:
    """One script holding the inline commands."""
    head = f"#!{shebang}\n" if shebang else ""
    return (head + "".join(line + "\n" for line in lines)).encode()


def check_exit(status: int, valid: list[int]) -> None:
    """Packer's message for an exit code the user did not allow."""
    if status not in valid:
        allowed = "[" + " ".join(str(code) for code in valid) + "]"
        raise BuildError(
            f"Script exited with non-zero exit status: {status}. Allowed exit codes are: {allowed}"
        )
