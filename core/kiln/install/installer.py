"""Install a locked plugin's wheels into its own folder under the plugin home.

A folder is built under ``HOME/.tmp`` and renamed into place only when every wheel
is in and the marker file is written, so a folder that exists is whole. Each wheel's
sha256 is checked against the lock before it is opened, and every archive member
must stay inside the folder. Installs and removals hold ``HOME/.lock``, so two
``kiln init`` runs at once wait for each other instead of racing.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from kiln.install.errors import InstallError
from kiln.install.index import sha256_of
from kiln.install.lockfile import MARKER, LockedPlugin, site_dir, sorted_packages


def home_lock(home: Path) -> Any:
    """The cross-process lock on the plugin home."""
    from filelock import FileLock

    home.mkdir(parents=True, exist_ok=True)
    return FileLock(str(home / ".lock"))


def install_plugin(
    plugin: LockedPlugin, wheels: Mapping[str, Path], home: Path, replace: bool = False
) -> Path:
    """Install ``plugin`` from ``wheels`` (project -> downloaded file); the folder.
    An installed folder is kept unless ``replace``. Call it holding :func:`home_lock`."""
    final = plugin.folder(home)
    if (final / MARKER).is_file() and not replace:
        return final
    for pkg in sorted_packages(plugin):
        actual = sha256_of(wheels[pkg.name])
        if actual != pkg.sha256:
            raise InstallError(
                f"{pkg.file} does not match the lock file: its sha256 is {actual}, the lock "
                f"pins {pkg.sha256}. The file may have been tampered with or re-published; "
                "nothing was installed. If the new file is trusted, run 'kiln init -upgrade'."
            )
    staging = home / ".tmp"
    staging.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{plugin.distribution}-", dir=staging))
    try:
        for pkg in sorted_packages(plugin):
            _install_wheel(wheels[pkg.name], work)
        compileall.compile_dir(str(site_dir(work)), quiet=1, workers=0)
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
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


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
