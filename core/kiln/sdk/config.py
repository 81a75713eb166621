"""Configuration declaration: a component states its options once, as typed fields.

::

    class ShellConfig(Config):
        inline: list[str] = option(default_factory=list, doc="Commands to run, in order.")
        execute_command: str = option("chmod +x {{.Path}}; {{.Vars}} {{.Path}}", doc="...")
        timeout: Duration = option(Duration(0), doc="...")
        password: str = option("", sensitive=True, doc="...")

A subclass of :class:`Config` is a dataclass (keyword-only). From the one declaration
kiln derives the schema ``kiln validate`` checks blocks against (an unknown argument is
an error with its file and line), the conversion of template values to these Python
types, the reference page of the component in ``docs/``, and which values are redacted
from output.

The class becomes a dataclass when it is first used — instantiated, or asked for its
:meth:`~Config.options` — not when it is defined: every command loads the components of
every installed plugin, and making all their declarations into dataclasses up front
cost every ``kiln`` command about 10 ms for classes that the template never uses. Use
``options()``, not ``dataclasses.fields()``, to read a declaration.

Option types: ``str``, ``int``, ``float``, ``bool``, :class:`Duration`, ``Any``,
``Literal["a", "b"]``, ``list[T]``, ``dict[str, T]``, ``T | None``, another
:class:`Config` subclass (a nested block, written once) and ``list[SubConfig]`` (a
block that may repeat). A nested block may also be written as an attribute holding
an object or a list of objects, as JSON templates do.
"""

from __future__ import annotations

import dataclasses
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING
from typing import Any, ClassVar, Literal, Self, dataclass_transform, get_args, get_origin

__all__ = [
    "Config",
    "ConfigError",
    "Duration",
    "OptionSpec",
    "option",
    "type_name",
]


class Duration(float):
    """A span of time in seconds, written in templates as a Go duration (``"1m30s"``).

    A number is read as seconds.
    """

    def __repr__(self) -> str:
        return f"Duration({float(self)!r})"

    def __str__(self) -> str:
        return format_duration(self)


def format_duration(seconds: float) -> str:
    """Go's spelling of a duration: ``1m30s``, ``500ms``, ``0s``."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    hours, rest = divmod(float(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{int(hours)}h" if hours else ""
    if hours or minutes:
        text += f"{int(minutes)}m"
    return text + f"{secs:g}s"


class ConfigError(Exception):
    """A configuration problem found by a component's ``prepare``.

    ``option`` names the offending option, so the message points at the template line
    that set it (or at the block when it was not set).
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.option = option


@dataclasses.dataclass(frozen=True)
class _Meta:
    required: bool
    doc: str
    sensitive: bool
    key: str | None


def option(
    default: Any = MISSING,
    *,
    default_factory: Callable[[], Any] | Any = MISSING,
    required: bool = False,
    doc: str = "",
    sensitive: bool = False,
    key: str | None = None,
) -> Any:
    """Declare one option. ``key`` is its name in templates when that is not a Python
    identifier; a required option without a default starts as ``None``."""
    if required and default is MISSING and default_factory is MISSING:
        default = None
    meta = {"kiln": _Meta(required, doc, sensitive, key)}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """One declared option, as the decoder and the documentation see it."""

    name: str  # the name in templates
    attr: str  # the Python attribute
    type: Any
    default: Any
    required: bool
    doc: str
    sensitive: bool

    @property
    def block_class(self) -> type[Config] | None:
        """The nested Config class when this option is a block (single or repeated)."""
        inner = unwrap_optional(self.type)
        if get_origin(inner) is list:
            inner = get_args(inner)[0]
        if isinstance(inner, type) and issubclass(inner, Config):
            return inner
        return None

    @property
    def repeated(self) -> bool:
        return get_origin(unwrap_optional(self.type)) is list


@dataclass_transform(kw_only_default=True, field_specifiers=(option, dataclasses.field))
class Config:
    """Base class of every component's configuration; subclasses are dataclasses (from
    their first use)."""

    _options: ClassVar[dict[str, OptionSpec]] = {}  # a component without options

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._options = {}

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        _dataclass(cls)  # its __init__ is the dataclass's from now on
        return super().__new__(cls)

    @classmethod
    def options(cls) -> dict[str, OptionSpec]:
        """Every option by its template name, in declaration order (inherited first)."""
        if cls._options or cls is Config:
            return cls._options
        _dataclass(cls)
        assert dataclasses.is_dataclass(cls)
        hints = typing.get_type_hints(cls)
        out: dict[str, OptionSpec] = {}
        for f in dataclasses.fields(cls):
            meta = f.metadata.get("kiln") or _Meta(False, "", False, None)
            if f.default is not MISSING:
                default = f.default
            elif f.default_factory is not MISSING:
                default = f.default_factory()
            else:
                default = None
            name = meta.key or f.name
            out[name] = OptionSpec(
                name, f.name, hints[f.name], default, meta.required, meta.doc, meta.sensitive
            )
        cls._options = out
        return out

    def sensitive_values(self) -> list[str]:
        """The string forms of every sensitive option set, nested blocks included."""
        found: list[str] = []
        for spec in self.options().values():
            value = getattr(self, spec.attr)
            if spec.sensitive and value not in (None, ""):
                found.extend(_strings(value))
            elif spec.block_class is not None and value is not None:
                for item in value if isinstance(value, list) else [value]:
                    found.extend(item.sensitive_values())
        return found

    def is_set(self, name: str) -> bool:
        """Whether the template set ``name`` (rather than leaving the default)."""
        return name in getattr(self, "_set", ())


_declaring = threading.RLock()
#: set on a class once it is a whole dataclass (dataclasses sets the fields, which mark a
#: dataclass, before it makes ``__init__``)
_MADE = "_kiln_dataclass_made"


def _dataclass(cls: type[Config]) -> None:
    """Make ``cls`` a dataclass, its Config bases first (their fields come first), once."""
    if cls is Config or _MADE in cls.__dict__:
        return
    with _declaring:  # two builds may meet a class first at the same time
        if _MADE not in cls.__dict__:
            for base in reversed(cls.__mro__[1:]):
                if issubclass(base, Config) and base is not Config:
                    _dataclass(base)
            dataclasses.dataclass(kw_only=True)(cls)
            setattr(cls, _MADE, True)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def unwrap_optional(tp: Any) -> Any:
    """``T`` for ``T | None``; anything else unchanged."""
    if get_origin(tp) in (types.UnionType, typing.Union):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def type_name(tp: Any) -> str:
    """How documentation and messages name an option type (``list(string)``...)."""
    tp = unwrap_optional(tp)
    origin = get_origin(tp)
    if origin is list:
        inner = get_args(tp)[0]
        if isinstance(inner, type) and issubclass(inner, Config):
            return "block (repeatable)"
        return f"list({type_name(inner)})"
    if origin is dict:
        return f"map({type_name(get_args(tp)[1])})"
    if origin is Literal:
        return "string (" + ", ".join(f'"{a}"' for a in get_args(tp)) + ")"
    if isinstance(tp, type) and issubclass(tp, Config):
        return "block"
    names = {str: "string", int: "number", float: "number", bool: "bool", Duration: "duration"}
    return names.get(tp, "any")
