"""Plugin distribution: ``required_plugins`` → package index → lock file → installed wheels.

- ``names``: a plugin source address and the distribution that provides it;
- ``settings``: the kiln plugin home, the download cache, and which index serves a host;
- ``index``: the PEP 691/503 simple-API client, downloads and the wheel cache;
- ``resolve``: the dependency resolver (resolvelib) over those indexes;
- ``lockfile``: ``.kiln.lock.hcl``, read, written and checked against a template;
- ``installer``: verified wheels into one folder per locked plugin.

Nothing here is imported by ``validate`` or ``build`` but ``lockfile`` and ``names``,
so start-up stays lean: httpx and resolvelib load only when ``kiln init`` needs them.
"""

from kiln.install.errors import InstallError

__all__ = ["InstallError"]
