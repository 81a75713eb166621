"""Registers kiln's built-in components through the same hooks plugins use."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.builtin.builders.file import FileBuilder
from kiln.builtin.builders.null import NullBuilder
from kiln.builtin.post_processors.artifice import Artifice
from kiln.builtin.post_processors.checksum import Checksum
from kiln.builtin.post_processors.compress import Compress
from kiln.builtin.post_processors.shell_local import ShellLocalPostProcessor
from kiln.builtin.provisioners.breakpoint import Breakpoint
from kiln.builtin.provisioners.file import File
from kiln.builtin.provisioners.shell import Shell
from kiln.builtin.provisioners.shell_local import ShellLocal
from kiln.sdk import BuilderSpec, PostProcessorSpec, ProvisionerSpec, ReaperSpec, hookimpl


@hookimpl
def kiln_builders() -> Iterator[BuilderSpec]:
    for name, component in (("null", NullBuilder), ("file", FileBuilder)):
        yield BuilderSpec(name, component)


@hookimpl
def kiln_provisioners() -> Iterator[ProvisionerSpec]:
    for name, component in (
        ("shell", Shell),
        ("file", File),
        ("shell-local", ShellLocal),
        ("breakpoint", Breakpoint),
    ):
        yield ProvisionerSpec(name, component)


@hookimpl
def kiln_post_processors() -> Iterator[PostProcessorSpec]:
    for name, component in (
        ("shell-local", ShellLocalPostProcessor),
        ("checksum", Checksum),
        ("compress", Compress),
        ("artifice", Artifice),
    ):
        yield PostProcessorSpec(name, component)


@hookimpl
def kiln_reapers() -> Iterator[ReaperSpec]:
    from kiln.builtin.reaper import LocalReaper

    yield ReaperSpec("kiln", LocalReaper)
