"""Time functions, all in UTC as Packer computes them.

formatdate legacy_isotime legacy_strftime rfc3339_parse timeadd timestamp
unix_timestamp_parse
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from kiln.hcl.durations import parse_duration_ns
from kiln.hcl.functions._base import ArgError, CallError, Param, function, whole_number
from kiln.hcl.types import NUMBER, STRING
from kiln.hcl.values import go_quote

#: The time every legacy_isotime and legacy_strftime call of this process formats.
_INIT_TIME = datetime.now(UTC)


def init_time() -> datetime:
    """When this kiln process started: every timestamp of one run uses the same instant."""
    return _INIT_TIME


_MONTHS = list(calendar.month_name)
_WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


# --------------------------------------------------------------------------- RFC 3339


class _ParseError(Exception):
    def __init__(self, layout_elem: str, value_elem: str, message: str = "") -> None:
        super().__init__(message)
        self.layout_elem = layout_elem
        self.value_elem = value_elem
        self.message = message


def _getnum(value: str, fixed: bool) -> tuple[int, str] | None:
    if not value[:1].isdigit() or not value[:1].isascii():
        return None
    if not value[1:2].isdigit() or not value[1:2].isascii():
        if fixed:
            return None
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


def _go_parse_rfc3339(text: str) -> datetime:
    """Go's ``time.Parse(time.RFC3339, text)``, failing with Go's ParseError parts."""
    value = text
    numbers: dict[str, int] = {}
    elements = [
        ("2006", "year"),
        ("-", None),
        ("01", "month"),
        ("-", None),
        ("02", "day"),
        ("T", None),
        ("15", "hour"),
        (":", None),
        ("04", "minute"),
        (":", None),
        ("05", "second"),
    ]
    for elem, name in elements:
        if name is None:
            if not value.startswith(elem):
                raise _ParseError(elem, value)
            value = value[len(elem) :]
            continue
        hold = value
        if name == "year":
            if len(value) < 4 or not value[:4].isdigit() or not value[:4].isascii():
                raise _ParseError(elem, hold)
            numbers[name], value = int(value[:4]), value[4:]
            continue
        parsed = _getnum(value, fixed=name != "hour")
        if parsed is None:
            raise _ParseError(elem, hold)
        number, value = parsed
        limit = {"month": (1, 12), "day": (0, 99), "hour": (0, 23)}.get(name, (0, 59))
        if not limit[0] <= number <= limit[1]:
            raise _ParseError(elem, value, f": {name} out of range")
        numbers[name] = number
        if name == "second" and len(value) >= 2 and value[0] in ".," and value[1].isdigit():
            end = 1
            while end < len(value) and value[end].isdigit() and value[end].isascii():
                end += 1
            numbers["micro"] = int((value[1:end] + "000000")[:6])
            value = value[end:]
    hold = value
    if value.startswith("Z"):
        offset = 0
        value = value[1:]
    else:
        if len(value) < 6 or value[3] != ":" or value[0] not in "+-":
            raise _ParseError("Z07:00", hold)
        hours, minutes = value[1:3], value[4:6]
        if not (hours.isdigit() and minutes.isdigit()):
            raise _ParseError("Z07:00", hold)
        offset = int(hours) * 60 + int(minutes)
        if value[0] == "-":
            offset = -offset
        value = value[6:]
    if value:
        raise _ParseError("", value, f": extra text: {go_quote(value)}")
    year, month, day = numbers["year"], numbers["month"], numbers["day"]
    if day < 1 or day > calendar.monthrange(max(year, 1), month)[1]:
        raise _ParseError("", "", ": day out of range")
    return datetime(
        max(year, 1),
        month,
        day,
        numbers["hour"],
        numbers["minute"],
        numbers["second"],
        numbers.get("micro", 0),
        tzinfo=timezone(timedelta(minutes=offset)),
    )


_ELEM_NAMES = {
    "2006": "year",
    "01": "month",
    "02": "day of month",
    "15": "hour",
    "04": "minute",
    "05": "second",
    "Z07:00": "UTC offset",
}


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 timestamp, or ValueError worded as cty words it."""
    try:
        return _go_parse_rfc3339(text)
    except _ParseError as err:
        prefix = "not a valid RFC3339 timestamp"
        if not err.layout_elem and not err.value_elem and err.message:
            raise ValueError(prefix + err.message) from None
        if err.layout_elem == "T":
            raise ValueError(f"{prefix}: missing required time introducer 'T'") from None
        if err.layout_elem in (":", "-"):
            if not err.value_elem:
                raise ValueError(
                    f"{prefix}: end of string where {go_quote(err.layout_elem)} is expected"
                ) from None
            raise ValueError(
                f"{prefix}: found {go_quote(err.value_elem)} where "
                f"{go_quote(err.layout_elem)} is expected"
            ) from None
        what = _ELEM_NAMES.get(err.layout_elem, "timestamp segment")
        if not err.value_elem:
            raise ValueError(f"{prefix}: end of string before {what}") from None
        raise ValueError(f"{prefix}: cannot use {go_quote(err.value_elem)} as {what}") from None


