"""Decoding a component's block into its declared configuration.

The component's :class:`~kiln.sdk.config.Config` class is the schema: an argument it
does not declare is an error with a "did you mean", a value of the wrong type is
converted as cty converts it or reported at the expression, a missing required
argument is reported at the block. Nested blocks may be written as blocks (native
HCL, ``dynamic`` included) or as an object / a list of objects (JSON templates).

Unknown values (``build.ID`` before the build runs) pass through as
:data:`~kiln.hcl.values.UNKNOWN`, so ``validate`` checks what it can.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from kiln.hcl import types
from kiln.hcl.body import (
    Attribute,
    Block,
    Body,
    did_you_mean,
    unsupported_argument,
    unsupported_block,
)
from kiln.hcl.diagnostics import Diagnostic, Range, error
from kiln.hcl.durations import parse_duration
from kiln.hcl.eval import EvalError, Scope
from kiln.hcl.loader import expand_dynamic
from kiln.hcl.values import UNKNOWN, is_known
from kiln.sdk.config import (
    Config,
    ConfigError,
    Duration,
    OptionSpec,
    type_name,
    unwrap_optional,
)


@dataclass
class MergedBody:
    """A source block with a build's ``source "T.N" { ... }`` overrides on top:
    an overriding argument replaces the source's, an overriding block type replaces
    every block of that type."""

    base: Body
    override: Body
    skip: tuple[str, ...] = ("name",)

    @property
    def range(self) -> Range:
        return self.base.range

    @property
    def filename(self) -> str:
        return self.base.filename

    def all_items(self) -> tuple[dict[str, Attribute], list[Block]]:
        attrs, blocks = self.base.all_items()
        more_attrs, more_blocks = self.override.all_items()
        replaced = {b.type for b in more_blocks}
        merged = {**attrs, **{k: v for k, v in more_attrs.items() if k not in self.skip}}
        return merged, [b for b in blocks if b.type not in replaced] + more_blocks


class _Failed(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def decode(
    cls: type[Config],
    body: Body | MergedBody,
    scope: Scope,
    what: str,
    *,
    skip: tuple[str, ...] = (),
    extra: Mapping[str, Any] | None = None,
) -> tuple[Config | None, list[Diagnostic]]:
    """Decode ``body`` into ``cls``; ``extra`` holds already evaluated values that win
    (a provisioner's ``override`` for this build). ``what`` names the block in
    messages: 'a "shell" provisioner'."""
    options = cls.options()
    values: dict[str, Any] = {}
    ranges: dict[str, Range] = {}
    diags: list[Diagnostic] = []
    attrs, blocks = body.all_items()
    weak = getattr(body, "weakly_typed", False)
    for name, attr in attrs.items():
        if name in skip:
            continue
        spec = options.get(name)
        if spec is None:
            diags.append(unsupported_argument(name, f"in {what}", options, attr.name_range))
            continue
        try:
            value = attr.expr.evaluate(scope)
        except EvalError as exc:
            diags.extend(exc.diagnostics)
            continue
        if weak and spec.repeated and not isinstance(value, list | dict) and value is not UNKNOWN:
            value = [value]
        _set(spec, value, attr.expr.range, values, ranges, diags)
    for block in blocks:
        _block(options, block, scope, what, values, ranges, diags)
    for name, value in (extra or {}).items():
        spec = options.get(name)
        if spec is None:
            diags.append(
                error(
                    "Unsupported override",
                    f'The override sets "{name}", which is not an argument of {what}.'
                    f"{did_you_mean(name, options)}",
                    body.range,
                )
            )
            continue
        _set(spec, value, body.range, values, ranges, diags)
    for spec in options.values():
        if spec.required and spec.name not in values:
            diags.append(
                error(
                    "Missing required argument",
                    f'The argument "{spec.name}" is required, but no definition was found.',
                    body.range,
                )
            )
    if diags:
        return None, diags
    config = cls(**{options[name].attr: value for name, value in values.items()})
    config._set = frozenset(values)  # type: ignore[attr-defined]
    config._ranges = {**ranges, "": body.range}  # type: ignore[attr-defined]
    return config, []


def _set(
    spec: OptionSpec,
    value: Any,
    at: Range,
    values: dict[str, Any],
    ranges: dict[str, Range],
    diags: list[Diagnostic],
) -> None:
    if value is None:  # null means "use the default", as in HCL
        return
    try:
        values[spec.name] = _coerce(value, spec.type)
    except _Failed as exc:
        diags.append(
            error(
                "Incorrect attribute value type",
                f'Inappropriate value for attribute "{spec.name}": {exc.message}.',
                at,
            )
        )
        return
    ranges[spec.name] = at


def _block(
    options: dict[str, OptionSpec],
    block: Block,
    scope: Scope,
    what: str,
    values: dict[str, Any],
    ranges: dict[str, Range],
    diags: list[Diagnostic],
) -> None:
    name = block.labels[0] if block.type == "dynamic" and block.labels else block.type
    spec = options.get(name)
    nested = spec.block_class if spec is not None else None
    if spec is None or nested is None:
        blocks = [n for n, s in options.items() if s.block_class is not None]
        diags.append(unsupported_block(name, f"in {what}", blocks, block.range))
        return
    if block.type == "dynamic":
        generated, inner = expand_dynamic(block, scope)
        diags.extend(inner)
        items: list[Any] = []
        for item in generated:
            try:
                items.append(_coerce(item, nested))
            except _Failed as exc:
                diags.append(error("Invalid dynamic block", exc.message + ".", block.range))
    else:
        config, inner = decode(nested, block.body, scope, f'a "{name}" block')
        diags.extend(inner)
        items = [config] if config is not None else []
    if spec.repeated:
        values.setdefault(name, []).extend(items)
        ranges.setdefault(name, block.range)
    elif name in values:
        diags.append(
            error(
                "Duplicate block",
                f'Only one "{name}" block is allowed here; another was set at {ranges[name]}.',
                block.range,
            )
        )
    elif items:
        values[name] = items[0]
        ranges[name] = block.range


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` as the Python type ``tp`` declares, or :class:`_Failed`."""
    if value is UNKNOWN or value is None:
        return value
    tp = unwrap_optional(tp)
    origin = get_origin(tp)
    if tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, dict):
            raise _Failed("a block (an object) is required")
        return _from_object(tp, value)
    if origin is list:
        (inner,) = get_args(tp)
        if isinstance(value, dict) and isinstance(inner, type) and issubclass(inner, Config):
            value = [value]
        if not isinstance(value, list):
            raise _Failed(f"list of {type_name(inner)} required")
        return [_coerce(item, inner) for item in value]
    if origin is dict:
        inner = get_args(tp)[1]
        if not isinstance(value, dict):
            raise _Failed(f"map of {type_name(inner)} required")
        return {key: _coerce(item, inner) for key, item in value.items()}
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            choices = ", ".join(f'"{a}"' for a in allowed)
            raise _Failed(f"must be one of {choices}, not {_show(value)}")
        return value
    if tp is Duration:
        if isinstance(value, str):
            try:
                return Duration(parse_duration(value))
            except ValueError as exc:
                raise _Failed(str(exc)) from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Duration(value)
        raise _Failed('a duration such as "30s" or "5m" is required')
    want = {str: types.STRING, bool: types.BOOL, int: types.NUMBER, float: types.NUMBER}.get(tp)
    if want is None:
        return value
    try:
        converted = types.convert(value, want)
    except types.ConversionError as exc:
        raise _Failed(exc.message) from None
    if tp is int:
        if converted != int(converted):
            raise _Failed(f"a whole number is required, not {_show(value)}")
        return int(converted)
    if tp is float:
        return float(converted)
    return converted


