"""Resolve required plugins and their dependencies to wheels, with resolvelib.

Every required plugin is resolved in one pass, so the folders ``build`` loads side by
side agree on every shared dependency. The distributions installed with kiln itself
(its own dependency closure) are fixed: a plugin that needs ``paramiko`` uses the
core's, and one that needs a version the core does not have cannot be installed.

A project is looked up on the index of the plugin that names it first (its source
host's index) and then on the other indexes in play, first hit wins: a dependency
never silently comes from a second index when the first one has it. Versions come
newest first, except that a version the lock file already pins comes first of all,
so adding a plugin to a locked template moves nothing else. Pre-releases are chosen
only when a constraint names one (``>= 2.0.0-beta1``), as PEP 440 has it. A version
needs a wheel for this platform and Python; sdists are never built.
"""

from __future__ import annotations

import importlib.metadata as metadata
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from kiln.install.errors import InstallError
from kiln.install.index import Index, IndexFile, ProjectNotFound, Session, WheelCache, best_wheel


@dataclass(frozen=True)
class Root:
    """A required plugin, as the resolver starts from it."""

    source: str
    distribution: str
    specifier: SpecifierSet
    index: str
    label: str  # how messages name it: 'docker (github.com/hashicorp/docker ">= 1.0")'


@dataclass(eq=False)
class Candidate:
    name: str
    version: Version
    extras: frozenset[str] = frozenset()
    file: IndexFile | None = None  # None: provided by the kiln core's environment
    requires: list[Requirement] | None = None

    @property
    def key(self) -> str:
        return _key(self.name, self.extras)


@dataclass
class Resolution:
    """The chosen candidate per project, and the closure of each root."""

    chosen: dict[str, Candidate]
    closures: dict[str, list[Candidate]]  # root source -> its installable closure


def _key(name: str, extras: Iterable[str]) -> str:
    extras = sorted(extras)
    return f"{name}[{','.join(extras)}]" if extras else name


def core_distributions() -> dict[str, Version]:
    """kiln and every distribution its installed metadata requires, transitively."""
    from kiln import __version__

    found: dict[str, Version] = {}
    todo: list[tuple[str, frozenset[str]]] = [("kiln", frozenset())]
    while todo:
        name, extras = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name == "kiln":
                found["kiln"] = Version(__version__)
            continue
        canonical = canonicalize_name(dist.metadata["Name"])
        if canonical in found:
            continue
        found[canonical] = Version(dist.version)
        for text in dist.requires or ():
            req = _parse(text)
            if req is not None and _applies(req, extras):
                todo.append((req.name, frozenset(req.extras)))
    return found


