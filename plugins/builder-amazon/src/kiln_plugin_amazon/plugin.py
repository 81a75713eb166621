"""The plugin's entry point (group ``kiln``): amazon-ebs and amazon-ami."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.sdk import BuilderSpec, DatasourceSpec, hookimpl
from kiln_plugin_amazon.builder import EbsBuilder
from kiln_plugin_amazon.datasource import AmiDatasource


@hookimpl
def kiln_builders() -> Iterator[BuilderSpec]:
    yield BuilderSpec("amazon-ebs", EbsBuilder)


@hookimpl
def kiln_datasources() -> Iterator[DatasourceSpec]:
    yield DatasourceSpec("amazon-ami", AmiDatasource)
