"""The plugin's entry point (group ``kiln``): amazon-ebs, amazon-ami, and the reaper
``kiln reap`` removes amazon-ebs leftovers with."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.sdk import BuilderSpec, DatasourceSpec, ReaperSpec, hookimpl
from kiln_plugin_amazon.builder import EbsBuilder
from kiln_plugin_amazon.datasource import AmiDatasource
from kiln_plugin_amazon.reaper import REAPER, AmazonReaper


@hookimpl
def kiln_builders() -> Iterator[BuilderSpec]:
    yield BuilderSpec("amazon-ebs", EbsBuilder)


@hookimpl
def kiln_datasources() -> Iterator[DatasourceSpec]:
    yield DatasourceSpec("amazon-ami", AmiDatasource)


@hookimpl
def kiln_reapers() -> Iterator[ReaperSpec]:
    yield ReaperSpec(REAPER, AmazonReaper)