def _parse(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _applies(req: Requirement, extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": e}) for e in (*extras, ""))


class Finder:
    """Index listings per project, fetched once, over the indexes in play."""

    def __init__(self, session: Session, indexes: Sequence[str], first: Mapping[str, str]):
        self.session = session
        self.indexes = [Index(url, session) for url in dict.fromkeys(indexes)]
        self.first = first  # project -> the index to ask before the others
        self._files: dict[str, list[IndexFile]] = {}
        self.missing: set[str] = set()

    def files(self, project: str) -> list[IndexFile]:
        if project not in self._files:
            self._files[project] = self._lookup(project)
        return self._files[project]

    def _lookup(self, project: str) -> list[IndexFile]:
        preferred = self.first.get(project)
        order = sorted(self.indexes, key=lambda index: index.url != preferred)
        for index in order:
            try:
                return index.project_files(project)
            except ProjectNotFound:
                continue
        self.missing.add(project)
        return []


class Provider(AbstractProvider):
    def __init__(
        self,
        finder: Finder,
        cache: WheelCache,
        core: Mapping[str, Version],
        preferred: Mapping[str, str],
        python: Version,
    ):
        self.finder = finder
        self.cache = cache
        self.core = core
        self.preferred = preferred
        self.python = python
        self.rejected: dict[str, list[str]] = defaultdict(list)  # project -> why versions failed

    # -- resolvelib's interface ---------------------------------------------------------

    def identify(self, requirement_or_candidate: Any) -> str:
        if isinstance(requirement_or_candidate, Candidate):
            return requirement_or_candidate.key
        req = requirement_or_candidate
        return _key(canonicalize_name(req.name), req.extras)

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> Any:
        causes = {c.requirement.name for c in backtrack_causes}
        return (identifier.split("[")[0] not in causes, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        name, _, rest = identifier.partition("[")
        extras = frozenset(rest.rstrip("]").split(",")) if rest else frozenset()
        specs = [r.specifier for r in requirements[identifier]]
        bad = {c.version for c in incompatibilities[identifier]}
        if name in self.core:
            version = self.core[name]
            if version in bad or not all(s.contains(version, prereleases=True) for s in specs):
                self.rejected[name].append(f"kiln's environment has {name} {version}")
                return []
            return [Candidate(name, version, extras)]
        by_version: dict[Version, list[IndexFile]] = defaultdict(list)
        for f in self.finder.files(name):
            by_version[f.version].append(f)
        found = []
        for version in sorted(by_version, reverse=True):
            if version in bad or not all(_allows(s, version) for s in specs):
                continue
            chosen = self._installable(name, version, by_version[version], specs)
            if chosen is not None:
                found.append(Candidate(name, version, extras, chosen))
        pinned = self.preferred.get(name)
        found.sort(key=lambda c: str(c.version) != pinned)
        return found

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        if canonicalize_name(requirement.name) != candidate.name:
            return False
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        deps: list[Requirement] = []
        if candidate.extras:
            # An extra depends on its own project at the same version.
            deps.append(Requirement(f"{candidate.name}=={candidate.version}"))
        for req in self._requires(candidate):
            if _applies(req, candidate.extras):
                deps.append(req)
        return deps

    # -- helpers --------------------------------------------------------------------------

    def _installable(
        self, name: str, version: Version, files: list[IndexFile], specs: list[SpecifierSet]
    ) -> IndexFile | None:
        exact = any(str(s) == f"=={version}" for s in specs)
        usable = [f for f in files if exact or not f.yanked]
        usable = [f for f in usable if _python_ok(f.requires_python, self.python)]
        wheel = best_wheel([f for f in usable if f.is_wheel])
        if wheel is not None:
            return wheel
        if not files:
            return None
        if not usable:
            why = "yanked" if all(f.yanked for f in files) else "needs another Python"
        elif not any(f.is_wheel for f in usable):
            why = "has only a source distribution (kiln installs wheels only)"
        else:
            tags = sorted({str(t) for f in usable for t in f.tags})
            why = f"has no wheel for this platform ({', '.join(tags[:4])})"
        self.rejected[name].append(f"{version} {why}")
        return None

    def _requires(self, candidate: Candidate) -> list[Requirement]:
        if candidate.requires is not None:
            return candidate.requires
        if candidate.file is None:
            dist = metadata.distribution(candidate.name)
            texts = dist.requires or []
        else:
            meta = self.finder.session.metadata(candidate.file, self.cache)
            texts = meta.get_all("Requires-Dist") or []
        reqs = [r for r in (_parse(t) for t in texts) if r is not None]
        candidate.requires = reqs
        return reqs


def _allows(specifier: SpecifierSet, version: Version) -> bool:
    """PEP 440's rule, made explicit (packaging's default let pre-releases through):
    a pre-release only when the specifier itself names one."""
    return specifier.contains(version, prereleases=bool(specifier.prereleases))


def _python_ok(requires_python: str | None, python: Version) -> bool:
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except Exception:
        return True  # an unreadable Requires-Python does not rule a file out (as pip)


def resolve(
    roots: Sequence[Root],
    session: Session,
    cache: WheelCache,
    *,
    preferred: Mapping[str, str] | None = None,
) -> Resolution:
    """Pick one wheel per project for every root and its dependencies."""
    first = {r.distribution: r.index for r in roots}
    finder = Finder(session, [r.index for r in roots], first)
    python = Version(".".join(str(n) for n in sys.version_info[:3]))
    provider = Provider(finder, cache, core_distributions(), preferred or {}, python)
    requirements = [Requirement(f"{r.distribution}{r.specifier}") for r in roots]
    try:
        result = Resolver(provider, BaseReporter()).resolve(requirements, max_rounds=2000)
    except ResolutionImpossible as exc:
        raise InstallError(_impossible(exc, roots, provider, finder)) from None
    except ResolutionTooDeep:
        raise InstallError(
            "The plugin requirements could not be resolved in reasonable time: too many "
            "conflicting versions. Narrow the version constraints in required_plugins."
        ) from None
    chosen: dict[str, Candidate] = {}
    for key, candidate in result.mapping.items():
        if "[" not in key:
            chosen[candidate.name] = candidate
    closures = {r.source: _closure(result.graph, r.distribution, chosen) for r in roots}
    return Resolution(chosen, closures)


def _closure(graph: Any, root: str, chosen: Mapping[str, Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    todo = [root]
    while todo:
        key = todo.pop()
        name = key.split("[")[0]
        if key in seen:
            continue
        seen.add(key)
        todo.extend(graph.iter_children(key))
        if name != key:
            todo.append(name)
    names = sorted({k.split("[")[0] for k in seen})
    return [chosen[n] for n in names if chosen[n].file is not None]


def _impossible(
    exc: ResolutionImpossible, roots: Sequence[Root], provider: Provider, finder: Finder
) -> str:
    labels = {r.distribution: r.label for r in roots}
    lines = ["The plugin requirements cannot be satisfied:"]
    for cause in exc.causes:
        req: Requirement = cause.requirement
        name = canonicalize_name(req.name)
        parent = cause.parent
        if parent is None:
            what = f"  - {labels.get(name, name)}"
            wanted = f"needs {name}{req.specifier}" if req.specifier else f"needs {name}"
        else:
            what = f"  - {parent.name} {parent.version}"
            wanted = f"needs {req}"
        lines.append(f"{what} {wanted}: {_explain(name, provider, finder)}")
    lines.append(
        "Check the version constraints in required_plugins and the index "
        "(kiln init -index-url, KILN_INDEX_URL or the config file)."
    )
    return "\n".join(dict.fromkeys(lines))


def _explain(name: str, provider: Provider, finder: Finder) -> str:
    if name in finder.missing:
        urls = ", ".join(index.url for index in finder.indexes)
        return f"no index has a project of that name (looked in {urls})"
    if name in provider.core:
        return f"kiln's own environment provides {name} {provider.core[name]}, which is fixed"
    versions = sorted({f.version for f in finder.files(name)}, reverse=True)
    listed = ", ".join(str(v) for v in versions[:10]) or "none"
    reasons = "; ".join(provider.rejected.get(name, [])[:4])
    return f"available versions: {listed}" + (f" ({reasons})" if reasons else "")
