"""Go durations (``"5s"``, ``"1m30s"``, ``"1.5h"``): Go's ``time.ParseDuration``, exact in
nanoseconds (``timeadd``), and in seconds for the options Packer takes as durations."""

from __future__ import annotations

import re

from kiln.hcl.values import go_quote

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration_ns(text: str) -> int:
    """Go's ``time.ParseDuration``, in nanoseconds; ValueError worded as Go's."""
    original = text
    invalid = ValueError(f"time: invalid duration {go_quote(original)}")
    negative = False
    if text[:1] in ("-", "+"):
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise invalid
    total = 0
    while text:
        if not (text[0] == "." or text[0] in "0123456789"):
            raise invalid
        match = re.match(r"(\d*)(?:\.(\d*))?", text)
        assert match is not None
        whole, frac = match.group(1), match.group(2)
        if not whole and not frac:
            raise invalid
        text = text[match.end() :]
        unit_match = re.match(r"[^0-9.]+", text)
        if not unit_match:
            raise ValueError(f"time: missing unit in duration {go_quote(original)}")
        unit = unit_match.group(0)
        text = text[len(unit) :]
        if unit not in _UNITS:
            raise ValueError(
                f"time: unknown unit {go_quote(unit)} in duration {go_quote(original)}"
            )
        scale = _UNITS[unit]
        amount = int(whole or "0") * scale
        if frac:
            amount += int(frac) * scale // 10 ** len(frac)
        total += amount
        if total > 2**63 - 1:
            raise invalid
    return -total if negative else total


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string (surrounding spaces allowed); ValueError with
    Go's wording when malformed."""
    return parse_duration_ns(text.strip()) / 1e9
