"""Build small, valid wheels, sdists and PEP 503 folder indexes for the install tests.

Pure Python and fast (no pip, no build backend): a wheel is a zip with the package
files, ``NAME-VERSION.dist-info/{METADATA,WHEEL,entry_points.txt,RECORD}``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name, canonicalize_version, parse_wheel_filename

from kiln.install import index as kiln_index


def _dist_name(name: str) -> str:
    """The file-name form of a project name: PEP 503 normalized with underscores."""
    return canonicalize_name(name).replace("-", "_")


def _file_version(version: str) -> str:
    return canonicalize_version(version, strip_trailing_zero=False)


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _metadata(name: str, version: str, requires: Iterable[str], requires_python: str | None) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires]
    return "\n".join(lines) + "\n\n"


def wheel_metadata(
    name: str, version: str, *, requires: Iterable[str] = (), requires_python: str | None = None
) -> str:
    """The METADATA text :func:`make_wheel` writes (for serving it as a PEP 658 file)."""
    return _metadata(name, version, requires, requires_python)


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
    contents[f"{info}/METADATA"] = _metadata(name, version, requires, requires_python).encode()
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
        f"{base}/PKG-INFO": _metadata(name, version, (), None).encode(),
        f"{base}/{_dist_name(name)}/__init__.py": b"",
    }
    with tarfile.open(path, "w:gz") as tar:
        for member, data in members.items():
            entry = tarfile.TarInfo(member)
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
    return path


def _project_of(file: Path) -> str:
    if file.name.endswith(".whl"):
        return canonicalize_name(parse_wheel_filename(file.name)[0])
    from packaging.utils import parse_sdist_filename

    return canonicalize_name(parse_sdist_filename(file.name)[0])


def _requires_python(file: Path) -> str | None:
    if not file.name.endswith(".whl"):
        return None
    value = kiln_index.wheel_metadata(file).get("Requires-Python")
    return str(value) if value else None


def write_simple_index(folder: Path, files: Iterable[Path]) -> Path:
    """Lay out a PEP 503 folder index of ``files`` under ``folder/simple`` and return it.

    Each project page links its files (relative ``../../files/NAME``, copied into
    ``folder/files``) with a ``#sha256=`` fragment and ``data-requires-python`` when the
    wheel declares it. Calling it again adds files: the pages list everything in
    ``folder/files``.
    """
    simple = folder / "simple"
    store = folder / "files"
    store.mkdir(parents=True, exist_ok=True)
    for file in files:
        target = store / file.name
        if file.resolve() != target.resolve():
            target.write_bytes(file.read_bytes())
    projects: dict[str, list[Path]] = {}
    for file in store.iterdir():
        projects.setdefault(_project_of(file), []).append(file)
    for project, project_files in projects.items():
        links = []
        for file in sorted(project_files):
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            attr = ""
            requires = _requires_python(file)
            if requires:
                attr = f' data-requires-python="{html.escape(requires)}"'
            links.append(f'<a href="../../files/{file.name}#sha256={digest}"{attr}>{file.name}</a>')
        page = simple / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(_page(f"Links for {project}", links), encoding="utf-8")
    root_links = [f'<a href="{p}/">{p}</a>' for p in sorted(projects)]
    simple.mkdir(parents=True, exist_ok=True)
    (simple / "index.html").write_text(_page("Simple index", root_links), encoding="utf-8")
    return simple


def _page(title: str, links: list[str]) -> str:
    body = "<br>\n".join(links)
    return (
        '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n{body}\n</body></html>\n"
    )
