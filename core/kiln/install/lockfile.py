"""The lock file, ``.kiln.lock.hcl``: which plugin versions a template builds with.

``kiln init`` writes it next to the template (in the template's folder) and it is
meant to be committed, as Terraform's ``.terraform.lock.hcl`` is. Per required plugin
it records the source, the constraint it was resolved under, the chosen version and
every distribution of the plugin's closure, pinned by file name and sha256, with the
index each came from::

    plugin "github.com/hashicorp/docker" {
      version      = "1.0.0"
      constraints  = ">= 1.0.0"
      distribution = "kiln-plugin-docker"

      package "kiln-plugin-docker" {
        version = "1.0.0"
        file    = "kiln_plugin_docker-1.0.0-py3-none-any.whl"
        sha256  = "9f86d0..."
        index   = "https://pypi.org/simple/"
      }
    }

Each locked plugin installs into its own folder under the plugin home, named by its
version and a digest of its pinned closure, so ``validate`` and ``build`` can tell
from the lock alone which folder to load and whether it is there.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kiln.hcl.body import BlockSpec, Content, Schema
from kiln.hcl.diagnostics import Diagnostic, DiagnosticError, Range, error, read_source
from kiln.plugins.discovery import canonical_name, entry_points

LOCK_NAME = ".kiln.lock.hcl"
MARKER = "kiln-plugin.json"  # written last into an installed folder: the install is whole

HEADER = """\
# This file is maintained automatically by "kiln init".
# Commit it with the template. Run "kiln init -upgrade" to move the pins.
"""

_PLUGIN_ATTRS = ("version", "constraints", "distribution")
_PACKAGE_ATTRS = ("version", "file", "sha256", "index")


@dataclass(frozen=True)
class LockedPackage:
    name: str  # canonical project name
    version: str
    file: str
    sha256: str
    index: str


@dataclass(frozen=True)
class LockedPlugin:
    source: str
    version: str
    constraints: str
    distribution: str
    packages: tuple[LockedPackage, ...]

    @property
    def digest(self) -> str:
        """Twelve hex digits that change with any pinned file of the closure."""
        text = "\n".join(f"{p.name}=={p.version} {p.sha256}" for p in sorted_packages(self))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def folder(self, home: Path) -> Path:
        return home.joinpath(*self.source.split("/"), f"{self.version}-{self.digest}")

    def installed(self, home: Path) -> bool:
        return (self.folder(home) / MARKER).is_file()


def sorted_packages(plugin: LockedPlugin) -> list[LockedPackage]:
    return sorted(plugin.packages, key=lambda p: p.name)


def site_dir(folder: Path) -> Path:
    """Where a plugin folder keeps its importable packages."""
    return folder / "site"


@dataclass
class Lock:
    plugins: dict[str, LockedPlugin] = field(default_factory=dict)  # by source key


def lock_path(template_path: str) -> Path:
    """The lock file for a template folder or file: in that folder."""
    path = Path(template_path)
    return (path if path.is_dir() else path.parent) / LOCK_NAME


# -- reading ---------------------------------------------------------------------------


def read_lock(path: Path) -> tuple[Lock | None, list[Diagnostic]]:
    """The lock at ``path`` (None when there is none), or diagnostics at file:line."""
    if not path.is_file():
        return None, []
    from kiln.hcl.eval import NativeBody
    from kiln.hcl.syntax import parse_file

    filename = str(path)
    text = read_source(filename, "lock file")
    try:
        body = NativeBody(parse_file(text, filename))
    except DiagnosticError as exc:
        return None, list(exc.diagnostics)
    from kiln.install.names import source_key

    content = body.content(Schema(blocks={"plugin": BlockSpec(labels=1)}))
    diags = list(content.diagnostics)
    lock = Lock()
    for block in content.blocks:
        inner = block.body.content(
            Schema(_PLUGIN_ATTRS, _PLUGIN_ATTRS, {"package": BlockSpec(labels=1)})
        )
        values = _strings(inner, diags)
        packages = []
        for pkg in inner.blocks_of("package"):
            fields = _strings(pkg.body.content(Schema(_PACKAGE_ATTRS, _PACKAGE_ATTRS)), diags)
            if len(fields) == len(_PACKAGE_ATTRS):
                packages.append(LockedPackage(pkg.labels[0], **fields))
        if len(values) != len(_PLUGIN_ATTRS):
            continue
        try:
            key = source_key(block.labels[0])
        except ValueError as exc:
            diags.append(error("Invalid plugin source", f"{exc}.", block.range))
            continue
        lock.plugins[key] = LockedPlugin(key, packages=tuple(packages), **values)
    if any(d.is_error for d in diags):
        for i, diag in enumerate(diags):
            diags[i] = replace(diag, detail=f"{diag.detail} {_REWRITE}".strip())
        return None, diags
    return lock, diags


_REWRITE = "Fix the lock file, or delete it and run 'kiln init' to write it again."


def _strings(content: Content, diags: list[Diagnostic]) -> dict[str, str]:
    """The attributes of ``content`` evaluated as plain strings (a lock has no
    variables); its problems and theirs go to ``diags``."""
    from kiln.hcl.eval import EvalError, Scope

    diags.extend(content.diagnostics)
    values: dict[str, str] = {}
    for name, attr in content.attributes.items():
        try:
            value = attr.expr.evaluate(Scope())
        except EvalError as exc:
            diags.extend(exc.diagnostics)
            value = None
        if not isinstance(value, str):
            diags.append(error("Invalid lock file", f'"{name}" must be a string.', attr.range))
            value = ""
        values[name] = value
    return values


# -- writing ---------------------------------------------------------------------------


def format_lock(lock: Lock) -> str:
    """The lock as HCL, sorted so the same pins always give the same bytes."""
    out = [HEADER]
    for key in sorted(lock.plugins):
        plugin = lock.plugins[key]
        out.append(f"\nplugin {_quote(plugin.source)} {{\n")
        out.extend(_aligned([(n, getattr(plugin, n)) for n in _PLUGIN_ATTRS], "  "))
        for pkg in sorted_packages(plugin):
            out.append(f"\n  package {_quote(pkg.name)} {{\n")
            out.extend(_aligned([(n, getattr(pkg, n)) for n in _PACKAGE_ATTRS], "    "))
            out.append("  }\n")
        out.append("}\n")
    return "".join(out)


def _aligned(pairs: list[tuple[str, str]], indent: str) -> list[str]:
    width = max(len(n) for n, _ in pairs)
    return [f"{indent}{n.ljust(width)} = {_quote(v)}\n" for n, v in pairs]


def _quote(value: str) -> str:
    # JSON string escapes are valid HCL escapes; "${" and "%{" must not start templates.
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def write_lock(path: Path, lock: Lock) -> None:
    """Replace the lock file atomically: a crash leaves the old one or the new one."""
    from kiln.files import write_atomically

    write_atomically(path, format_lock(lock).encode("utf-8"))


# -- checking a template against its lock ----------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """What the template asks for, as ``kiln init`` and the loaders see it."""

    name: str  # the local name in required_plugins
    source: str  # source key
    constraints: str
    range: Range | None = None


def stale_reason(locked: LockedPlugin, requirement: Requirement) -> str | None:
    """Why a locked plugin no longer answers the template's constraint, if it does not."""
    from kiln.hcl.requirements import parse_constraint

    if not requirement.constraints:
        return None
    constraint = parse_constraint(requirement.constraints)
    if constraint.allows(locked.version, prereleases=True):
        return None
    return (
        f"The lock file pins {locked.source} {locked.version}, which does not satisfy the "
        f"template's constraint \"{requirement.constraints}\". Run 'kiln init -upgrade' to "
        "resolve it again within the constraints."
    )


