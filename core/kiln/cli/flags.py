"""Packer-style flag parsing.

Packer (Go's ``flag`` package) accepts ``-flag`` and ``--flag``, ``-flag=value`` and
``-flag value``, and booleans as ``-flag``, ``-flag=true`` or ``-flag=false``. Parsing
stops at the first argument that is not a flag (or after ``--``). kiln takes the same
forms so that scripts written for Packer keep working.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any


class UsageError(Exception):
    """A command-line mistake: the message names the option and says what to do."""


@dataclass
class Flag:
    name: str
    kind: str  # "bool" | "str" | "list" | "int" | "csv"
    default: Any = None
    help: str = ""


@dataclass
class FlagSet:
    command: str
    flags: dict[str, Flag] = field(default_factory=dict)

    def bool(
        self, name: builtins.str, default: builtins.bool = False, help: builtins.str = ""
    ) -> None:
        self.flags[name] = Flag(name, "bool", default, help)

    def str(
        self, name: builtins.str, default: builtins.str | None = None, help: builtins.str = ""
    ) -> None:
        self.flags[name] = Flag(name, "str", default, help)

    def int(self, name: builtins.str, default: builtins.int = 0, help: builtins.str = "") -> None:
        self.flags[name] = Flag(name, "int", default, help)

    def list(self, name: builtins.str, help: builtins.str = "") -> None:
        """A flag that may repeat; values are kept in command-line order."""
        self.flags[name] = Flag(name, "list", None, help)

    def csv(self, name: builtins.str, help: builtins.str = "") -> None:
        """A comma-separated list; repeating the flag appends."""
        self.flags[name] = Flag(name, "csv", None, help)

    def parse(
        self, argv: builtins.list[builtins.str]
    ) -> tuple[dict[builtins.str, Any], builtins.list[builtins.str]]:
        values: dict[str, Any] = {}
        for f in self.flags.values():
            values[f.name] = [] if f.kind in ("list", "csv") else f.default
        i = 0
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                i += 1
                break
            if not arg.startswith("-") or arg == "-":
                break
            name, has_value, value = arg.lstrip("-").partition("=")
            flag = self.flags.get(name)
            if flag is None:
                raise UsageError(
                    f"flag provided but not defined: -{name}\n"
                    f"Run 'kiln {self.command} -h' to see the options it takes."
                )
            if flag.kind == "bool":
                if has_value:
                    if value.lower() in ("true", "1", "t"):
                        values[name] = True
                    elif value.lower() in ("false", "0", "f"):
                        values[name] = False
                    else:
                        raise UsageError(
                            f'invalid boolean value "{value}" for -{name}: use true or false'
                        )
                else:
                    values[name] = True
                i += 1
                continue
            if not has_value:
                if i + 1 >= len(argv):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = argv[i + 1]
                i += 1
            i += 1
            if flag.kind == "int":
                try:
                    values[name] = int(value)
                except ValueError:
                    raise UsageError(
                        f'invalid value "{value}" for -{name}: a whole number is required'
                    ) from None
            elif flag.kind == "list":
                values[name].append(value)
            elif flag.kind == "csv":
                values[name].extend(v for v in value.split(",") if v)
            else:
                values[name] = value
        return values, argv[i:]
