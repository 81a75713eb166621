"""Encoding functions.

base64decode base64encode base64gzip csvdecode jsondecode jsonencode textdecodebase64
textencodebase64 urlencode yamldecode yamlencode
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from kiln.hcl.functions._base import ArgError, CallError, Param, function
from kiln.hcl.types import ANY, STRING
from kiln.hcl.values import (
    UNKNOWN,
    go_quote,
    go_quote_rune,
    is_known,
    is_number,
    number_to_string,
    parse_number,
)

# --------------------------------------------------------------------------- base64


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def _b64decode(text: str) -> bytes | None:
    """Go's ``base64.StdEncoding.DecodeString`` (newlines ignored, padding required)."""
    cleaned = text.replace("\r", "").replace("\n", "")
    if len(cleaned) % 4 or not set(cleaned) <= _B64_ALPHABET:
        return None
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64_error_offset(text: str) -> int:
    """Where Go's decoder reports corrupt input: the first bad symbol, or the end."""
    for i, ch in enumerate(text):
        if ch not in _B64_ALPHABET and ch not in "\r\n":
            return i
        if ch == "=":
            rest = text[i:].rstrip("=")
            if rest:
                return i
    return len(text) - (len(text) % 4 or 4) if len(text) % 4 else len(text)


@function("base64decode", Param("str", STRING))
def base64decode(text: str) -> str:
    """The UTF-8 text a Base64 string encodes."""
    data = _b64decode(text)
    if data is None:
        raise CallError(f"failed to decode base64 data '{text}'")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CallError(
            "the result of decoding the the provided string is not valid UTF-8"
        ) from None


