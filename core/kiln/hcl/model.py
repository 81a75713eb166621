"""The internal model of a template, the same for HCL2, HCL JSON and legacy JSON.

Loading fills it in: variable values are final, locals evaluated, sources and builds
decoded with their meta-arguments. Component configuration stays as a :class:`Body`
whose expressions are evaluated when the build knows its generated values
(``build.ID``, ``build.Host``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiln.hcl.body import Body, Expression
from kiln.hcl.diagnostics import Range


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


#: The default of a variable declared without one; its value while it has none.
NO_VALUE: Any = _Missing()


@dataclass
class Validation:
    condition: Expression
    error_message: Expression
    range: Range


@dataclass
class Variable:
    name: str
    range: Range
    type: Any = None  # a kiln.hcl.types type; None: taken from the default, else any
    default: Any = NO_VALUE
    description: str = ""
    sensitive: bool = False
    nullable: bool = True
    validations: list[Validation] = field(default_factory=list)
    value: Any = NO_VALUE
    #: where the value came from: "default", "env", a var file's path, or "-var"
    value_source: str = "default"
    value_range: Range | None = None


@dataclass
class Local:
    name: str
    expr: Expression
    range: Range
    sensitive: bool = False
    value: Any = NO_VALUE


@dataclass
class RequiredPlugin:
    """One ``required_plugins`` entry: local name, source address and version constraint."""

    name: str
    source: str
    version: str
    range: Range


@dataclass
class Datasource:
    type: str
    name: str
    body: Body
    range: Range
    value: Any = NO_VALUE

    @property
    def ref(self) -> str:
        return f"data.{self.type}.{self.name}"


@dataclass
class Source:
    type: str
    name: str
    body: Body
    range: Range

    @property
    def ref(self) -> str:
        return f"{self.type}.{self.name}"


@dataclass
class BuildSource:
    """A source used by a build: ``sources = [...]`` or ``source "T.N" { ... }``."""

    type: str
    name: str
    range: Range
    alias: str | None = None
    overrides: Body | None = None

    @property
    def ref(self) -> str:
        """``T.N`` with the alias when there is one: what ``-only`` and ``only`` match."""
        return f"{self.type}.{self.alias or self.name}"


@dataclass
class ComponentBlock:
    """What provisioner and post-processor blocks share: type, configuration, name and
    the ``only``/``except`` source filters."""

    type: str
    body: Body
    range: Range
    name: str = ""
    only: list[str] = field(default_factory=list)
    except_: list[str] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        return self.name or self.type


@dataclass
class Provisioner(ComponentBlock):
    pause_before: float = 0.0  # seconds
    max_retries: int = 0
    timeout: float = 0.0  # seconds; 0 means none
    override: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class PostProcessor(ComponentBlock):
    keep_input_artifact: bool | None = None


@dataclass
class Build:
    range: Range
    name: str = ""
    description: str = ""
    sources: list[BuildSource] = field(default_factory=list)
    provisioners: list[Provisioner] = field(default_factory=list)
    #: each inner list is one chain; a lone ``post-processor`` is a chain of one
    post_processors: list[list[PostProcessor]] = field(default_factory=list)
    error_cleanup_provisioner: Provisioner | None = None


@dataclass
class Template:
    """A loaded template: everything a command needs, with values resolved."""

    path: str
    root: str  # path.root: the template's folder
    kind: str  # "hcl2" or "legacy"
    files: list[str] = field(default_factory=list)
    required_version: list[tuple[str, Range]] = field(default_factory=list)
    required_plugins: dict[str, RequiredPlugin] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)
    locals: dict[str, Local] = field(default_factory=dict)
    datasources: dict[tuple[str, str], Datasource] = field(default_factory=dict)
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)
    builds: list[Build] = field(default_factory=list)
    description: str = ""
    #: whether an ``hcp_packer_registry`` block was present (parsed, does nothing)
    hcp_packer_registry: bool = False

    @property
    def sensitive_values(self) -> list[Any]:
        values = [v.value for v in self.variables.values() if v.sensitive]
        values += [lc.value for lc in self.locals.values() if lc.sensitive]
        return values
