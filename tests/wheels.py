"""Build small, valid wheels and sdists for the install tests (their folder indexes are
laid out by :func:`scripts.publish_plugins.write_simple_index`, as published plugins are).

Pure Python and fast (no pip, no build backend): a wheel is a zip with the package
files, ``NAME-VERSION.dist-info/{METADATA,WHEEL,entry_points.txt,RECORD}``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name, canonicalize_version, parse_wheel_filename


def _dist_name(name: str) -> str:
    """The file-name form of a project name: PEP 503 normalized with underscores."""
    return canonicalize_name(name).replace("-", "_")


def _file_version(version: str) -> str:
    return canonicalize_version(version, strip_trailing_zero=False)


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def wheel_metadata(
    name: str, version: str, *, requires: Iterable[str] = (), requires_python: str | None = None
) -> str:
    """The METADATA text :func:`make_wheel` writes (for serving it as a PEP 658 file)."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires]
    return "\n".join(lines) + "\n\n"


def make_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    requires_python: str | None = None,
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    files: Mapping[str, str | bytes] | None = None,
    tag: str = "py3-none-any",
    scripts: Mapping[str, str] | None = None,
) -> Path:
    """Write ``NAME-VERSION-TAG.whl`` into ``folder`` and return its path.

    ``files`` maps paths inside the wheel to their content; without it the wheel holds
    ``<name>/__init__.py``. ``scripts`` go to ``NAME-VERSION.data/scripts/``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    dist = _dist_name(name)
    ver = _file_version(version)
    info = f"{dist}-{ver}.dist-info"
    contents: dict[str, bytes] = {}
    package_files = files if files is not None else {f"{dist}/__init__.py": ""}
    for member, data in package_files.items():
        contents[member] = data.encode() if isinstance(data, str) else data
    for script, text in (scripts or {}).items():
        contents[f"{dist}-{ver}.data/scripts/{script}"] = text.encode()
    contents[f"{info}/METADATA"] = wheel_metadata(
        name, version, requires=requires, requires_python=requires_python
    ).encode()
    contents[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: kiln-tests\nRoot-Is-Purelib: true\nTag: {tag}\n\n"
    ).encode()
    if entry_points:
        text = ""
        for group, entries in entry_points.items():
            text += f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()) + "\n"
        contents[f"{info}/entry_points.txt"] = text.encode()
    record = "".join(
        f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items()
    )
    record += f"{info}/RECORD,,\n"
    contents[f"{info}/RECORD"] = record.encode()

    path = folder / f"{dist}-{ver}-{tag}.whl"
    parse_wheel_filename(path.name)  # the name must be one packaging accepts
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in contents.items():
            zf.writestr(zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return path


def make_sdist(folder: Path, name: str, version: str) -> Path:
    """Write a tiny ``NAME-VERSION.tar.gz`` (PKG-INFO and an ``__init__.py``)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{_dist_name(name)}-{_file_version(version)}"
    path = folder / f"{base}.tar.gz"
    members = {
        f"{base}/PKG-INFO": wheel_metadata(name, version).encode(),
        f"{base}/{_dist_name(name)}/__init__.py": b"",
    }
    with tarfile.open(path, "w:gz") as tar:
        for member, data in members.items():
            entry = tarfile.TarInfo(member)
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
    return path
