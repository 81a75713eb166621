"""Packer's version constraints and plugin source addresses.

Packer writes constraints in HashiCorp go-version syntax (``>= 1.2.0, < 2.0.0``,
``~> 1.10``); kiln maps them onto :mod:`packaging` specifiers so one set of rules
serves ``required_version``, ``required_plugins`` and the package index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

_CONSTRAINT_RE = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?([0-9][0-9A-Za-z.+-]*)\s*$")


class ConstraintError(ValueError):
    """A constraint string that go-version would not accept; the message says why."""


@dataclass(frozen=True)
class Constraint:
    """A parsed go-version constraint list, and its ``packaging`` equivalent."""

    text: str
    specifier: SpecifierSet

    def allows(self, version: str | Version, prereleases: bool | None = None) -> bool:
        v = Version(str(version)) if not isinstance(version, Version) else version
        return self.specifier.contains(v, prereleases=prereleases)


def parse_constraint(text: str) -> Constraint:
    """Parse ``">= 1.2, < 2"``-style constraints; raise ConstraintError if malformed."""
    if not text.strip():
        raise ConstraintError("the version constraint is empty")
    specs: list[str] = []
    for item in text.split(","):
        match = _CONSTRAINT_RE.match(item)
        if not match:
            raise ConstraintError(
                f'malformed constraint "{item.strip()}": write it as an operator '
                '(=, !=, >, >=, <, <=, ~>) followed by a version, e.g. ">= 1.2.0"'
            )
        op, raw = match.group(1) or "=", match.group(2)
        try:
            version = Version(raw)
        except InvalidVersion:
            raise ConstraintError(f'"{raw}" is not a valid version') from None
        specs.extend(_to_specifiers(op, raw, version))
    return Constraint(text, SpecifierSet(",".join(specs)))


def _to_specifiers(op: str, raw: str, version: Version) -> list[str]:
    if op == "=":
        return [f"=={version}"]
    if op == "~>":
        # "~> 1.2" allows >= 1.2, < 2; "~> 1.2.3" allows >= 1.2.3, < 1.3.
        parts = raw.split("-")[0].split("+")[0].split(".")
        if len(parts) == 1:
            return [f">={version}"]
        head = [int(p) for p in parts[:-1]]
        head[-1] += 1
        return [f">={version}", f"<{'.'.join(str(p) for p in head)}"]
    return [f"{op}{version}"]


# ---------------------------------------------------------------------------
# Plugin source addresses: HOST/NAMESPACE/.../TYPE
# ---------------------------------------------------------------------------

_PART_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class SourceAddress:
    host: str
    namespace: tuple[str, ...]
    type: str

    def __str__(self) -> str:
        return "/".join((self.host, *self.namespace, self.type))


def parse_source_address(text: str) -> SourceAddress:
    """Check a ``required_plugins`` source against Packer's rules.

    3 to 16 slash-separated parts; no scheme, query, fragment, leading or trailing
    slash, or ``--``; the type may not start with ``packer-``.
    """
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConstraintError(
            f'a plugin source has no scheme: remove "{scheme}://" '
            f'(did you mean "{text.split("://", 1)[1]}"?)'
        )
    if "?" in text or "#" in text:
        raise ConstraintError("a plugin source may not contain a query or a fragment")
    if text.startswith("/") or text.endswith("/"):
        raise ConstraintError("a plugin source may not start or end with a slash")
    parts = text.split("/")
    if len(parts) < 3:
        raise ConstraintError(
            f'"{text}" has {len(parts)} part(s); a plugin source needs at least 3, as in '
            f'"github.com/{text if len(parts) == 2 else "hashicorp/" + text}"'
        )
    if len(parts) > 16:
        raise ConstraintError(f'"{text}" has {len(parts)} parts; at most 16 are allowed')
    for part in parts:
        if not part or not _PART_RE.match(part) or "--" in part:
            raise ConstraintError(
                f'"{part}" is not a valid part of a plugin source: use letters, digits, '
                "dots, dashes and underscores, without double dashes"
            )
    plugin_type = parts[-1]
    if plugin_type.lower().startswith("packer-"):
        fixed = plugin_type
        for prefix in ("packer-plugin-", "packer-"):
            if fixed.lower().startswith(prefix):
                fixed = fixed[len(prefix) :]
                break
        suggestion = "/".join((*parts[:-1], fixed))
        raise ConstraintError(
            f'the plugin type may not start with "packer-": did you mean "{suggestion}"?'
        )
    return SourceAddress(parts[0].lower(), tuple(parts[1:-1]), plugin_type.lower())
