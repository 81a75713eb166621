"""The hooks a kiln plugin implements: one per component kind.

Each hook returns (or yields) descriptors. A plugin module implements any of them with
``@hookimpl`` (from :mod:`kiln.sdk`) and is announced by an entry point in the ``kiln``
group. kiln's own components register through these same hooks.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from kiln.plugins.types import (
    BuilderSpec,
    DatasourceSpec,
    PostProcessorSpec,
    ProvisionerSpec,
    ReaperSpec,
)

PROJECT = "kiln"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class KilnSpecs:
    @hookspec
    def kiln_builders(self) -> Iterable[BuilderSpec]:
        """Builders this plugin provides (``source "TYPE" "NAME"`` blocks)."""
        raise NotImplementedError

    @hookspec
    def kiln_provisioners(self) -> Iterable[ProvisionerSpec]:
        """Provisioners this plugin provides (``provisioner "TYPE"`` blocks)."""
        raise NotImplementedError

    @hookspec
    def kiln_post_processors(self) -> Iterable[PostProcessorSpec]:
        """Post-processors this plugin provides (``post-processor "TYPE"`` blocks)."""
        raise NotImplementedError

    @hookspec
    def kiln_datasources(self) -> Iterable[DatasourceSpec]:
        """Data sources this plugin provides (``data "TYPE" "NAME"`` blocks)."""
        raise NotImplementedError

    @hookspec
    def kiln_reapers(self) -> Iterable[ReaperSpec]:
        """Reapers for what this plugin's components record in the cleanup journal:
        ``kiln reap`` removes with them what killed runs left behind."""
        raise NotImplementedError
