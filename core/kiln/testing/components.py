"""Building a component from option values, as kiln does after decoding a block."""

from __future__ import annotations

from typing import Any, TypeVar

from kiln.sdk import Context
from kiln.sdk.components import Component

C = TypeVar("C", bound=Component)


def configure(component: type[C], *, ctx: Context | None = None, **options: Any) -> C:
    """A ``component`` with ``options`` (template names) prepared, for a unit test.

    Values are taken as given (no conversion: pass a :class:`~kiln.sdk.Duration` or a
    number of seconds, not ``"1m"``). :class:`~kiln.sdk.ConfigError` from ``prepare``
    propagates, so a test can check its message and option.
    """
    known = component.config_class.options()
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(
            f"{component.__name__} has no option {', '.join(unknown)}; "
            f"its options are: {', '.join(known)}"
        )
    config = component.config_class(**{known[name].attr: v for name, v in options.items()})
    config._set = frozenset(options)  # type: ignore[attr-defined]
    instance = component(ctx)
    instance.configure(config)
    return instance
