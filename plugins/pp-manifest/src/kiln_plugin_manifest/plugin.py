"""The plugin's entry point (group ``kiln``): registers the ``manifest`` post-processor."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.sdk import PostProcessorSpec, hookimpl
from kiln_plugin_manifest.post_processor import Manifest


@hookimpl
def kiln_post_processors() -> Iterator[PostProcessorSpec]:
    summary = (Manifest.__doc__ or "").strip().splitlines()[0]
    yield PostProcessorSpec("manifest", Manifest, summary)
