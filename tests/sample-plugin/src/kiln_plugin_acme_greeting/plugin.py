"""The plugin's hooks: what the ``kiln`` entry point names. kiln calls each hook once
and registers the components the descriptors describe."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.sdk import PostProcessorSpec, ProvisionerSpec, hookimpl
from kiln_plugin_acme_greeting.post_processor import GreetingFile
from kiln_plugin_acme_greeting.provisioner import Greeting


@hookimpl
def kiln_provisioners() -> Iterator[ProvisionerSpec]:
    yield ProvisionerSpec("greeting", Greeting, "Says a greeting on the machine with echo.")


@hookimpl
def kiln_post_processors() -> Iterator[PostProcessorSpec]:
    yield PostProcessorSpec(
        "greeting-file", GreetingFile, "Writes a greeting and the artifact to a local file."
    )
