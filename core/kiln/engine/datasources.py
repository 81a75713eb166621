"""Running data sources while a template loads, through the plugins that provide them."""

from __future__ import annotations

from typing import Any

from kiln.engine.prepare import configure, unknown_component
from kiln.hcl.decode import decode_object
from kiln.hcl.diagnostics import DiagnosticError, error
from kiln.hcl.loader import DatasourceExecutor
from kiln.hcl.model import Datasource
from kiln.plugins.manager import PluginManager
from kiln.sdk.context import BuildError


def executor(pm: PluginManager) -> DatasourceExecutor:
    """What ``LoadOptions.execute_datasource`` calls for each ``data`` block."""

    def execute(ds: Datasource, values: dict[str, Any]) -> Any:
        spec = pm.datasources().get(ds.type)
        if spec is None:
            raise DiagnosticError(
                [unknown_component("datasource", ds.type, pm.datasources(), ds.range, None)]
            )
        config, diags = decode_object(
            spec.component.config_class, values, f'a "{ds.type}" data source', ds.range
        )
        component = spec.component()
        if config is not None:
            diags += configure(component, config)
        if any(d.is_error for d in diags):
            raise DiagnosticError(diags)
        try:
            return component.execute()
        except BuildError as exc:
            raise DiagnosticError(
                [error("Data source failed", f"{ds.ref}: {exc}", ds.range)]
            ) from None

    return execute
