"""Checks that need every build: each component's configuration evaluates cleanly.

Configuration is evaluated in the scope each build gives it (``source.name``,
``build.name``, unknown generated values), so a reference to a variable that does
not exist, a bad function call or a type error is reported at its file and line,
once, even when several builds share the block.
"""

from __future__ import annotations

from collections.abc import Sequence

from kiln.engine.plan import plan
from kiln.hcl.diagnostics import Diagnostic
from kiln.hcl.loader import build_scope, evaluate_body
from kiln.hcl.model import Template


def check_builds(
    template: Template, only: Sequence[str] = (), except_: Sequence[str] = ()
) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    seen: set[Diagnostic] = set()

    def add(found: list[Diagnostic]) -> None:
        for diag in found:
            if diag not in seen:
                seen.add(diag)
                diags.append(diag)

    for planned in plan(template, only, except_):
        scope = build_scope(template, planned.source.type, planned.source_name, planned.build.name)
        source = template.sources[(planned.source.type, planned.source.name)]
        add(evaluate_body(source.body, scope)[1])
        if planned.source.overrides is not None:
            add(evaluate_body(planned.source.overrides, scope, skip=("name",))[1])
        for prov in planned.provisioners():
            add(evaluate_body(prov.body, scope)[1])
        if planned.build.error_cleanup_provisioner is not None:
            add(evaluate_body(planned.build.error_cleanup_provisioner.body, scope)[1])
        for chain in planned.post_processor_chains():
            for pp in chain:
                add(evaluate_body(pp.body, scope)[1])
    return diags
