"""``{{.Name}}`` placeholders in option values, as Packer's Go templates write them.

Commands such as the shell provisioner's ``execute_command`` or docker's
``run_command`` name the values a component fills in at run time::

    interpolate("chmod +x {{.Path}}; {{ .Vars }} {{.Path}}", {"Path": p, "Vars": v})

Only ``{{.Name}}`` (spaces allowed inside the braces) is a placeholder; any other
``{{ ... }}`` text is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kiln.sdk.config import ConfigError

__all__ = ["interpolate", "render_functions"]

_PLACEHOLDER = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def interpolate(text: str, values: Mapping[str, object], *, option: str | None = None) -> str:
    """``text`` with every ``{{.Name}}`` replaced by ``str(values[Name])``.

    An unknown name is a :class:`ConfigError` that lists the known ones; ``option``
    names the option ``text`` came from, so the error points at it. Call it once in
    ``prepare`` with placeholder values to report a typo before the build starts.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            known = ", ".join("{{." + k + "}}" for k in values) or "none"
            where = f' in "{option}"' if option else ""
            raise ConfigError(
                f"Unknown placeholder {match.group(0)}{where}. Known placeholders: {known}.",
                option=option,
            )
        return str(values[name])

    return _PLACEHOLDER.sub(replace, text)


def render_functions(text: str, *, option: str | None = None) -> str:
    """``text`` with Packer's template functions rendered: ``{{timestamp}}``,
    ``{{isotime "2006-01-02"}}``, ``{{uuid}}``, ``{{clean_resource_name "..."}}``...

    Packer renders some options this way in every kind of template, HCL2 included (an
    AMI's name: ``"web {{timestamp}}"``). ``{{.Name}}`` placeholders are left for
    :func:`interpolate`. A broken template is a :class:`ConfigError` on ``option``.
    """
    if "{{" not in text:
        return text
    from kiln.hcl.legacy import GoTemplateError, render_go_template  # only when needed

    try:
        return str(render_go_template(text, {}))
    except GoTemplateError as exc:
        where = f"{option}: " if option else ""
        raise ConfigError(f"{where}{exc}", option=option) from None
