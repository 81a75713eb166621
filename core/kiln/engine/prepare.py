"""Preparing builds: each planned build gets its components, configured and checked.

The builder's configuration (the source block, with the build's overrides) is decoded
into its declared Config and handed to ``prepare``. Provisioners and post-processors
are decoded too, so ``validate`` reports every unknown argument and bad value at its
file and line; they are decoded again when they run, once ``build.*`` is known.
``prepare`` runs for them here only when their configuration is already fully known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kiln.engine.plan import PlannedBuild, plan
from kiln.hcl.body import Body, did_you_mean
from kiln.hcl.decode import MergedBody, config_error, decode, fully_known
from kiln.hcl.diagnostics import Diagnostic, Range, error, warning
from kiln.hcl.eval import Scope
from kiln.hcl.loader import POST_PROCESSOR_META, PROVISIONER_META, build_scope
from kiln.hcl.model import ComponentBlock, Provisioner, Template
from kiln.plugins.manager import PluginManager
from kiln.plugins.types import ComponentSpec, PostProcessorSpec, ProvisionerSpec
from kiln.sdk.components import Builder, Component
from kiln.sdk.config import Config, ConfigError
from kiln.sdk.context import Context
from kiln.ui.redact import register_secret


@dataclass
class PreparedStep:
    """A provisioner or post-processor of one build, with its component class."""

    block: ComponentBlock
    spec: ComponentSpec


@dataclass
class PreparedBuild:
    planned: PlannedBuild
    builder: Builder
    ctx: Context
    #: the build.* names its builder and post-processors add to the common ones
    generated: tuple[str, ...] = ()
    provisioners: list[PreparedStep] = field(default_factory=list)
    error_cleanup: PreparedStep | None = None
    chains: list[list[PreparedStep]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.planned.name

    def scope(self, template: Template, generated: dict[str, Any] | None = None) -> Scope:
        return planned_scope(template, self.planned, generated, self.generated)


def prepare_builds(
    template: Template,
    pm: PluginManager,
    only: Sequence[str] = (),
    except_: Sequence[str] = (),
    root: Context | None = None,
) -> tuple[list[PreparedBuild], list[Diagnostic]]:
    """Every build the filters keep, prepared; diagnostics for all that is wrong."""
    root = root or Context()
    builds: list[PreparedBuild] = []
    diags: list[Diagnostic] = []
    seen: set[Diagnostic] = set()

    def add(found: list[Diagnostic]) -> None:
        for diag in found:
            if diag not in seen:
                seen.add(diag)
                diags.append(diag)

    datasources = pm.datasources()
    for ds in template.datasources.values():
        if ds.type not in datasources:
            add([unknown_component("datasource", ds.type, datasources, ds.range, template)])
    builders = pm.builders()
    for planned in plan(template, only, except_):
        source = template.sources[(planned.source.type, planned.source.name)]
        spec = builders.get(source.type)
        if spec is None:
            add([unknown_component("builder", source.type, builders, source.range, template)])
            continue
        ctx = replace(
            root.child(),
            build_name=planned.source_name,
            builder_type=source.type,
            template_dir=template.root,
        )
        names = spec.component.generated + _chain_generated(planned, pm, except_)
        scope = planned_scope(template, planned, declared=names)
        body: Body | MergedBody = source.body
        if planned.source.overrides is not None:
            body = MergedBody(source.body, planned.source.overrides)
        builder = spec.component(ctx)
        config, found = decode(
            spec.component.config_class, body, scope, f'a "{source.type}" source'
        )
        add(found)
        if config is not None:
            add(configure(builder, config))

        prepared = PreparedBuild(planned, builder, ctx, names)
        for prov in planned.provisioners():
            if step := _step(template, pm, planned, prov, scope, add):
                prepared.provisioners.append(step)
        if planned.build.error_cleanup_provisioner is not None:
            cleanup = planned.build.error_cleanup_provisioner
            prepared.error_cleanup = _step(template, pm, planned, cleanup, scope, add)
        for chain in planned.post_processor_chains(except_):
            steps = [_step(template, pm, planned, pp, scope, add) for pp in chain]
            prepared.chains.append([s for s in steps if s is not None])
        builds.append(prepared)
    return builds, diags


def _chain_generated(
    planned: PlannedBuild, pm: PluginManager, except_: Sequence[str]
) -> tuple[str, ...]:
    """The build.* names the post-processors of ``planned`` record for later ones."""
    known = pm.post_processors()
    return tuple(
        name
        for chain in planned.post_processor_chains(except_)
        for block in chain
        if (spec := known.get(block.type)) is not None
        for name in spec.component.generated
    )


def configure(component: Component, config: Config) -> list[Diagnostic]:
    """Hand ``config`` to ``prepare`` (when it is fully known): warnings and errors as
    diagnostics at the line of the option concerned. Registers sensitive values."""
    for secret in config.sensitive_values():
        register_secret(secret)
    if not fully_known(config):
        component.config = config
        return []
    try:
        warnings = component.configure(config)
    except ConfigError as exc:
        return [config_error(exc, config)]
    at = getattr(config, "_ranges", {}).get("")
    return [warning("Warning", text, at) for text in warnings]


def provisioner_override(block: Provisioner, planned: PlannedBuild) -> dict[str, Any]:
    """A provisioner's ``override`` entry for this build: keyed by the source's name
    (as Packer does) or by ``TYPE.NAME``."""
    return block.override.get(planned.source_name) or block.override.get(planned.source.ref) or {}


def decode_step(
    step: PreparedStep, planned: PlannedBuild, scope: Scope
) -> tuple[Config | None, list[Diagnostic]]:
    block = step.block
    meta: tuple[str, ...]
    if isinstance(block, Provisioner):
        kind, meta = "provisioner", PROVISIONER_META
        extra: dict[str, Any] | None = provisioner_override(block, planned)
    else:
        kind, meta, extra = "post-processor", POST_PROCESSOR_META, None
    what = f'a "{block.type}" {kind}'
    return decode(step.spec.component.config_class, block.body, scope, what, skip=meta, extra=extra)


def _step(
    template: Template,
    pm: PluginManager,
    planned: PlannedBuild,
    block: ComponentBlock,
    scope: Scope,
    report: Callable[[list[Diagnostic]], None],
) -> PreparedStep | None:
    """The step of ``block`` with its configuration checked; None (reported) when no
    plugin provides its type."""
    known: dict[str, ProvisionerSpec] | dict[str, PostProcessorSpec]
    if isinstance(block, Provisioner):
        known, kind = pm.provisioners(), "provisioner"
    else:
        known, kind = pm.post_processors(), "post-processor"
    spec = known.get(block.type)
    if spec is None:
        report([unknown_component(kind, block.type, known, block.range, template)])
        return None
    step = PreparedStep(block, spec)
    config, diags = decode_step(step, planned, scope)
    report(diags)
    if config is not None:
        report(configure(spec.component(), config))
    return step


def planned_scope(
    template: Template,
    planned: PlannedBuild,
    generated: dict[str, Any] | None = None,
    declared: tuple[str, ...] = (),
) -> Scope:
    """What a component of ``planned`` sees; ``build.*`` unknown until ``generated``
    (``declared``: the names the build's builder and post-processors add)."""
    return build_scope(
        template,
        planned.source.type,
        planned.source_name,
        planned.build.name,
        generated,
        declared,
    )


def unknown_component(
    kind: str, name: str, known: Mapping[str, Any], at: Range, template: Template | None
) -> Diagnostic:
    hint = did_you_mean(name, known)
    listed = ", ".join(sorted(known)) or "none"
    detail = f'No installed plugin provides the {kind} "{name}".{hint} Known: {listed}.'
    if template is None or template.required_plugins:
        detail += " If a required plugin provides it, run 'kiln init' first."
    return error(f'Unknown {kind} type "{name}"', detail, at)
