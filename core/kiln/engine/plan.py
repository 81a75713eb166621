"""Planning: which builds a template yields, and which ``-only``/``-except`` keep.

A build is one source of one ``build`` block, named ``TYPE.NAME`` (the source's alias
when it has one), or ``BUILD.TYPE.NAME`` when the build block has a name; in a legacy
JSON template it is the builder's name. Filters are shell-style globs matched against
that name, as in Packer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from kiln.hcl.model import Build, BuildSource, PostProcessor, Provisioner, Template


@dataclass(frozen=True)
class PlannedBuild:
    build: Build
    source: BuildSource
    #: legacy JSON templates name a build after its builder alone, as Packer does
    legacy: bool = False

    @property
    def name(self) -> str:
        if self.legacy:
            return self.source_name
        base = self.source.ref
        return f"{self.build.name}.{base}" if self.build.name else base

    @property
    def source_name(self) -> str:
        """``source.name`` inside the build: the alias if set."""
        return self.source.alias or self.source.name

    def provisioners(self) -> list[Provisioner]:
        return [p for p in self.build.provisioners if _applies(p.only, p.except_, self)]

    def post_processor_chains(self, except_: Sequence[str] = ()) -> list[list[PostProcessor]]:
        """Chains that apply to this build; a ``-except`` match cuts the rest of a chain."""
        chains = []
        for chain in self.build.post_processors:
            kept: list[PostProcessor] = []
            for pp in chain:
                if any(fnmatchcase(pp.display_name, pat) for pat in except_):
                    break
                if _applies(pp.only, pp.except_, self):
                    kept.append(pp)
            if kept:
                chains.append(kept)
        return chains


def _applies(only: list[str], except_: list[str], planned: PlannedBuild) -> bool:
    """A block's ``only``/``except`` match exactly on ``TYPE.NAME`` (alias included)."""
    ref = planned.source.ref
    if only and ref not in only:
        return False
    return ref not in except_


def plan(
    template: Template, only: Sequence[str] = (), except_: Sequence[str] = ()
) -> list[PlannedBuild]:
    """Every build of the template that the filters keep, in template order."""
    out = []
    for build in template.builds:
        for source in build.sources:
            planned = PlannedBuild(build, source, legacy=template.kind == "legacy")
            if only and not any(fnmatchcase(planned.name, pat) for pat in only):
                continue
            if any(fnmatchcase(planned.name, pat) for pat in except_):
                continue
            out.append(planned)
    return out
