"""Build every plugin under ``plugins/`` into a wheel and publish them into a local
package index folder that ``pip`` and ``kiln init`` read (a PEP 503 "simple" index).

    scripts/publish-plugins DIR

Each plugin's wheel goes to ``DIR/files/`` (replacing the wheels an earlier run put
there for that plugin), then the plugins' third-party dependencies are fetched next to
them as wheels for this platform (their ``Requires-Dist``, minus ``kiln`` and what kiln
itself depends on: the plugin installer takes those from kiln's own environment), and
``DIR/simple/`` is rewritten to list every file in ``DIR/files/``. Downloaded
dependencies stay, so running it again only rebuilds the plugins.

The index layout is the one the install tests use (:func:`tests.wheels.write_simple_index`):
one implementation for both.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.wheels import write_simple_index  # noqa: E402  (needs ROOT on sys.path)

from kiln.install.index import wheel_metadata  # noqa: E402

__all__ = ["build_wheels", "core_dependencies", "plugin_folders", "publish", "third_party"]


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
    skip |= {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels}
    found: dict[str, str] = {}
    for wheel in wheels:
        for req in requires_dist(wheel):
            if canonicalize_name(req.name) not in skip:
                req.marker = None
                found.setdefault(str(req), str(req))
    return sorted(found)


def publish(index: Path, root: Path = ROOT) -> int:
    folders = plugin_folders(root)
    if not folders:
        print(f"No plugins under {root / 'plugins'}: nothing to publish.")
        return 0
    store = index / "files"
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kiln-wheels-") as tmp:
        wheels = build_wheels(folders, Path(tmp))
        projects = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels}
        for old in store.glob("*.whl"):
            if canonicalize_name(parse_wheel_filename(old.name)[0]) in projects:
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
