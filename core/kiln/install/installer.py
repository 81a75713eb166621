"""Install a locked plugin's wheels into its own folder under the plugin home.

A folder is built under ``HOME/.tmp`` and renamed into place only when every wheel
is in and the marker file is written, so a folder that exists is whole. Each wheel's
sha256 is checked against the lock before it is opened, and every archive member
must stay inside the folder. Installs and removals hold ``HOME/.lock``, so two
``kiln init`` runs at once wait for each other instead of racing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from kiln.install.errors import InstallError, hash_mismatch
from kiln.install.index import sha256_of
from kiln.install.lockfile import MARKER, LockedPlugin, site_dir, sorted_packages

T = TypeVar("T")
R = TypeVar("R")


def home_lock(home: Path) -> Any:
    """The cross-process lock on the plugin home."""
    from filelock import FileLock

    home.mkdir(parents=True, exist_ok=True)
    return FileLock(str(home / ".lock"))


def install_plugins(todo: Sequence[tuple[LockedPlugin, Mapping[str, Path]]], home: Path) -> None:
    """Install each plugin from its wheels (project -> downloaded file) into its folder,
    replacing the folder if there is one. Call it holding :func:`home_lock`.

    Every wheel is checked against its pin before any is opened; then the wheels of
    all plugins are unpacked side by side, and each folder is renamed into place when
    whole.
    """
    checks = [(pkg, wheels[pkg.name]) for plugin, wheels in todo for pkg in plugin.packages]
    for (pkg, _), actual in zip(checks, pool_map(lambda c: sha256_of(c[1]), checks), strict=True):
        if actual != pkg.sha256:
            raise hash_mismatch(pkg.file, actual, pkg.sha256, "the lock file")
    staging = home / ".tmp"
    staging.mkdir(parents=True, exist_ok=True)
    works = [Path(tempfile.mkdtemp(prefix=f"{p.distribution}-", dir=staging)) for p, _ in todo]
    try:
        jobs = [
            (wheels[pkg.name], work)
            for (plugin, wheels), work in zip(todo, works, strict=True)
            for pkg in plugin.packages
        ]
        _unpack_all(jobs)
        for (plugin, _), work in zip(todo, works, strict=True):
            _finish(plugin, work, plugin.folder(home))
    finally:
        for work in works:
            shutil.rmtree(work, ignore_errors=True)


def _finish(plugin: LockedPlugin, work: Path, final: Path) -> None:
    """Write the marker, then rename the whole folder into place."""
    marker = {
        "source": plugin.source,
        "version": plugin.version,
        "distribution": plugin.distribution,
        "packages": {p.name: p.version for p in sorted_packages(plugin)},
    }
    (work / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # being replaced, or left without its marker
        shutil.rmtree(final)
    os.rename(work, final)


#: Below this much wheel data, forking workers costs more than it saves.
PARALLEL_BYTES = 4 * 1024 * 1024


def _unpack_all(jobs: list[tuple[Path, Path]]) -> None:
    """Install each (wheel, folder) job; big sets in worker processes, largest first.

    Unpacking is CPU-bound Python (the installer library's per-file work), so threads
    do not overlap it; on Linux, forked workers do, one per core.
    """
    jobs = sorted(jobs, key=lambda job: job[0].stat().st_size, reverse=True)
    workers = min(len(jobs), os.cpu_count() or 1)
    big = sum(wheel.stat().st_size for wheel, _ in jobs) >= PARALLEL_BYTES
    if workers < 2 or not big or sys.platform != "linux":
        for wheel, folder in jobs:
            _install_wheel(wheel, folder)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for future in [pool.submit(_install_wheel, wheel, folder) for wheel, folder in jobs]:
            future.result()


def pool_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``fn`` over ``items`` in threads (I/O: downloads, hashing), results in order."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(fn, items))


def _install_wheel(wheel: Path, folder: Path) -> None:
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    _check_members(wheel)
    scheme = {
        "purelib": str(site_dir(folder)),
        "platlib": str(site_dir(folder)),
        "scripts": str(folder / "bin"),
        "data": str(folder / "data"),
        "headers": str(folder / "include"),
    }
    destination = SchemeDictionaryDestination(
        scheme, interpreter=sys.executable, script_kind="posix"
    )
    try:
        with WheelFile.open(wheel) as source:
            install(source, destination, additional_metadata={"INSTALLER": b"kiln\n"})
    except (InstallerError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InstallError(f"{wheel.name} is not a valid wheel: {exc}.") from None


def _check_members(wheel: Path) -> None:
    """Refuse a wheel whose members would land outside the plugin folder."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise InstallError(f"{wheel.name} is not a valid wheel: {exc}.") from None
    for name in names:
        path = PurePosixPath(name.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
            raise InstallError(
                f'{wheel.name} holds a member "{name}" that would be written outside the '
                "plugin folder; it was refused and nothing was installed."
            )


def remove_folder(folder: Path, home: Path) -> None:
    """Remove an installed folder, and the parents it leaves empty, up to ``home``."""
    shutil.rmtree(folder)
    parent = folder.parent
    while parent != home and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
