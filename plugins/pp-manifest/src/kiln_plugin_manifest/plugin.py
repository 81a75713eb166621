"""The plugin's entry point (group ``kiln``): registers the ``manifest`` post-processor."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.sdk import PostProcessorSpec, hookimpl
from kiln_plugin_manifest.post_processor import Manifest


@hookimpl
def kiln_post_processors() -> Iterator[PostProcessorSpec]:
    yield PostProcessorSpec("manifest", Manifest)
