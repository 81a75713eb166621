"""Entry point of the ``kiln`` command: picks the command and runs it.

Each command lives in ``kiln.cli.cmd_<name>`` and exposes ``HELP`` (its usage text,
first line a synopsis) and ``run(argv) -> int``. Commands are imported only when run,
so ``kiln validate`` never pays for what ``kiln build`` needs.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import traceback

from kiln.cli.flags import UsageError

#: Libraries that ``kiln validate`` must never import: start-up stays lean. Checked by
#: tests/test_startup.py and reported by bench/validate.py.
HEAVY_MODULES = (
    "httpx",
    "boto3",
    "botocore",
    "paramiko",
    "docker",
    "requests",
    "cryptography",
    "yaml",
    "bcrypt",
)

COMMANDS = {
    "build": "build",
    "console": "console",
    "fmt": "fmt",
    "hcl2_upgrade": "hcl2_upgrade",
    "init": "init",
    "inspect": "inspect",
    "plugins": "plugins",
    "reap": "reap",
    "validate": "validate",
    "version": "version",
}

SYNOPSES = {
    "build": "build image(s) from template",
    "console": "creates a console for testing variable interpolation",
    "fmt": "Rewrites HCL2 config files to canonical format",
    "hcl2_upgrade": "transform a JSON template into an HCL2 configuration",
    "init": "Install missing plugins or upgrade plugins",
    "inspect": "see components of a template",
    "plugins": "Interact with kiln plugins",
    "reap": "remove what killed or failed builds left behind",
    "validate": "check that a template is valid",
    "version": "Prints the kiln version",
}


def usage() -> str:
    lines = ["Usage: kiln [--version] [--help] <command> [<args>]", "", "Available commands are:"]
    width = max(len(n) for n in SYNOPSES)
    lines += [f"    {name:<{width}}    {text}" for name, text in sorted(SYNOPSES.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "-help", "--help", "help"):
        sys.stdout.write(usage())
        return 0 if args else 127
    if args[0] in ("-v", "-version", "--version"):
        args[0] = "version"
    name = args[0]
    module_name = COMMANDS.get(name)
    if module_name is None:
        sys.stderr.write(f"kiln: unknown command {name!r}\n\n{usage()}")
        return 127
    rest = args[1:]
    if any(a in ("-h", "-help", "--help") for a in rest):
        module = importlib.import_module(f"kiln.cli.cmd_{module_name}")
        sys.stdout.write(module.HELP)
        return 0
    try:
        module = importlib.import_module(f"kiln.cli.cmd_{module_name}")
        return int(module.run(rest))
    except UsageError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except BrokenPipeError:
        # The reader went away (kiln plugins installed | head): stop quietly, as Unix
        # tools do, and keep Python from complaining about the flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception:  # an internal error: short report, details in a crash log
        return _crash(name)


def cli() -> None:
    """The ``kiln`` command: :func:`main`, then a quick exit. Objects alive at the end
    are frozen, so the interpreter's final collection does not walk them all (up to
    70 ms after a build, next to Packer's 10)."""
    code = main()
    sys.stdout.flush()
    gc.freeze()
    raise SystemExit(code)


def _crash(command: str) -> int:
    from kiln.ui.redact import redact_text

    log_dir = os.environ.get("KILN_CRASH_DIR") or os.getcwd()
    path = os.path.join(log_dir, "crash.log")
    report = redact_text(traceback.format_exc())
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"kiln {command} crashed.\n\n{report}")
        where = f"The details are in {path}."
    except OSError:
        where = "The details could not be written to a crash log."
    sys.stderr.write(
        f"kiln {command}: internal error: this is a bug in kiln, not in your template.\n"
        f"{where} Please report it with that file attached "
        "(sensitive values have been redacted from it).\n"
    )
    return 1