def format_rfc3339(moment: datetime) -> str:
    """Go's ``Format(time.RFC3339)``: whole seconds, ``Z`` for UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + _zone(moment, "Z07:00")


def _zone(moment: datetime, layout: str) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0 and layout.startswith("Z"):
        return "Z"
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    if layout in ("Z07:00", "-07:00"):
        return f"{sign}{hours:02d}:{mins:02d}"
    if layout in ("Z07", "-07"):
        return f"{sign}{hours:02d}"
    return f"{sign}{hours:02d}{mins:02d}"


@function("timestamp")
def timestamp() -> str:
    """The current date and time in UTC, in RFC 3339 format."""
    return format_rfc3339(datetime.now(UTC))


# --------------------------------------------------------------------------- formatdate


def _date_tokens(fmt: str) -> list[str]:
    """cty's formatdate tokenizer, quirks included: a quoted literal that ends the
    format string is dropped, as Go's scanner never emits it."""
    tokens: list[str] = []
    i = 0
    n = len(fmt)
    while i < n:
        ch = fmt[i]
        if ch == "'":
            if i + 1 < n and fmt[i + 1] == "'":
                tokens.append("''")
                i += 2
                continue
            j = i + 1
            while j < n:
                if fmt[j] == "'":
                    if j + 1 == n:
                        return tokens
                    if fmt[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                tokens.append(fmt[i:])
                return tokens
            tokens.append(fmt[i : j + 1])
            i = j + 1
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < n and fmt[j] == ch:
                j += 1
            tokens.append(fmt[i:j])
            i = j
        else:
            j = i + 1
            while j < n and fmt[j] != "'" and not (fmt[j].isascii() and fmt[j].isalpha()):
                j += 1
            tokens.append(fmt[i:j])
            i = j
    return tokens


def _verb_error(tok: str, detail: str = "") -> ArgError:
    return ArgError(0, f"invalid date format verb {go_quote(tok)}{detail}")


def _format_token(tok: str, t: datetime) -> str:
    kind, size = tok[0], len(tok)
    if kind == "Y":
        if size == 2:
            return f"{t.year % 100:02d}"
        if size == 4:
            return f"{t.year:04d}"
        raise _verb_error(tok, ': year must either be "YY" or "YYYY"')
    if kind == "M":
        forms = {1: str(t.month), 2: f"{t.month:02d}", 3: _MONTHS[t.month][:3], 4: _MONTHS[t.month]}
        if size in forms:
            return forms[size]
        raise _verb_error(tok, ': month must be "M", "MM", "MMM", or "MMMM"')
    weekday = _WEEKDAYS[(t.weekday() + 1) % 7]
    simple = {
        "D": (t.day, 'day of month must either be "D" or "DD"'),
        "h": (t.hour, '24-hour must either be "h" or "hh"'),
        "H": ((t.hour % 12) or 12, '12-hour must either be "H" or "HH"'),
        "m": (t.minute, 'minute must either be "m" or "mm"'),
        "s": (t.second, 'second must either be "s" or "ss"'),
    }
    if kind in simple:
        number, message = simple[kind]
        if size == 1:
            return str(number)
        if size == 2:
            return f"{number:02d}"
        raise _verb_error(tok, f": {message}")
    if kind == "E":
        if size == 3:
            return weekday[:3]
        if size == 4:
            return weekday
        raise _verb_error(tok, ': day of week must either be "EEE" or "EEEE"')
    if kind in "Aa":
        if size != 2:
            raise _verb_error(tok, f': must be "{kind}{kind}"')
        marker = "AM" if t.hour < 12 else "PM"
        return marker if kind == "A" else marker.lower()
    if kind == "Z":
        if size == 1:
            return _zone(t, "Z07:00")
        if size == 3:
            text = _zone(t, "-0700")
            return "UTC" if text == "+0000" else text
        if size == 4:
            return _zone(t, "-0700")
        if size == 5:
            return _zone(t, "-07:00")
        raise _verb_error(tok, ": timezone must be Z, ZZZZ, or ZZZZZ")
    raise _verb_error(tok)


@function("formatdate", Param("format", STRING), Param("time", STRING))
def formatdate(fmt: str, time_text: str) -> str:
    """A timestamp reformatted with a format of letter mnemonics (YYYY, MM, hh...)."""
    try:
        moment = parse_timestamp(time_text)
    except ValueError as exc:
        raise ArgError(1, str(exc)) from None
    out: list[str] = []
    for tok in _date_tokens(fmt):
        if tok[0] == "'":
            if tok[-1] != "'" or len(tok) == 1:
                raise ArgError(0, "unterminated literal '")
            out.append("'" if tok == "''" else tok[1:-1].replace("''", "'"))
        elif tok[0].isascii() and tok[0].isalpha():
            out.append(_format_token(tok, moment))
        else:
            out.append(tok)
    return "".join(out)


# --------------------------------------------------------------------------- timeadd


@function("timeadd", Param("timestamp", STRING), Param("duration", STRING))
def timeadd(timestamp_text: str, duration: str) -> str:
    """A timestamp plus a duration such as ``"1h30m"`` or ``"-10m"``."""
    try:
        moment = parse_timestamp(timestamp_text)
        nanos = parse_duration_ns(duration)
    except ValueError as exc:
        raise CallError(str(exc)) from None
    micro_total = moment.microsecond * 1000 + nanos
    base = moment.replace(microsecond=0)
    result = base + timedelta(microseconds=micro_total // 1000)
    return format_rfc3339(result)


# --------------------------------------------------------------------------- parse


def _parts(moment: datetime) -> dict[str, Any]:
    iso_year, iso_week, _ = moment.isocalendar()
    return {
        "day": moment.day,
        "hour": moment.hour,
        "iso_week": iso_week,
        "iso_year": iso_year,
        "minute": moment.minute,
        "month": moment.month,
        "month_name": _MONTHS[moment.month],
        "second": moment.second,
        "weekday": (moment.weekday() + 1) % 7,
        "weekday_name": _WEEKDAYS[(moment.weekday() + 1) % 7],
        "year": moment.year,
        "year_day": moment.timetuple().tm_yday,
    }


@function("rfc3339_parse", Param("timestamp", STRING))
def rfc3339_parse(timestamp_text: str) -> dict[str, Any]:
    """An RFC 3339 timestamp's parts: year, month, day, hour..., and its Unix time."""
    candidate = timestamp_text
    if len(candidate) > 10 and candidate[10] == " ":
        candidate = candidate[:10] + "T" + candidate[11:]
    try:
        moment = _go_parse_rfc3339(candidate)
    except _ParseError:
        raise ArgError(0, f"{go_quote(timestamp_text)} is not a valid RFC3339 timestamp") from None
    parts = _parts(moment)
    parts["unix"] = calendar.timegm(moment.utctimetuple())
    return dict(sorted(parts.items()))


@function("unix_timestamp_parse", Param("unix_timestamp", NUMBER))
def unix_timestamp_parse(unix_timestamp: int | float) -> dict[str, Any]:
    """A Unix time's parts in UTC, and its RFC 3339 form."""
    try:
        seconds = whole_number(unix_timestamp)
    except CallError as exc:
        raise ArgError(
            0,
            "unix_timestamp must be a whole number of seconds representable as a 64-bit "
            f"integer: {exc}",
        ) from None
    try:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except OverflowError:
        raise ArgError(0, "unix_timestamp is out of the supported range of dates") from None
    parts = _parts(moment)
    parts["rfc3339"] = format_rfc3339(moment)
    return dict(sorted(parts.items()))


# --------------------------------------------------------------------------- legacy


_GO_LAYOUT_RE = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|15|Z07:00|Z0700|Z07|-07:00|-0700|-07|"
    r"\.0+|\.9+|002|__2|_2|01|02|03|04|05|06|PM|pm|1|2|3|4|5"
)


def go_time_format(layout: str, moment: datetime) -> str:
    """Go's ``Time.Format`` with a reference-time layout (``2006-01-02T15:04:05Z07:00``)."""

    def one(match: re.Match[str]) -> str:
        tok = match.group(0)
        table = {
            "January": _MONTHS[moment.month],
            "Jan": _MONTHS[moment.month][:3],
            "Monday": _WEEKDAYS[(moment.weekday() + 1) % 7],
            "Mon": _WEEKDAYS[(moment.weekday() + 1) % 7][:3],
            "MST": "UTC" if not moment.utcoffset() else _zone(moment, "-0700"),
            "2006": f"{moment.year:04d}",
            "06": f"{moment.year % 100:02d}",
            "01": f"{moment.month:02d}",
            "1": str(moment.month),
            "02": f"{moment.day:02d}",
            "2": str(moment.day),
            "_2": f"{moment.day:2d}",
            "__2": f"{moment.timetuple().tm_yday:3d}",
            "002": f"{moment.timetuple().tm_yday:03d}",
            "15": f"{moment.hour:02d}",
            "03": f"{(moment.hour % 12) or 12:02d}",
            "3": str((moment.hour % 12) or 12),
            "04": f"{moment.minute:02d}",
            "4": str(moment.minute),
            "05": f"{moment.second:02d}",
            "5": str(moment.second),
            "PM": "AM" if moment.hour < 12 else "PM",
            "pm": "am" if moment.hour < 12 else "pm",
        }
        if tok in table:
            return table[tok]
        if tok.startswith((".0", ".9")):
            digits = f"{moment.microsecond:06d}000"[: len(tok) - 1]
            if tok[1] == "9":
                digits = digits.rstrip("0")
                return "." + digits if digits else ""
            return "." + digits
        return _zone(moment, tok)

    return _GO_LAYOUT_RE.sub(one, layout)


@function("legacy_isotime", var_param=Param("format", STRING))
def legacy_isotime(*formats: str) -> str:
    """The build's start time in a Go reference-time layout (legacy JSON ``isotime``)."""
    if len(formats) > 1:
        raise CallError(f"too many values, 1 needed: {list(formats)}")
    if not formats:
        return format_rfc3339(_INIT_TIME)
    return go_time_format(formats[0], _INIT_TIME)


@function("legacy_strftime", var_param=Param("format", STRING))
def legacy_strftime(*formats: str) -> str:
    """The build's start time in a strftime format (legacy JSON ``strftime``)."""
    if len(formats) > 1:
        raise CallError(f"too many values, 1 needed: {list(formats)}")
    if not formats:
        return format_rfc3339(_INIT_TIME)
    return _INIT_TIME.strftime(formats[0])
