"""Where kiln keeps plugins and downloads, and which package index serves a source.

Folders follow the XDG base-directory rules (through platformdirs):

- plugin home: ``$KILN_PLUGIN_PATH``, else ``$XDG_DATA_HOME/kiln/plugins``;
- cache (downloads, parse trees, entry points found, plugins' derived data):
  ``$KILN_CACHE_DIR``, else ``$XDG_CACHE_HOME/kiln``;
- config file: ``$KILN_CONFIG``, else ``$XDG_CONFIG_HOME/kiln/config.toml``;
- state (the builds' cleanup journals): ``$KILN_STATE_DIR``, else
  ``$XDG_STATE_HOME/kiln``.

The index for a plugin source is, first match wins: ``kiln init -index-url URL``,
``KILN_INDEX_URL``, the config file's ``[hosts."HOST"] index_url``, its top-level
``index_url``, and PyPI's simple API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kiln.install.errors import InstallError

PYPI = "https://pypi.org/simple/"


def plugin_home() -> Path:
    override = os.environ.get("KILN_PLUGIN_PATH")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_path

    return user_data_path("kiln") / "plugins"


def cache_dir() -> Path:
    override = os.environ.get("KILN_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_path

    return user_cache_path("kiln")


def state_dir() -> Path:
    override = os.environ.get("KILN_STATE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_state_path

    return user_state_path("kiln")


def journal_dir() -> Path:
    """Where each ``kiln build`` keeps its cleanup journal, for ``kiln reap``."""
    return state_dir() / "journals"


def config_file() -> Path:
    override = os.environ.get("KILN_CONFIG")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_path

    return user_config_path("kiln") / "config.toml"


@dataclass(frozen=True)
class IndexSettings:
    """Which index URL serves which source host."""

    default: str = PYPI
    hosts: dict[str, str] = field(default_factory=dict)
    override: str | None = None  # -index-url, then KILN_INDEX_URL

    def index_for(self, host: str) -> str:
        if self.override:
            return self.override
        return self.hosts.get(host.lower(), self.default)


def index_settings(flag: str | None = None) -> IndexSettings:
    """The settings for this run: the flag, the environment and the config file."""
    import tomllib  # only here: the other folders are looked up on every build

    override = flag or os.environ.get("KILN_INDEX_URL") or None
    path = config_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return IndexSettings(override=override)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InstallError(f"Cannot read the kiln config file {path}: {exc}.") from None
    default = data.get("index_url", PYPI)
    hosts: dict[str, str] = {}
    for host, table in (data.get("hosts") or {}).items():
        if not isinstance(table, dict) or not isinstance(table.get("index_url"), str):
            raise InstallError(
                f'{path}: [hosts."{host}"] needs index_url = "URL" (a PEP 503/691 simple index).'
            )
        hosts[host.lower()] = table["index_url"]
    if not isinstance(default, str):
        raise InstallError(f'{path}: index_url must be a string, like "{PYPI}".')
    return IndexSettings(default, hosts, override)
