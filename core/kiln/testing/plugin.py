"""kiln's pytest plugin (entry point ``pytest11: kiln``), after tox's ``tox.pytest``:
test a plugin module against the real plugin host without installing it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiln.plugins.manager import PluginManager, Provider


@pytest.fixture
def kiln_plugin_manager() -> PluginManager:
    """A fresh plugin manager holding kiln's built-in components, and nothing installed."""
    pm = PluginManager()
    pm.load_builtins()
    return pm


@pytest.fixture
def register_plugin(kiln_plugin_manager: PluginManager) -> Callable[..., PluginManager]:
    """``register_plugin(module, name=None)``: add a plugin module (or any object with
    ``@hookimpl`` functions) to ``kiln_plugin_manager`` and return that manager.

    Conflicts surface as they would for an installed plugin: the accessors
    (``pm.builders()``...) raise ``PluginError`` naming both providers.
    """

    def register(plugin: object, name: str | None = None) -> PluginManager:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        kiln_plugin_manager.add_plugin(plugin, name, Provider(name, "(unpackaged)"))
        return kiln_plugin_manager

    return register