@function("base64encode", Param("str", STRING))
def base64encode(text: str) -> str:
    """The string's UTF-8 bytes in Base64."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@function("base64gzip", Param("str", STRING))
def base64gzip(text: str) -> str:
    """The string gzip-compressed, then in Base64."""
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = text.encode("utf-8")
    body = compressor.compress(data) + compressor.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "little") + (
        len(data) & 0xFFFFFFFF
    ).to_bytes(4, "little")
    return base64.b64encode(header + body + trailer).decode("ascii")


# --------------------------------------------------------------------------- text encodings


_IANA_NAMES = {
    "utf_8": "UTF-8",
    "utf_16_le": "UTF-16LE",
    "utf_16_be": "UTF-16BE",
    "utf_16": "UTF-16",
    "latin_1": "ISO-8859-1",
    "ascii": "US-ASCII",
    "cp437": "IBM437",
    "cp850": "IBM850",
    "cp1250": "windows-1250",
    "cp1251": "windows-1251",
    "cp1252": "windows-1252",
    "shift_jis": "Shift_JIS",
    "euc_jp": "EUC-JP",
    "gbk": "GBK",
    "gb18030": "GB18030",
    "big5": "Big5",
    "euc_kr": "EUC-KR",
    "koi8_r": "KOI8-R",
}


def _codec(name: str, arg: int) -> tuple[str, str]:
    """The Python codec for an IANA encoding name or alias, and its IANA name."""
    import codecs

    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or info.name in ("rot-13", "base64", "hex", "zlib", "bz2", "uu", "quopri"):
        raise ArgError(arg, f"{go_quote(name)} is not a supported IANA encoding name or alias")
    python_name = info.name.replace("-", "_")
    return info.name, _IANA_NAMES.get(python_name, name)


@function("textencodebase64", Param("string", STRING), Param("encoding", STRING))
def textencodebase64(text: str, encoding: str) -> str:
    """The string in the given character encoding, then in Base64."""
    codec, iana = _codec(encoding, 1)
    try:
        data = text.encode(codec)
    except UnicodeEncodeError:
        raise ArgError(
            0, f"the given string contains characters that cannot be represented in {iana}"
        ) from None
    if codec == "utf-16":  # Go's UTF-16 encoder writes big-endian with a byte-order mark
        data = b"\xfe\xff" + text.encode("utf-16-be")
    return base64.b64encode(data).decode("ascii")


@function("textdecodebase64", Param("source", STRING), Param("encoding", STRING))
def textdecodebase64(source: str, encoding: str) -> str:
    """The text a Base64 string encodes in the given character encoding."""
    codec, iana = _codec(encoding, 1)
    data = _b64decode(source)
    if data is None:
        raise ArgError(
            0,
            "the given value is has an invalid base64 symbol at offset "
            f"{_b64_error_offset(source)}",
        )
    try:
        decoded = data.decode(codec)
    except UnicodeDecodeError:
        decoded = "\ufffd"
    if "\ufffd" in decoded:
        raise ArgError(0, f"the given string contains symbols that are not defined for {iana}")
    return decoded


# --------------------------------------------------------------------------- URLs


@function("urlencode", Param("str", STRING))
def urlencode(text: str) -> str:
    """The string escaped for use in a URL query (Go's ``url.QueryEscape``)."""
    from urllib.parse import quote_plus

    return quote_plus(text, safe="~")


# --------------------------------------------------------------------------- CSV


_CSV_QUOTE = 'extraneous or missing " in quoted-field'
_CSV_BARE = 'bare " in non-quoted-field'


def _csv_error(start_line: int, line: int, column: int, message: str) -> CallError:
    """A parse error worded as Go's ``csv.ParseError``."""
    if start_line != line:
        return CallError(
            f"record on line {start_line}; parse error on line {line}, column {column}: {message}"
        )
    return CallError(f"parse error on line {line}, column {column}: {message}")


def _csv_records(text: str) -> list[tuple[int, list[str]]]:
    """Records of Go's ``encoding/csv`` reader (default settings), with their line numbers."""
    records: list[tuple[int, list[str]]] = []
    data = text.replace("\r\n", "\n")
    pos = 0
    line = 1
    n = len(data)
    while pos < n:
        if data[pos] == "\n":  # empty lines are skipped
            pos += 1
            line += 1
            continue
        start_line = line
        fields: list[str] = []
        while True:
            if pos < n and data[pos] == '"':
                pos += 1
                value: list[str] = []
                while True:
                    if pos >= n:
                        column = len(data.rsplit("\n", 1)[-1]) + 1
                        raise _csv_error(start_line, line, column, _CSV_QUOTE)
                    ch = data[pos]
                    if ch == '"':
                        if pos + 1 < n and data[pos + 1] == '"':
                            value.append('"')
                            pos += 2
                            continue
                        pos += 1
                        if pos < n and data[pos] not in ",\n":
                            column = len(data[:pos].rsplit("\n", 1)[-1])
                            raise _csv_error(start_line, line, column, _CSV_QUOTE)
                        break
                    if ch == "\n":
                        line += 1
                    value.append(ch)
                    pos += 1
                fields.append("".join(value))
            else:
                end = pos
                while end < n and data[end] not in ",\n":
                    if data[end] == '"':
                        column = len(data[: end + 1].rsplit("\n", 1)[-1])
                        raise _csv_error(start_line, line, column, _CSV_BARE)
                    end += 1
                fields.append(data[pos:end])
                pos = end
            if pos < n and data[pos] == ",":
                pos += 1
                continue
            if pos < n and data[pos] == "\n":
                pos += 1
                line += 1
            break
        records.append((start_line, fields))
    return records


@function("csvdecode", Param("str", STRING))
def csvdecode(text: str) -> list[dict[str, str]]:
    """The rows of CSV text (with a header line) as a list of objects."""
    records = _csv_records(text)
    if not records:
        raise CallError("missing header line")
    header = records[0][1]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise CallError(f"duplicate column name {go_quote(name)}")
        seen.add(name)
    rows = []
    for line, fields in records[1:]:
        if len(fields) != len(header):
            raise CallError(f"record on line {line}: wrong number of fields")
        rows.append(dict(sorted(zip(header, fields, strict=True))))
    return rows


# --------------------------------------------------------------------------- JSON


_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_string(text: str) -> str:
    """A string in JSON as Go's ``encoding/json`` writes it (HTML-safe escapes)."""
    out = ['"']
    for ch in text:
        escaped = _JSON_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_encode(value: Any) -> str:
    """A known value in JSON as cty writes it: compact, keys sorted, numbers in full."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise CallError("value is not representable in JSON: infinity")
        return number_to_string(value)
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, list):
        return "[" + ",".join(json_encode(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{json_string(k)}:{json_encode(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    raise CallError("value cannot be encoded as JSON")


@function("jsonencode", Param("val", ANY, allow_unknown=True))
def jsonencode(value: Any) -> Any:
    """The value as a JSON string."""
    if not is_known(value):
        return UNKNOWN
    return json_encode(value)


class _JsonError(Exception):
    pass


#: What the character after a backslash stands for in a JSON string (``\u`` aside).
_JSON_UNESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


class _JsonDecoder:
    """A JSON reader that fails with the messages of Go's ``encoding/json`` decoder."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1

    def peek(self) -> str | None:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else None

    def document(self) -> Any:
        if self.peek() is None:
            raise _JsonError("EOF")
        value = self.value("looking for beginning of value")
        nxt = self.peek()
        if nxt is not None and nxt not in "]}":
            raise _JsonError("extraneous data after JSON object")
        return value

    def value(self, context: str) -> Any:
        ch = self.peek()
        if ch is None:
            raise _JsonError("EOF")
        if ch == "{":
            return self.object()
        if ch == "[":
            return self.array()
        if ch == '"':
            return self.string()
        if ch in "-0123456789":
            return self.number()
        for word, result in (("true", True), ("false", False), ("null", None)):
            if ch == word[0]:
                return self.literal(word, result)
        raise _JsonError(f"invalid character {go_quote_rune(ch)} {context}")

    def literal(self, word: str, result: Any) -> Any:
        for i, expected in enumerate(word):
            if self.pos + i >= len(self.text):
                raise _JsonError("unexpected EOF")
            ch = self.text[self.pos + i]
            if ch != expected:
                raise _JsonError(
                    f"invalid character {go_quote_rune(ch)} in literal {word} "
                    f"(expecting {go_quote_rune(expected)})"
                )
        self.pos += len(word)
        return result

    def number(self) -> int | float:
        text = self.text
        start = self.pos
        i = start
        if text[i] == "-":
            i += 1
        if i >= len(text):
            raise _JsonError("unexpected EOF")
        if text[i] == "0":
            i += 1
        elif text[i].isdigit() and text[i].isascii():
            while i < len(text) and text[i] in "0123456789":
                i += 1
        else:
            raise _JsonError(f"invalid character {go_quote_rune(text[i])} in numeric literal")
        if i < len(text) and text[i] == ".":
            i += 1
            if i >= len(text):
                raise _JsonError("unexpected EOF")
            if text[i] not in "0123456789":
                raise _JsonError(
                    f"invalid character {go_quote_rune(text[i])} "
                    "after decimal point in numeric literal"
                )
            while i < len(text) and text[i] in "0123456789":
                i += 1
        if i < len(text) and text[i] in "eE":
            i += 1
            if i < len(text) and text[i] in "+-":
                i += 1
            if i >= len(text):
                raise _JsonError("unexpected EOF")
            if text[i] not in "0123456789":
                raise _JsonError(
                    f"invalid character {go_quote_rune(text[i])} in exponent of numeric literal"
                )
            while i < len(text) and text[i] in "0123456789":
                i += 1
        self.pos = i
        number = parse_number(text[start:i])
        assert number is not None
        return number

    def string(self) -> str:
        text = self.text
        i = self.pos + 1
        out: list[str] = []
        while True:
            if i >= len(text):
                raise _JsonError("unexpected EOF")
            ch = text[i]
            if ch == '"':
                self.pos = i + 1
                return "".join(out)
            if ch < " ":
                raise _JsonError(f"invalid character {go_quote_rune(ch)} in string literal")
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            i += 1
            if i >= len(text):
                raise _JsonError("unexpected EOF")
            esc = text[i]
            if esc in _JSON_UNESCAPES:
                out.append(_JSON_UNESCAPES[esc])
                i += 1
                continue
            if esc != "u":
                raise _JsonError(f"invalid character {go_quote_rune(esc)} in string escape code")
            code, i = self._hex4(i + 1)
            if 0xD800 <= code < 0xDC00 and text.startswith("\\u", i):
                low, after = self._hex4(i + 2)
                if 0xDC00 <= low < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i = after
            if 0xD800 <= code < 0xE000:
                code = 0xFFFD
            out.append(chr(code))

    def _hex4(self, i: int) -> tuple[int, int]:
        digits = self.text[i : i + 4]
        for ch in digits:
            if ch not in "0123456789abcdefABCDEF":
                raise _JsonError(
                    f"invalid character {go_quote_rune(ch)} in \\u hexadecimal character escape"
                )
        if len(digits) < 4:
            raise _JsonError("unexpected EOF")
        return int(digits, 16), i + 4

    def array(self) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        if self.peek() == "]":
            self.pos += 1
            return out
        while True:
            out.append(self.value("looking for beginning of value"))
            ch = self.peek()
            if ch is None:
                raise _JsonError("EOF")
            self.pos += 1
            if ch == "]":
                return out
            if ch != ",":
                raise _JsonError(f"invalid character {go_quote_rune(ch)} after array element")

    def object(self) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        if self.peek() == "}":
            self.pos += 1
            return out
        while True:
            ch = self.peek()
            if ch is None:
                raise _JsonError("EOF")
            if ch != '"':
                if not out:  # cty reads the first key itself, and words it so
                    raise _JsonError(f"invalid character {go_quote_rune(ch)}")
                raise _JsonError(
                    f"invalid character {go_quote_rune(ch)} "
                    "looking for beginning of object key string"
                )
            key = self.string()
            ch = self.peek()
            if ch is None:
                raise _JsonError("EOF")
            if ch != ":":
                raise _JsonError(f"invalid character {go_quote_rune(ch)} after object key")
            self.pos += 1
            out[key] = self.value("looking for beginning of value")
            ch = self.peek()
            if ch is None:
                raise _JsonError("EOF")
            self.pos += 1
            if ch == "}":
                return dict(sorted(out.items()))
            if ch != ",":
                raise _JsonError(
                    f"invalid character {go_quote_rune(ch)} after object key:value pair"
                )


def json_decode(text: str) -> Any:
    """The value a JSON document holds; raises CallError worded as cty's decoder."""
    try:
        return _JsonDecoder(text).document()
    except _JsonError as exc:
        raise CallError(str(exc)) from None


@function("jsondecode", Param("str", STRING))
def jsondecode(text: str) -> Any:
    """The value a JSON string represents."""
    return json_decode(text)


# --------------------------------------------------------------------------- YAML


@function("yamldecode", Param("src", STRING))
def yamldecode(src: str) -> Any:
    """The value a YAML document represents (YAML 1.1 scalars, as cty-yaml reads them)."""
    from kiln.hcl.functions._yaml import yaml_decode

    return yaml_decode(src)


@function("yamlencode", Param("value", ANY, allow_unknown=True, allow_null=True))
def yamlencode(value: Any) -> Any:
    """The value as a YAML document."""
    if not is_known(value):
        return UNKNOWN
    from kiln.hcl.functions._yaml import yaml_encode

    return yaml_encode(value)
