"""The functions a template can call, as Packer offers them (see docs/functions.md).

``FUNCTIONS`` maps each name to a :class:`Function`; the evaluator calls
``FUNCTIONS[name].call(args, ctx)``. ``try``, ``can`` and ``convert`` are not here:
they need unevaluated arguments, so the evaluator implements them itself (``convert``
with :func:`kiln.hcl.types.convert`).
"""

from __future__ import annotations

from kiln.hcl.functions import (  # noqa: F401  (each module registers its functions)
    collection,
    crypto,
    encoding,
    filesystem,
    network,
    numeric,
    secrets,
    string,
    time,
    uuid,
)
from kiln.hcl.functions._base import (
    REGISTRY,
    ArgError,
    CallError,
    Function,
    FunctionContext,
    FunctionError,
    Param,
)

FUNCTIONS: dict[str, Function] = dict(sorted(REGISTRY.items()))

__all__ = [
    "FUNCTIONS",
    "ArgError",
    "CallError",
    "Function",
    "FunctionContext",
    "FunctionError",
    "Param",
]
