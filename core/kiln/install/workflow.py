"""What ``kiln init`` and ``kiln plugins install|remove|required`` do, without the CLI.

``init``:

1. read the template's ``required_plugins`` and the lock file next to it;
2. with a lock that names every required plugin (and no ``-upgrade``), take its pins
   as they are: no index is asked anything, and nothing is downloaded that the
   cache already holds; a pin outside the template's constraint is an error that
   says to run ``kiln init -upgrade``;
3. otherwise resolve (the lock's versions preferred unless upgrading), and pin every
   chosen file by sha256;
4. download what the cache lacks (verified), install each plugin that is not yet in
   its folder (under the plugin home's file lock), and only then write the lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiln.install.errors import InstallError, hash_mismatch
from kiln.install.installer import pool_map
from kiln.install.lockfile import (
    InstalledFolder,
    Lock,
    LockedPackage,
    LockedPlugin,
    Requirement,
    installed_folders,
    lock_path,
    read_lock,
    stale_reason,
    write_lock,
)
from kiln.install.names import distribution_for, source_key
from kiln.install.settings import IndexSettings, cache_dir, index_settings, plugin_home

if TYPE_CHECKING:
    from kiln.hcl.diagnostics import Diagnostic
    from kiln.install.index import IndexFile, Session, WheelCache
    from kiln.install.resolve import Resolution

Say = Callable[[str], object]


@dataclass(frozen=True)
class Outcome:
    """What an install did, for the command to report."""

    plugin: LockedPlugin
    folder: Path
    fresh: bool  # installed now (False: it was already there)


class Installer:
    """One run's settings, session and cache; the network is opened only if needed."""

    def __init__(self, index_url: str | None = None, say: Say = lambda text: None):
        self.settings: IndexSettings = index_settings(index_url)
        self.home = plugin_home()
        self.say = say
        self._session: Session | None = None
        self._cache: WheelCache | None = None

    def __enter__(self) -> Installer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._session is not None:
            self._session.close()

    @property
    def session(self) -> Session:
        if self._session is None:
            from kiln.install.index import Session

            self._session = Session()
        return self._session

    @property
    def cache(self) -> WheelCache:
        if self._cache is None:
            from kiln.install.index import WheelCache

            self._cache = WheelCache(cache_dir() / "wheels")
        return self._cache

    def index_for(self, source: str) -> str:
        return self.settings.index_for(source.split("/", 1)[0])

    # -- resolving ------------------------------------------------------------------------

    def resolve(
        self, requirements: Sequence[Requirement], locked: Lock | None = None
    ) -> list[LockedPlugin]:
        """Resolve ``requirements`` afresh; the versions ``locked`` pins come first, and
        a pinned version must still be the very file the lock pins."""
        from packaging.specifiers import SpecifierSet

        from kiln.hcl.requirements import parse_constraint
        from kiln.install.resolve import Root, resolve

        roots = [
            Root(
                req.source,
                distribution_for(req.source),
                parse_constraint(req.constraints).specifier if req.constraints else SpecifierSet(),
                self.index_for(req.source),
                f'{req.name} ({req.source} "{req.constraints or "any version"}")',
            )
            for req in requirements
        ]
        pins = {
            pkg.name: pkg
            for plugin in (locked.plugins.values() if locked else ())
            for pkg in plugin.packages
        }
        self.say("Resolving " + ", ".join(r.label for r in roots))
        resolution = resolve(
            roots, self.session, self.cache, preferred={n: p.version for n, p in pins.items()}
        )
        plugins = self._pin(requirements, resolution)
        for pkg in (pkg for plugin in plugins for pkg in plugin.packages):
            old = pins.get(pkg.name)
            if old is not None and old.version == pkg.version and old.sha256 != pkg.sha256:
                raise hash_mismatch(
                    f"{pkg.file} on {pkg.index}", pkg.sha256, old.sha256, "the lock file"
                )
        return plugins

    def _pin(
        self, requirements: Sequence[Requirement], resolution: Resolution
    ) -> list[LockedPlugin]:
        """Lock records for a resolution: every file's sha256 (downloaded if the index
        gave none, which the install needs anyway)."""
        chosen = [c.file for c in resolution.chosen.values() if c.file is not None]
        hashes = dict(
            zip(
                (f.filename for f in chosen),
                pool_map(lambda f: f.sha256 or self._fetch(f, None)[1], chosen),
                strict=True,
            )
        )
        plugins = []
        for req in requirements:
            dist = distribution_for(req.source)
            packages = tuple(
                LockedPackage(c.name, str(c.version), f.filename, hashes[f.filename], f.index)
                for c in resolution.closures[req.source]
                if (f := c.file) is not None
            )
            version = str(resolution.chosen[dist].version)
            plugins.append(LockedPlugin(req.source, version, req.constraints, dist, packages))
        return plugins

    # -- installing -----------------------------------------------------------------------

    def install(self, plugins: Sequence[LockedPlugin], force: bool = False) -> list[Outcome]:
        """Install every plugin not yet in its folder (with ``force``, every plugin),
        all verified against the pins."""
        from kiln.install.installer import home_lock, install_plugins

        missing = [p for p in plugins if force or not p.installed(self.home)]
        wanted = {(pkg.name, pkg.sha256): pkg for p in missing for pkg in p.packages}
        paths = dict(zip(wanted, pool_map(self._wheel, list(wanted.values())), strict=True))
        with home_lock(self.home):
            # Another init may have installed some while this one waited for the lock.
            fresh = [p for p in missing if force or not p.installed(self.home)]
            install_plugins(
                [
                    (p, {pkg.name: paths[(pkg.name, pkg.sha256)] for pkg in p.packages})
                    for p in fresh
                ],
                self.home,
            )
        return [Outcome(p, p.folder(self.home), p in fresh) for p in plugins]

    def _wheel(self, pkg: LockedPackage) -> Path:
        """The pinned file, from the cache or else downloaded and verified."""
        cached = self.cache.lookup(pkg.sha256, pkg.file)
        if cached is not None:
            return cached
        return self._fetch(self._locate(pkg), pkg.sha256)[0]

    def _fetch(self, file: IndexFile, sha256: str | None) -> tuple[Path, str]:
        """The file, verified (or hashed) and cached, and its sha256: the cache keeps a
        file under its hash (``Session.download``)."""
        path = self.session.download(file, self.cache, sha256)
        return path, path.parent.name

    def _locate(self, pkg: LockedPackage) -> IndexFile:
        """Find a pinned file by name: on the index configured now for the plugin's
        host, then on the index the lock recorded (the hash decides, not the place)."""
        from kiln.install.index import Index, ProjectNotFound

        tried = []
        for url in dict.fromkeys([self.settings.override or pkg.index, pkg.index]):
            tried.append(url)
            try:
                files = Index(url, self.session).project_files(pkg.name)
            except ProjectNotFound:
                continue
            for file in files:
                if file.filename == pkg.file:
                    return file
        raise InstallError(
            f"{pkg.file} ({pkg.name} {pkg.version}, pinned by the lock file) is not on "
            f"the index any more (looked in {', '.join(tried)}). Restore it there, point "
            "kiln at an index that has it (kiln init -index-url, KILN_INDEX_URL), or run "
            "'kiln init -upgrade' to choose another version."
        )


