"""The machinery behind template functions: parameters, calls, errors and the registry.

A function declares its parameters with cty types; :meth:`Function.call` checks the
number of arguments, converts each to its parameter's type (``upper(1)`` gets
``"1"``), refuses null where the parameter does, returns :data:`UNKNOWN` when an
argument it needs is not known yet, and only then runs the implementation. Errors
are worded as ``packer console`` words them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiln.hcl.types import ANY, ConversionError, Type, convert
from kiln.hcl.values import UNKNOWN, HclSet, is_known

SUMMARY_ARGUMENT = "Invalid function argument"
SUMMARY_CALL = "Error in function call"
SUMMARY_TOO_FEW = "Not enough function arguments"
SUMMARY_TOO_MANY = "Too many function arguments"


class FunctionError(Exception):
    """A function call failed.

    With ``arg_index`` set, the message is the whole detail line about that argument
    (``Invalid value for "str" parameter: string required.``). Without it, the message
    is the reason the call failed, ending with a full stop; Packer shows it as
    ``Call to function "NAME" failed: REASON``. :attr:`summary` and :attr:`detail`
    give the diagnostic exactly as ``packer console`` prints it. When several
    arguments are wrong, the first is raised and the others are in :attr:`others`.
    """

    def __init__(
        self,
        message: str,
        arg_index: int | None = None,
        *,
        summary: str | None = None,
        function: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.arg_index = arg_index
        self.function = function
        self._summary = summary
        self.others: list[FunctionError] = []

    @property
    def summary(self) -> str:
        """The diagnostic's summary line, e.g. ``Invalid function argument``."""
        if self._summary:
            return self._summary
        return SUMMARY_ARGUMENT if self.arg_index is not None else SUMMARY_CALL

    @property
    def detail(self) -> str:
        """The diagnostic's detail line, as ``packer console`` prints it."""
        if self._summary or self.arg_index is not None:
            return self.message
        return f'Call to function "{self.function}" failed: {self.message}'


class ArgError(Exception):
    """Raised inside an implementation: argument ``index`` is wrong for ``reason``.

    :meth:`Function.call` turns it into a :class:`FunctionError` naming the parameter.
    """

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


class CallError(Exception):
    """Raised inside an implementation: the call failed for ``reason`` (no full stop)."""


@dataclass(frozen=True)
class Param:
    """One parameter: its name (used in messages), type, and what it accepts."""

    name: str
    type: Type = ANY
    allow_null: bool = False
    allow_unknown: bool = False


@dataclass(frozen=True)
class FunctionContext:
    """What a call can see besides its arguments.

    ``base_dir`` is ``path.root``: relative file paths resolve against it.
    ``render_template(text, filename, vars)`` renders a template for ``templatefile``.
    """

    base_dir: str
    render_template: Callable[[str, str, dict[str, Any]], str]


@dataclass(frozen=True)
class Function:
    """A template function: its parameters and implementation.

    ``impl`` receives the converted arguments positionally (the variadic ones last),
    preceded by the :class:`FunctionContext` when ``needs_context`` is true. Its arity
    (``variadic``, ``min_args``, ``max_args``) follows from ``params`` and ``var_param``.
    """

    name: str
    impl: Callable[..., Any]
    only_in_variable_defaults: bool = False
    params: tuple[Param, ...] = ()
    var_param: Param | None = None
    needs_context: bool = False
    description: str = field(default="", compare=False)

    @property
    def variadic(self) -> bool:
        return self.var_param is not None

    @property
    def min_args(self) -> int:
        return len(self.params)

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.params)

    def param_for(self, index: int) -> Param:
        """The parameter argument ``index`` binds to."""
        if index < len(self.params):
            return self.params[index]
        assert self.var_param is not None
        return self.var_param

    def call(self, args: list[Any], ctx: FunctionContext) -> Any:
        """Call the function with evaluated ``args``; raises :class:`FunctionError`."""
        self._check_arity(args)
        converted: list[Any] = []
        errors: list[FunctionError] = []
        for i, arg in enumerate(args):
            param = self.param_for(i)
            try:
                converted.append(convert(arg, param.type))
            except ConversionError as exc:
                errors.append(self._arg_error(i, exc.message))
                converted.append(arg)
        if errors:
            first = errors[0]
            first.others = errors[1:]
            raise first
        for i, value in enumerate(converted):
            if value is None and not self.param_for(i).allow_null:
                raise self._arg_error(i, "argument must not be null")
        for i, value in enumerate(converted):
            if not self.param_for(i).allow_unknown and not is_known(value):
                return UNKNOWN
        try:
            if self.needs_context:
                return nfc(self.impl(ctx, *converted))
            return nfc(self.impl(*converted))
        except ArgError as exc:
            raise self._arg_error(exc.index, exc.reason) from None
        except CallError as exc:
            raise FunctionError(f"{exc}.", function=self.name) from None

    def _arg_error(self, index: int, reason: str) -> FunctionError:
        name = self.param_for(index).name
        return FunctionError(
            f'Invalid value for "{name}" parameter: {reason}.', index, function=self.name
        )

    def _check_arity(self, args: list[Any]) -> None:
        count = self.min_args
        if len(args) < count:
            qual = " at least" if self.variadic else ""
            missing = self.params[len(args)].name
            raise FunctionError(
                f'Function "{self.name}" expects{qual} {count} argument(s). '
                f'Missing value for "{missing}".',
                summary=SUMMARY_TOO_FEW,
                function=self.name,
            )
        if not self.variadic and len(args) > count:
            raise FunctionError(
                f'Function "{self.name}" expects only {count} argument(s).',
                summary=SUMMARY_TOO_MANY,
                function=self.name,
            )


def nfc(value: Any) -> Any:
    """``value`` with its strings in Unicode normal form C, as every cty string is."""
    if isinstance(value, str):
        if value.isascii() or unicodedata.is_normalized("NFC", value):
            return value
        return unicodedata.normalize("NFC", value)
    if isinstance(value, HclSet):
        return HclSet(nfc(v) for v in value)
    if isinstance(value, list):
        return [nfc(v) for v in value]
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    return value


REGISTRY: dict[str, Function] = {}


def function(
    name: str,
    *params: Param,
    var_param: Param | None = None,
    needs_context: bool = False,
    only_in_variable_defaults: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated implementation as template function ``name``."""

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY:
            raise ValueError(f"function {name!r} registered twice")
        REGISTRY[name] = Function(
            name=name,
            impl=impl,
            only_in_variable_defaults=only_in_variable_defaults,
            params=tuple(params),
            var_param=var_param,
            needs_context=needs_context,
            description=(impl.__doc__ or "").strip().split("\n")[0],
        )
        return impl

    return register


def whole_number(value: Any) -> int:
    """``value`` as a Go ``int``, or the error cty gives for a fractional or huge one."""
    if isinstance(value, float):
        if not value.is_integer():
            raise CallError(_WHOLE)
        value = int(value)
    if not -(2**63) <= value < 2**63:
        raise CallError(_WHOLE)
    return int(value)


_WHOLE = "value must be a whole number, between -9223372036854775808 and 9223372036854775807"
