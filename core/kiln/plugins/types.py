"""Descriptors: what a plugin's hooks yield, one small frozen record per component."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # the SDK imports this module: no import at run time
    from kiln.sdk.components import Builder, Component, Datasource, PostProcessor, Provisioner
    from kiln.sdk.journal import Reaper


@dataclass(frozen=True)
class ComponentSpec:
    #: the type name used in templates: ``source "NAME" ...``, ``provisioner "NAME"``
    name: str
    component: type[Component]
    #: one line for ``kiln plugins installed``; default: the first line of the
    #: component's docstring
    summary: str = ""

    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not self.summary:
            lines = (self.component.__doc__ or "").strip().splitlines()
            object.__setattr__(self, "summary", lines[0] if lines else "")


@dataclass(frozen=True)
class BuilderSpec(ComponentSpec):
    component: type[Builder]
    kind: ClassVar[str] = "builder"


@dataclass(frozen=True)
class ProvisionerSpec(ComponentSpec):
    component: type[Provisioner]
    kind: ClassVar[str] = "provisioner"


@dataclass(frozen=True)
class PostProcessorSpec(ComponentSpec):
    component: type[PostProcessor]
    kind: ClassVar[str] = "post-processor"


@dataclass(frozen=True)
class DatasourceSpec(ComponentSpec):
    component: type[Datasource]
    kind: ClassVar[str] = "datasource"


@dataclass(frozen=True)
class ReaperSpec:
    """What removes the leftovers of killed runs that a plugin's components recorded
    under ``name`` in the cleanup journal (see :mod:`kiln.sdk.journal`)."""

    name: str
    reaper: type[Reaper]

    kind: ClassVar[str] = "reaper"