def template_requirements(template: Any) -> list[Requirement]:
    """The template's ``required_plugins``, keyed as the lock keys them."""
    if not template.required_plugins:
        return []  # and packaging stays unimported
    from kiln.install.names import source_key

    return [
        Requirement(rp.name, source_key(rp.source), rp.version, rp.range)
        for rp in template.required_plugins.values()
    ]


@dataclass(frozen=True)
class InstalledFolder:
    """A plugin folder in the plugin home, as its marker file describes it."""

    path: Path
    source: str
    version: str
    distribution: str


def installed_folders(home: Path) -> list[InstalledFolder]:
    """Every whole plugin folder under ``home`` (``kiln plugins installed``)."""
    found = []
    for root, dirs, files in os.walk(home):
        if root == str(home):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        if MARKER not in files:
            continue
        dirs[:] = []
        try:
            data = json.loads((Path(root) / MARKER).read_text(encoding="utf-8"))
            found.append(
                InstalledFolder(Path(root), data["source"], data["version"], data["distribution"])
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    # by source, version and path; packaging is imported only to order two versions
    versions: dict[str, set[str]] = {}
    for f in found:
        versions.setdefault(f.source, set()).add(f.version)

    def key(f: InstalledFolder) -> tuple[str, Any, str]:
        version = _version_key(f.version) if len(versions[f.source]) > 1 else 0
        return (f.source, version, str(f.path))

    return sorted(found, key=key)


def _version_key(text: str) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def plugin_folders(
    requirements: list[Requirement],
    lock: Lock | None,
    home: Path,
    environment: Callable[[str], str | None],
) -> tuple[list[Path], list[Diagnostic]]:
    """The folders ``validate`` and ``build`` load, and the problems that stop them.

    - A plugin the lock names must be installed exactly as locked; the lock wins over
      an install of the same distribution in the environment.
    - A required plugin the lock does not name may come from the environment (an
      editable install while developing it), or else from the newest folder in the
      plugin home (``kiln plugins install``) whose version meets the constraint.
    - Plugins in the home that the template does not require are loaded too, newest
      version of each source, unless the environment has the distribution: templates
      without ``required_plugins`` (legacy JSON ones) use them as Packer would.

    ``environment`` gives the version of a distribution installed with kiln, or None.
    """
    folders: list[Path] = []
    diags: list[Diagnostic] = []
    newest: dict[str, list[InstalledFolder]] = {}
    for item in installed_folders(home) if home.is_dir() else []:
        newest.setdefault(item.source, []).insert(0, item)
    for req in requirements:
        locked = lock.plugins.get(req.source) if lock else None
        candidates = newest.pop(req.source, [])
        if locked is not None:
            reason = stale_reason(locked, req)
            if reason:
                diags.append(error("Stale lock file", reason, req.range))
            elif not locked.installed(home):
                diags.append(
                    error(
                        "Plugin not installed",
                        f'{req.source} {locked.version} (required as "{req.name}") is locked '
                        f"but not installed in {home}. Run 'kiln init' to install it.",
                        req.range,
                    )
                )
            else:
                folders.append(site_dir(locked.folder(home)))
            continue
        from kiln.hcl.requirements import parse_constraint
        from kiln.install.names import distribution_for

        allows = parse_constraint(req.constraints).allows if req.constraints else None
        dist = distribution_for(req.source)
        version = environment(dist)
        if version is not None and (allows is None or allows(version, True)):
            continue
        match = next((c for c in candidates if allows is None or allows(c.version, True)), None)
        if match is not None:
            folders.append(site_dir(match.path))
            continue
        found = f" ({dist} {version} is installed, outside the constraint)" if version else ""
        diags.append(
            error(
                "Plugin not installed",
                f'The template requires {req.source} "{req.constraints}" (as "{req.name}"), '
                f"which is not in the lock file{found}. Run 'kiln init' to resolve and "
                "install it.",
                req.range,
            )
        )
    for items in newest.values():
        if environment(items[0].distribution) is None:
            folders.append(site_dir(items[0].path))
    return folders, diags


def environment_versions() -> dict[str, str | None]:
    """The version of every kiln plugin distribution installed alongside kiln (an
    editable install while developing it, say), by canonical name (the first of a name
    on ``sys.path``, which is the one loaded).

    A kiln plugin distribution is one with ``kiln`` entry points, so the answer comes
    from the discovery that loads them (remembered between commands): one without them
    is not a plugin, and is not installed as far as kiln is concerned.
    """
    versions: dict[str, str | None] = {}
    for ep in entry_points():
        versions.setdefault(canonical_name(ep.distribution), ep.version or None)
    return versions


def load_folders(template: Any) -> tuple[list[Path], list[Diagnostic]]:
    """What ``validate`` and ``build`` load for ``template`` (or, with None, for no
    template): the folders its lock names, checked, and the plugin home's others."""
    from kiln.install.settings import plugin_home

    lock, diags = (None, []) if template is None else read_lock(lock_path(template.path))
    if any(d.is_error for d in diags):
        return [], diags
    requirements = template_requirements(template) if template is not None else []
    found: list[dict[str, str | None]] = []

    def environment(distribution: str) -> str | None:
        if not found:  # the environment is looked at once, and only when asked about
            found.append(environment_versions())
        return found[0].get(canonical_name(distribution))

    folders, problems = plugin_folders(requirements, lock, plugin_home(), environment)
    return folders, diags + problems
