"""UUID functions: uuidv4 uuidv5."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kiln.hcl.functions._base import CallError, Param, function
from kiln.hcl.types import STRING

if TYPE_CHECKING:
    import uuid as _uuid

_HEX = re.compile(r"[0-9a-fA-F]+")


def _parse_uuid(text: str) -> _uuid.UUID:
    """A UUID as google/uuid's ``Parse`` reads it, or ValueError with its message."""
    import uuid as _uuid

    body = text
    if len(text) == 45 and text[:9].lower() == "urn:uuid:":
        body = text[9:]
    elif len(text) == 38 and text[0] == "{" and text[-1] == "}":
        body = text[1:-1]
    elif len(text) == 32:
        if not _HEX.fullmatch(text):
            raise ValueError("invalid UUID format")
        return _uuid.UUID(text)
    elif len(text) != 36:
        raise ValueError(f"invalid UUID length: {len(text)}")
    if [body[i] for i in (8, 13, 18, 23)] != ["-"] * 4:
        raise ValueError("invalid UUID format")
    if not _HEX.fullmatch(body.replace("-", "")):
        raise ValueError("invalid UUID format")
    return _uuid.UUID(body)


@function("uuidv4")
def uuidv4() -> str:
    """A new random UUID."""
    import uuid as _uuid

    return str(_uuid.uuid4())


@function("uuidv5", Param("namespace", STRING), Param("name", STRING))
def uuidv5(namespace: str, name: str) -> str:
    """The name-based UUID of a name in a namespace (dns, url, oid, x500 or a UUID)."""
    import uuid as _uuid

    namespaces = {
        "dns": _uuid.NAMESPACE_DNS,
        "url": _uuid.NAMESPACE_URL,
        "oid": _uuid.NAMESPACE_OID,
        "x500": _uuid.NAMESPACE_X500,
    }
    space = namespaces.get(namespace)
    if space is None:
        try:
            space = _parse_uuid(namespace)
        except ValueError as exc:
            raise CallError(f"uuidv5() doesn't support namespace {namespace} ({exc})") from None
    return str(_uuid.uuid5(space, name))
