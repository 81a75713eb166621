"""The plugin host: kiln's built-ins and installed plugins in one registry.

Start-up order (after tox): register the built-in components, then load every entry
point of the ``kiln`` group (from the plugin folders given and from the environment),
skipping distributions named in ``KILN_DISABLED_PLUGINS``. A plugin that fails to
import is recorded as one error naming its distribution and version; the others keep
working. Two components of one kind with one name are refused, naming both providers.
Core code reads components through the typed accessors, never ``pm.hook.*``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import pluggy

from kiln import __version__
from kiln.plugins import discovery, hookspec
from kiln.plugins.types import (
    BuilderSpec,
    ComponentSpec,
    DatasourceSpec,
    PostProcessorSpec,
    ProvisionerSpec,
    ReaperSpec,
)

BUILTIN = "kiln"

S = TypeVar("S", bound=ComponentSpec | ReaperSpec)


class PluginError(Exception):
    """A plugin problem the user must fix (a conflict, an unknown component)."""


@dataclass(frozen=True)
class Provider:
    """Which distribution registered a plugin module."""

    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"


@dataclass(frozen=True)
class Installed:
    """One row of ``kiln plugins installed``."""

    kind: str
    name: str
    provider: Provider
    summary: str


class PluginManager(pluggy.PluginManager):
    def __init__(self) -> None:
        super().__init__(hookspec.PROJECT)
        self.add_hookspecs(hookspec.KilnSpecs)
        self.providers: dict[str, Provider] = {}  # plugin name -> provider
        self.load_errors: list[str] = []
        self._cache: dict[str, dict[str, Any]] = {}  # hook name -> {component name: spec}
        self._provider_of: dict[ComponentSpec | ReaperSpec, Provider] = {}
        #: the plugin folders loaded, besides the environment (recorded in journals,
        #: so that ``kiln reap`` loads the reapers the run had)
        self.paths: list[str] = []

    # -- loading ------------------------------------------------------------------

    def add_plugin(self, module: object, name: str, provider: Provider) -> None:
        """Register one plugin module (or object) on behalf of ``provider``."""
        self.register(module, name=name)
        self.providers[name] = provider
        self._cache.clear()
        self._provider_of.clear()

    def load_builtins(self) -> None:
        from kiln.builtin import plugin

        self.add_plugin(plugin, "kiln.builtin", Provider(BUILTIN, __version__))

    def load_entrypoints(self, paths: Sequence[str] = ()) -> None:
        """Load the ``kiln`` entry points of the distributions in ``paths`` and on
        ``sys.path``; a folder in ``paths`` wins over the environment for a name.

        Only the distributions that have such entry points get their metadata read,
        and what was found is remembered until the installed distributions change
        (:mod:`kiln.plugins.discovery`): start-up stays fast however many packages are
        installed.
        """
        disabled = _disabled()
        self.paths = [*paths, *self.paths]
        for folder in reversed(paths):
            if folder not in sys.path:
                sys.path.insert(0, folder)
        for ep in discovery.entry_points():
            name = discovery.canonical_name(ep.distribution)
            provider = Provider(ep.distribution or ep.module, ep.version or "?")
            if name in disabled or discovery.canonical_name(ep.name) in disabled:
                continue
            try:
                module = ep.load()
            except Exception as exc:
                self.load_errors.append(
                    f'The plugin "{provider.distribution}" (version {provider.version}) '
                    f'failed to load its entry point "{ep.name} = {ep.value}": '
                    f"{type(exc).__name__}: {exc}. Its components are unavailable; "
                    "reinstall it with 'kiln init -upgrade', or disable it with "
                    f"KILN_DISABLED_PLUGINS={provider.distribution}."
                )
                continue
            self.add_plugin(module, f"{name}:{ep.name}", provider)

    # -- typed accessors ------------------------------------------------------------

    def builders(self) -> dict[str, BuilderSpec]:
        return self._collect("kiln_builders", BuilderSpec)

    def provisioners(self) -> dict[str, ProvisionerSpec]:
        return self._collect("kiln_provisioners", ProvisionerSpec)

    def post_processors(self) -> dict[str, PostProcessorSpec]:
        return self._collect("kiln_post_processors", PostProcessorSpec)

    def datasources(self) -> dict[str, DatasourceSpec]:
        return self._collect("kiln_datasources", DatasourceSpec)

    def reapers(self) -> dict[str, ReaperSpec]:
        return self._collect("kiln_reapers", ReaperSpec)

    def provider_of(self, spec: ComponentSpec | ReaperSpec) -> Provider:
        """The distribution behind a spec one of the accessors returned."""
        return self._provider_of[spec]

    def versions(self) -> tuple[tuple[str, str], ...]:
        """kiln's version, then every loaded plugin distribution's, by name."""
        plugins = {(p.distribution, p.version) for p in self.providers.values()}
        plugins.discard((BUILTIN, __version__))
        return ((BUILTIN, __version__), *sorted(plugins))

    def components(self) -> list[ComponentSpec]:
        """Every component: the builders, then provisioners, post-processors, data sources."""
        kinds = (self.builders(), self.provisioners(), self.post_processors(), self.datasources())
        return [spec for specs in kinds for spec in specs.values()]

    def installed(self) -> list[Installed]:
        return [
            Installed(spec.kind, spec.name, self.provider_of(spec), spec.summary)
            for spec in self.components()
        ]

    def _collect(self, hook_name: str, spec_type: type[S]) -> dict[str, S]:
        if hook_name in self._cache:
            return self._cache[hook_name]
        found: dict[str, S] = {}
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            provider = self.providers.get(impl.plugin_name, Provider(impl.plugin_name, "?"))
            for spec in _as_list(impl.function()):
                if not isinstance(spec, spec_type):
                    raise PluginError(
                        f'The plugin "{provider}" returned {spec!r} from {hook_name}; '
                        f"expected {spec_type.__name__} records."
                    )
                if spec.name in found:
                    first = self._provider_of[found[spec.name]]
                    raise PluginError(
                        f'Two plugins provide the {spec.kind} "{spec.name}": '
                        f'"{first}" and "{provider}". Uninstall or disable one '
                        "(KILN_DISABLED_PLUGINS=NAME)."
                    )
                found[spec.name] = spec
                self._provider_of[spec] = provider
        self._cache[hook_name] = found
        return found


def _as_list(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, Iterable) and not isinstance(
        result, (str, bytes, ComponentSpec, ReaperSpec)
    ):
        return list(result)
    return [result]


def _disabled() -> set[str]:
    raw = os.environ.get("KILN_DISABLED_PLUGINS", "")
    return {discovery.canonical_name(n) for n in raw.replace(",", " ").split() if n}


def make_manager(paths: Sequence[str] = (), modules: Iterable[ModuleType] = ()) -> PluginManager:
    """Built-ins, then ``modules`` (registered as-is, for tests), then entry points."""
    pm = PluginManager()
    pm.load_builtins()
    for module in modules:
        pm.add_plugin(module, module.__name__, Provider(module.__name__, "(unpackaged)"))
    pm.load_entrypoints(paths)
    return pm