def decode_object(
    cls: type[Config], value: dict[str, Any], what: str, at: Range
) -> tuple[Config | None, list[Diagnostic]]:
    """Already evaluated values (a data source's) into ``cls``, problems reported at ``at``."""
    try:
        config = _from_object(cls, value)
    except _Failed as exc:
        return None, [error("Invalid configuration", f"In {what}: {exc.message}.", at)]
    config._ranges = {"": at}  # type: ignore[attr-defined]
    return config, []


def _from_object(cls: type[Config], value: dict[str, Any]) -> Config:
    options = cls.options()
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        spec = options.get(key)
        if spec is None:
            raise _Failed(f'unsupported argument "{key}"{did_you_mean(key, options)}')
        if item is not None:
            try:
                kwargs[spec.attr] = _coerce(item, spec.type)
            except _Failed as exc:
                raise _Failed(f'attribute "{key}": {exc.message}') from None
    missing = [s.name for s in options.values() if s.required and s.attr not in kwargs]
    if missing:
        raise _Failed(f'attribute "{missing[0]}" is required')
    config = cls(**kwargs)
    config._set = frozenset(k for k, v in value.items() if v is not None)  # type: ignore[attr-defined]
    return config


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def fully_known(config: Config) -> bool:
    """Whether every option of ``config`` is known (so ``prepare`` can judge it)."""
    return all(_known(getattr(config, spec.attr)) for spec in config.options().values())


def _known(value: Any) -> bool:
    if isinstance(value, Config):
        return fully_known(value)
    if isinstance(value, list):
        return all(_known(v) for v in value)
    if isinstance(value, dict):
        return all(_known(v) for v in value.values())
    return is_known(value)


def config_error(exc: ConfigError, config: Config) -> Diagnostic:
    """A component's ``ConfigError`` at the line that set the option (or the block)."""
    ranges: dict[str, Range] = getattr(config, "_ranges", {})
    at = ranges.get(exc.option or "") or ranges.get("")
    summary = f'Invalid "{exc.option}"' if exc.option else "Invalid configuration"
    return error(summary, exc.message, at)
