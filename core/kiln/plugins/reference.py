"""Reference pages generated from components' declared configuration.

``python -m kiln.plugins.reference DIR`` writes one Markdown page per component that is
installed (kiln's own components, and any plugin's) plus an index; a plugin author
runs it to document their components the same way. ``tests/test_reference_docs.py``
keeps ``docs/components/`` in step with the code.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Sequence

from kiln.plugins.manager import PluginManager, make_manager
from kiln.plugins.types import ComponentSpec
from kiln.sdk.config import Config, OptionSpec, format_duration, type_name

KIND_TITLES = {
    "builder": "Builder",
    "provisioner": "Provisioner",
    "post-processor": "Post-processor",
    "datasource": "Data source",
}


def page_name(spec: ComponentSpec) -> str:
    return f"{spec.kind}-{spec.name}.md"


def render(spec: ComponentSpec, provider: str) -> str:
    """The Markdown page of one component."""
    title = f"# {KIND_TITLES[spec.kind]} `{spec.name}`"
    doc = inspect.getdoc(spec.component) or spec.summary
    lines = [title, "", f"Provided by the `{provider}` distribution.", "", doc, ""]
    lines += _options(spec.component.config_class, level=2)
    return "\n".join(lines).rstrip() + "\n"


def _options(cls: type[Config], level: int, prefix: str = "") -> list[str]:
    options = cls.options()
    if not options:
        return ["This component takes no configuration.", ""]
    heading = "#" * level
    required = [o for o in options.values() if o.required]
    optional = [o for o in options.values() if not o.required]
    lines: list[str] = []
    nested: list[OptionSpec] = []
    for title, group in (("Required", required), ("Optional", optional)):
        if not group:
            continue
        lines += [f"{heading} {title}", ""]
        for option in group:
            lines.append(_option_line(option))
            if option.block_class is not None:
                nested.append(option)
        lines.append("")
    for option in nested:
        assert option.block_class is not None
        name = f"{prefix}{option.name}"
        lines += [f"{heading} `{name}` block", ""]
        lines += _options(option.block_class, level + 1, f"{name}.")
    return lines


def _option_line(option: OptionSpec) -> str:
    text = f"- `{option.name}` ({type_name(option.type)})"
    default = _default(option)
    if default:
        text += f", default {default}"
    if option.sensitive:
        text += ", sensitive: never shown in output or logs"
    doc = " ".join(option.doc.split())
    return f"{text}: {doc}" if doc else text


def _default(option: OptionSpec) -> str:
    value = option.default
    if option.required or value is None or value == "" or value == [] or value == {}:
        return ""
    if type_name(option.type) == "duration":
        return f'`"{format_duration(value)}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, list):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]`"
    return f"`{value}`"


def index(pm: PluginManager, specs: Sequence[ComponentSpec]) -> str:
    lines = [
        "# Component reference",
        "",
        "Generated from each component's declared configuration by "
        "`python -m kiln.plugins.reference` (do not edit by hand).",
        "",
    ]
    for spec in specs:
        lines.append(
            f"- [{spec.kind} `{spec.name}`]({page_name(spec)}): {spec.summary}"
            f" ({pm.provider_of(spec).distribution})"
        )
    return "\n".join(lines) + "\n"


def all_specs(pm: PluginManager) -> list[ComponentSpec]:
    """Every component, by kind (builders first), then by name."""
    kinds = list(KIND_TITLES)
    return sorted(pm.components(), key=lambda s: (kinds.index(s.kind), s.name))


def pages(pm: PluginManager, distribution: str | None = None) -> dict[str, str]:
    """File name -> Markdown, for every component (of one distribution, if given)."""
    specs = [
        s
        for s in all_specs(pm)
        if distribution is None or pm.provider_of(s).distribution == distribution
    ]
    out = {page_name(s): render(s, pm.provider_of(s).distribution) for s in specs}
    out["README.md"] = index(pm, specs)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (1, 2):
        sys.stderr.write("usage: python -m kiln.plugins.reference DIR [DISTRIBUTION]\n")
        return 2
    folder = args[0]
    os.makedirs(folder, exist_ok=True)
    for name, text in pages(make_manager(), args[1] if len(args) == 2 else None).items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
