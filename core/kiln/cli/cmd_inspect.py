"""``kiln inspect``: show the components of a template."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from kiln.cli.common import add_var_flags, load_template, one_path, plugin_manager
from kiln.cli.flags import FlagSet
from kiln.hcl.model import NO_VALUE, Template
from kiln.hcl.values import format_console, go_quote
from kiln.plugins.manager import PluginManager
from kiln.plugins.types import ComponentSpec
from kiln.ui.redact import PLACEHOLDER, redact_text

HELP = """Usage: kiln inspect [options] TEMPLATE

  Inspects a template, parsing and outputting the components a template
  defines. This does not validate the contents of a template (other than
  basic syntax by necessity).

Options:

  -var 'key=value'       Variable for templates, can be used multiple times.
  -var-file=path         JSON or HCL2 file containing user variables.
"""


def run(argv: list[str]) -> int:
    flags = FlagSet("inspect")
    flags.bool("machine-readable")
    add_var_flags(flags)
    values, args = flags.parse(argv)
    path = one_path(args, "inspect")
    template, diags = load_template(path, values, warn_undeclared_vars=False)
    if template is None or diags.has_errors:
        return 1
    # Inspect describes the template even before 'kiln init': lock problems only warn.
    pm = plugin_manager(template, strict=False)
    assert pm is not None
    text = render_inspect(template) + render_components(template, pm)
    sys.stdout.write(redact_text(text))
    return 0


def render_components(template: Template, pm: PluginManager) -> str:
    """kiln's addition: each component type the template uses, what it is, who provides
    it, from the components' own declarations."""
    used: list[tuple[str, str]] = []
    for build in template.builds:
        used += [("builder", s.type) for s in build.sources]
        provs = [*build.provisioners]
        if build.error_cleanup_provisioner is not None:
            provs.append(build.error_cleanup_provisioner)
        used += [("provisioner", p.type) for p in provs]
        used += [("post-processor", pp.type) for chain in build.post_processors for pp in chain]
    used += [("datasource", ds.type) for ds in template.datasources.values()]
    known: dict[str, Mapping[str, ComponentSpec]] = {
        "builder": pm.builders(),
        "provisioner": pm.provisioners(),
        "post-processor": pm.post_processors(),
        "datasource": pm.datasources(),
    }
    out = ["> components:", ""]
    for kind, name in dict.fromkeys(used):
        spec = known[kind].get(name)
        if spec is None:
            out.append(f"  {kind} {name}: not installed (run 'kiln init' if a plugin provides it)")
        else:
            out.append(f"  {kind} {name} ({pm.provider_of(spec)}): {spec.summary}")
    return "\n".join(out) + "\n\n"


def _value(value: object, sensitive: bool) -> str:
    if sensitive:
        return go_quote(PLACEHOLDER)
    if value is NO_VALUE:
        return go_quote("<unknown>")
    return go_quote(format_console(value))


def render_inspect(template: Template) -> str:
    """The text ``packer inspect`` prints, with data sources and required plugins added."""
    if template.kind == "legacy":
        return render_legacy_inspect(template)
    out = ["kiln inspect: HCL2 mode", ""]
    if template.description:
        out += ["Description:", "", template.description, ""]
    out += ["> input-variables:", ""]
    out += [
        f"var.{n}: {_value(v.value, v.sensitive)}" for n, v in sorted(template.variables.items())
    ]
    out += ["", "> local-variables:", ""]
    out += [
        f"local.{n}: {_value(lc.value, lc.sensitive)}" for n, lc in sorted(template.locals.items())
    ]
    if template.datasources:
        out += ["", "> data-sources:", ""]
        out += [f"{ds.ref}" for ds in template.datasources.values()]
    if template.required_plugins:
        out += ["", "> required-plugins:", ""]
        out += [
            f"{rp.name}: {rp.source} {rp.version}".rstrip()
            for rp in template.required_plugins.values()
        ]
    out += ["", "> builds:", ""]
    for index, build in enumerate(template.builds):
        out += [f"  > {build.name or f'<unnamed build {index}>'}:", ""]
        if build.description:
            out += [f"    description: {build.description}", ""]
        out += ["    sources:", ""]
        out += [f"      {s.ref}\n" for s in build.sources]
        out += ["    provisioners:", ""]
        if build.provisioners:
            out += [f"      {p.display_name}" for p in build.provisioners] + [""]
        else:
            out += ["      <no provisioner>", ""]
        if build.error_cleanup_provisioner is not None:
            out += ["    error-cleanup-provisioner:", ""]
            out += [f"      {build.error_cleanup_provisioner.display_name}", ""]
        out += ["    post-processors:", ""]
        if build.post_processors:
            for n, chain in enumerate(build.post_processors):
                out += [f"      {n}:"] + [f"        {pp.display_name}" for pp in chain] + [""]
        else:
            out += ["      <no post-processor>", ""]
    return "\n".join(out).rstrip("\n") + "\n\n"


def render_legacy_inspect(template: Template) -> str:
    """``packer inspect`` of a legacy JSON template, post-processor chains added."""
    out = ["kiln inspect: JSON mode"]
    if template.description:
        out += ["Description:", "", template.description, ""]
    variables = sorted(template.variables.values(), key=lambda v: v.name)
    out += ["Required variables:", ""]
    out += [f"  {v.name}" for v in variables if v.default is NO_VALUE]
    out += ["", "Optional variables and their defaults:", ""]
    for var in variables:
        if var.default is not NO_VALUE:
            shown = PLACEHOLDER if var.sensitive else format_console(var.default)
            out.append(f"  {var.name} = {shown}")
    sources = [s for build in template.builds for s in build.sources]
    width = max((len(s.name) for s in sources), default=0)
    out += ["", "Builders:", ""]
    for src in sources:
        suffix = f" ({src.type})" if src.name != src.type else ""
        out.append(f"  {src.name:<{width}}{suffix}")
    provisioners = [p for build in template.builds for p in build.provisioners]
    out += ["", "Provisioners:", ""]
    out += [f"  {p.type}" for p in provisioners] or ["  <No provisioners>"]
    chains = [c for build in template.builds for c in build.post_processors]
    if chains:
        out += ["", "Post-processors:", ""]
        out += [f"  {n}: " + ", ".join(pp.type for pp in chain) for n, chain in enumerate(chains)]
    out += [
        "",
        "Note: If your build names contain user variables or template",
        "functions such as 'timestamp', these are processed at build time,",
        "and therefore only show in their raw form here.",
    ]
    return "\n".join(out) + "\n"
