"""Build every plugin under ``plugins/`` into a wheel and publish them into a local
package index folder that ``pip`` and ``kiln init`` read (a PEP 503 "simple" index).

    scripts/publish-plugins DIR

Each plugin's wheel goes to ``DIR/files/`` (replacing the wheels an earlier run put
there for that plugin), then the plugins' third-party dependencies are fetched next to
them as wheels for this platform (their ``Requires-Dist``, minus ``kiln`` and what kiln
itself depends on: the plugin installer takes those from kiln's own environment), and
``DIR/simple/`` is rewritten to list every file in ``DIR/files/``. Downloaded
dependencies stay, so running it again only rebuilds the plugins.

The install tests lay out their folder indexes with :func:`write_simple_index` too
(``from scripts.publish_plugins import write_simple_index``): one implementation for both.
"""

from __future__ import annotations

import hashlib
import html
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from kiln.install.index import wheel_metadata

__all__ = [
    "build_wheels",
    "core_dependencies",
    "plugin_folders",
    "publish",
    "third_party",
    "write_simple_index",
]

ROOT = Path(__file__).resolve().parent.parent


def plugin_folders(root: Path = ROOT) -> list[Path]:
    """Every plugin distribution: a folder of ``plugins/`` with a ``pyproject.toml``."""
    folder = root / "plugins"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "pyproject.toml").is_file())


def build_wheels(folders: Iterable[Path], out: Path) -> list[Path]:
    """Build one wheel per plugin folder into ``out`` (no isolation: hatchling comes from
    this environment, as ``scripts/bootstrap`` installed it)."""
    wheels: list[Path] = []
    for folder in folders:
        before = set(out.glob("*.whl"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-build-isolation",
                str(folder),
                "-w",
                str(out),
            ],
            check=True,
        )
        new = sorted(set(out.glob("*.whl")) - before)
        if len(new) != 1:
            raise SystemExit(f"error: building {folder} gave {len(new)} wheels, expected one")
        wheels.append(new[0])
    return wheels


def requires_dist(wheel: Path) -> list[Requirement]:
    """The ``Requires-Dist`` entries of a wheel's METADATA that apply here (markers
    evaluated; requirements of extras left out)."""
    found: list[Requirement] = []
    for value in wheel_metadata(wheel).get_all("Requires-Dist") or []:
        try:
            req = Requirement(value)
        except InvalidRequirement as exc:
            raise SystemExit(f"error: {wheel.name}: bad Requires-Dist {value!r}: {exc}") from None
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            found.append(req)
    return found


def core_dependencies(root: Path = ROOT) -> set[str]:
    """The canonical names of kiln's own runtime dependencies (root ``pyproject.toml``)."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {canonicalize_name(Requirement(spec).name) for spec in project["dependencies"]}


def third_party(wheels: Iterable[Path], root: Path = ROOT) -> list[str]:
    """What the plugins need beyond kiln and kiln's dependencies, as requirement strings."""
    skip = {"kiln", *core_dependencies(root)}
    skip |= {_project_of(w) for w in wheels}
    found: dict[str, str] = {}
    for wheel in wheels:
        for req in requires_dist(wheel):
            if canonicalize_name(req.name) not in skip:
                req.marker = None
                found.setdefault(str(req), str(req))
    return sorted(found)


def _project_of(file: Path) -> str:
    """The canonical project name of a wheel or sdist, from its file name."""
    if file.name.endswith(".whl"):
        return canonicalize_name(parse_wheel_filename(file.name)[0])
    return canonicalize_name(parse_sdist_filename(file.name)[0])


def _requires_python(file: Path) -> str | None:
    if not file.name.endswith(".whl"):
        return None
    value = wheel_metadata(file).get("Requires-Python")
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


def publish(index: Path, root: Path = ROOT) -> int:
    folders = plugin_folders(root)
    if not folders:
        print(f"No plugins under {root / 'plugins'}: nothing to publish.")
        return 0
    store = index / "files"
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kiln-wheels-") as tmp:
        wheels = build_wheels(folders, Path(tmp))
        projects = {_project_of(w) for w in wheels}
        for old in store.glob("*.whl"):
            if _project_of(old) in projects:
                old.unlink()  # a plugin's wheels are the ones the tree builds now
        needed = third_party(wheels, root)
        if needed:
            # pip skips the files an earlier run downloaded
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--only-binary=:all:",
                    "-d",
                    str(store),
                    *needed,
                ],
                check=True,
            )
        write_simple_index(index, wheels)
    for wheel in wheels:
        name, version, _, _ = parse_wheel_filename(wheel.name)
        print(f"published {name} {version}: {store / wheel.name}")
    if needed:
        print(f"dependencies (wheels in {store}): " + ", ".join(needed))
    else:
        print("dependencies: none beyond kiln's own")
    simple = (index / "simple").resolve()
    print(f"index: {simple}  (pip install --index-url {simple.as_uri()}/ NAME)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write(
            "usage: scripts/publish-plugins DIR\n"
            "Builds every plugin under plugins/ and publishes the wheels, with their "
            "third-party dependencies, as a PEP 503 index in DIR/simple.\n"
        )
        return 2
    return publish(Path(args[0]))


if __name__ == "__main__":
    raise SystemExit(main())
