"""Finding Ansible's programs: the ones ``kiln init`` installed with this plugin first.

``kiln init`` installs the plugin and its dependencies (ansible-core among them) into
one folder: packages under ``site/``, console scripts under ``bin/``. Those scripts
import ansible from ``site/``, so they run with it on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

#: the installed plugin folder's package folder (``<folder>/site/kiln_plugin_ansible``)
PLUGIN_SITE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Program:
    path: str
    #: a folder the program needs on PYTHONPATH (the plugin folder's ``site``), or ""
    site: str = ""
    #: installed with kiln or this plugin: its ansible-core is the one kiln can import
    bundled: bool = False

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) as the program needs it."""
        env = dict(os.environ if base is None else base)
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if self.site and self.site not in paths:
            env["PYTHONPATH"] = os.pathsep.join([self.site, *paths])
        return env


def find_program(name: str, *, explicit: bool) -> Program | None:
    """Where ``name`` is: as given when the user set it (a path, or a name on PATH);
    otherwise the plugin folder's ``bin``, then the folder of kiln's interpreter (a
    virtual environment's ``bin``), then PATH. None when it is nowhere."""
    if explicit or os.sep in name:
        found = shutil.which(name)
        return Program(found) if found else None
    installed = PLUGIN_SITE.parent / "bin" / name
    if os.access(installed, os.X_OK):
        return Program(str(installed), str(PLUGIN_SITE), bundled=True)
    beside = Path(sys.executable).parent / name
    if os.access(beside, os.X_OK):
        return Program(str(beside), bundled=True)
    found = shutil.which(name)
    return Program(found) if found else None