# -- the commands -----------------------------------------------------------------------


def init(
    requirements: Sequence[Requirement],
    template_path: str,
    *,
    upgrade: bool = False,
    force: bool = False,
    index_url: str | None = None,
    say: Say = lambda text: None,
) -> list[Outcome]:
    """``kiln init``: resolve or honour the lock, install, write the lock."""
    path = lock_path(template_path)
    lock, diags = read_lock(path)
    if lock is None and diags:
        raise LockFileError(diags)
    lock = lock or Lock()
    keep_others = not Path(template_path).is_dir()  # a folder owns its lock; a file shares it
    with Installer(index_url, say) as installer:
        if not upgrade:
            stale = [
                reason
                for r in requirements
                if r.source in lock.plugins and (reason := stale_reason(lock.plugins[r.source], r))
            ]
            if stale:
                raise InstallError("\n".join(stale))
        if upgrade or any(r.source not in lock.plugins for r in requirements):
            resolved = installer.resolve(requirements, None if upgrade else lock)
            plugins = {p.source: p for p in resolved}
        else:
            plugins = {r.source: lock.plugins[r.source] for r in requirements}
        outcomes = installer.install(list(plugins.values()), force=force)
    new = Lock({**(lock.plugins if keep_others else {}), **plugins})
    if not path.is_file() or new != lock:
        write_lock(path, new)
    return outcomes


class LockFileError(InstallError):
    """The lock file cannot be read; ``diagnostics`` say where."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("the lock file has errors")
        self.diagnostics = diagnostics


def install_source(
    source: str, version: str | None, *, index_url: str | None = None, say: Say = print
) -> Outcome:
    """``kiln plugins install SOURCE [VERSION]``: the newest (or given) version, into
    the plugin home, with no lock file."""
    key = source_key(source)
    constraint = f"= {version.lstrip('v')}" if version else ""
    req = Requirement(key.rsplit("/", 1)[-1], key, constraint)
    with Installer(index_url, say) as installer:
        (plugin,) = installer.resolve([req])
        (outcome,) = installer.install([plugin])
    return outcome


def remove_source(source: str, version: str | None) -> list[InstalledFolder]:
    """``kiln plugins remove SOURCE [VERSION]``: every matching folder, or an error."""
    from kiln.install.installer import home_lock, remove_folder

    key = source_key(source)
    home = plugin_home()
    wanted = version.lstrip("v") if version else None
    with home_lock(home):
        matches = [
            f
            for f in installed_folders(home)
            if f.source == key and (wanted is None or f.version == wanted)
        ]
        if not matches:
            what = f"{key} {wanted}" if wanted else key
            raise InstallError(
                f"{what} is not installed in {home}; 'kiln plugins installed' lists what is."
            )
        for folder in matches:
            remove_folder(folder.path, home)
    return matches
