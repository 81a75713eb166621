"""Registers kiln's built-in components through the same hooks plugins use."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.sdk import BuilderSpec, PostProcessorSpec, ProvisionerSpec, hookimpl


@hookimpl
def kiln_builders() -> Iterator[BuilderSpec]:
    yield from ()


@hookimpl
def kiln_provisioners() -> Iterator[ProvisionerSpec]:
    yield from ()


@hookimpl
def kiln_post_processors() -> Iterator[PostProcessorSpec]:
    yield from ()
