"""Keeping sensitive values off Ansible's command line.

An ``-e``/``--extra-vars`` value that holds a sensitive value (a sensitive variable, a
password) is written to a private file in the run's folder and passed as ``-e @FILE``:
argument lists are visible to every user of the machine (``ps``), and Packer's users
have asked for this for years (hashicorp/packer#8702).
"""

from __future__ import annotations

import json
import os
import shlex

from kiln.sdk import BuildError, redact_text

EXTRA_VARS = ("-e", "--extra-vars")


def write_private(folder: str, name: str, text: str) -> str:
    """Write ``text`` to a new file readable by this user alone; return its path."""
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def private_extra_vars(args: list[str], folder: str) -> list[str]:
    """``args`` with each extra-vars value that holds a secret moved into a file in
    ``folder``; a secret anywhere else is an error (it would be on the command line)."""
    out: list[str] = []
    pending = False  # the previous argument was -e: this one is its value
    for arg in args:
        option, value = "", arg
        if pending:
            pending = False
        elif arg in EXTRA_VARS:
            out.append(arg)
            pending = True
            continue
        elif arg.startswith("--extra-vars="):
            option, value = "--extra-vars=", arg.removeprefix("--extra-vars=")
        elif arg.startswith("-e") and not arg.startswith("--"):
            option, value = "-e", arg[2:]
        elif _secret(arg):
            raise BuildError(
                "extra_arguments: an argument holds a sensitive value, and it would show on "
                "the command line. Pass it as an extra variable (-e name=value: kiln hands "
                "it to Ansible in a private file) or in ansible_env_vars."
            )
        else:
            out.append(arg)
            continue
        if _secret(value):
            value = "@" + write_private(folder, f"extra-vars-{len(out)}.json", _as_document(value))
        out.append(option + value)
    return out


def _secret(text: str) -> bool:
    return redact_text(text) != text


def _as_document(value: str) -> str:
    """An extra-vars value as the text of a vars file: JSON or YAML stays as it is;
    ``k=v k2='v 2'`` becomes the JSON object Ansible would have made of it."""
    if value.lstrip().startswith(("{", "[")):
        return value
    pairs = {}
    for token in shlex.split(value):
        name, sep, text = token.partition("=")
        if not sep or not name:
            raise BuildError(
                "extra_arguments: an extra variable holding a sensitive value must be "
                "name=value (or JSON/YAML)."
            )
        pairs[name] = text
    return json.dumps(pairs)
