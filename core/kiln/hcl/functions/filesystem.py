"""Filesystem functions.

abspath basename dirname file filebase64 fileexists fileset pathexpand templatefile

Relative paths given to file, filebase64, fileexists, fileset and templatefile resolve
against the template folder (``path.root``); abspath, like Packer's, resolves against
the working directory.
"""

from __future__ import annotations

import base64
import contextvars
import os
import re
import stat
from typing import Any

from kiln.hcl.functions._base import ArgError, CallError, FunctionContext, Param, function
from kiln.hcl.types import ANY, STRING
from kiln.hcl.values import HclSet, go_quote


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` (POSIX): the shortest equivalent path."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def _expand_home(path: str, prefix: str = "failed to expand ~: ") -> str:
    """``homedir.Expand``: a leading ``~`` becomes the home folder."""
    if not path.startswith("~"):
        return path
    if len(path) > 1 and path[1] not in "/\\":
        raise CallError(prefix + "cannot expand user-specific home dir")
    return os.path.expanduser("~") + path[1:]


def _resolve(ctx: FunctionContext, path: str) -> str:
    path = _expand_home(path)
    if not os.path.isabs(path):
        path = os.path.join(ctx.base_dir, path)
    return go_clean(path)


def _read(ctx: FunctionContext, path: str) -> bytes:
    resolved = _resolve(ctx, path)
    try:
        with open(resolved, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CallError(f"no file exists at {resolved}") from None
    except OSError:
        raise CallError(f"failed to read {resolved}") from None


@function("abspath", Param("path", STRING))
def abspath(path: str) -> str:
    """The path made absolute against the working directory."""
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd(), path)
    return go_clean(path)


@function("basename", Param("path", STRING))
def basename(path: str) -> str:
    """The last element of a path."""
    if path == "":
        return "."
    stripped = path.rstrip("/")
    if stripped == "":
        return "/"
    return stripped.rsplit("/", 1)[-1]


@function("dirname", Param("path", STRING))
def dirname(path: str) -> str:
    """Everything but the last element of a path."""
    head = path[: path.rfind("/") + 1]
    return go_clean(head)


@function("file", Param("path", STRING), needs_context=True)
def file(ctx: FunctionContext, path: str) -> str:
    """The contents of a UTF-8 text file."""
    data = _read(ctx, path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CallError(
            f"contents of {_resolve(ctx, path)} are not valid UTF-8; use the filebase64 "
            "function to obtain the Base64 encoded contents or the other file functions "
            "(e.g. filemd5, filesha256) to obtain file hashing results instead"
        ) from None


@function("filebase64", Param("path", STRING), needs_context=True)
def filebase64(ctx: FunctionContext, path: str) -> str:
    """The contents of a file, in Base64."""
    resolved = _resolve(ctx, path)
    try:
        with open(resolved, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise CallError(
            f"failed to read file {go_quote(path)}: open {resolved}: {reason}"
        ) from None
    return base64.b64encode(data).decode("ascii")


@function("fileexists", Param("path", STRING), needs_context=True)
def fileexists(ctx: FunctionContext, path: str) -> bool:
    """Whether a regular file exists at the path."""
    resolved = _resolve(ctx, path)
    try:
        info = os.stat(resolved)
    except FileNotFoundError:
        return False
    except OSError:
        raise CallError(f"failed to stat {resolved}") from None
    if stat.S_ISREG(info.st_mode):
        return True
    raise CallError(f"{resolved} is not a regular file, but {go_quote(_go_mode(info.st_mode))}")


def _go_mode(mode: int) -> str:
    """Go's ``FileMode.String``."""
    kind = ""
    if stat.S_ISDIR(mode):
        kind = "d"
    elif stat.S_ISLNK(mode):
        kind = "L"
    elif stat.S_ISFIFO(mode):
        kind = "p"
    elif stat.S_ISSOCK(mode):
        kind = "S"
    elif stat.S_ISCHR(mode):
        kind = "Dc"
    elif stat.S_ISBLK(mode):
        kind = "D"
    perms = stat.filemode(mode)[1:]
    return (kind or "-") + perms


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A doublestar pattern (``**``, ``*``, ``?``, ``[...]``, ``{a,b}``) as a regex."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    depth = 0
    while i < n:
        ch = pattern[i]
        if ch == "*":
            at_start = i == 0 or pattern[i - 1] == "/"
            if pattern.startswith("**", i) and at_start and (i + 2 == n or pattern[i + 2] == "/"):
                if i + 2 == n:
                    out.append(".*")
                    i += 2
                else:
                    out.append("(?:[^/]*/)*")
                    i += 3
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = i + 1
            if end < n and pattern[end] == "^":
                end += 1
            if end < n and pattern[end] == "]":
                end += 1
            while end < n and pattern[end] != "]":
                end += 1
            if end >= n:
                raise ValueError("syntax error in pattern")
            body = pattern[i + 1 : end]
            out.append("[" + body.replace("[", "\\[") + "]")
            i = end
        elif ch == "{":
            depth += 1
            out.append("(?:")
        elif ch == "}" and depth:
            depth -= 1
            out.append(")")
        elif ch == "," and depth:
            out.append("|")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    if depth:
        raise ValueError("syntax error in pattern")
    return re.compile("".join(out))


@function("fileset", Param("path", STRING), Param("pattern", STRING), needs_context=True)
def fileset(ctx: FunctionContext, path: str, pattern: str) -> HclSet:
    """The files under a folder whose paths, relative to it, match a glob pattern."""
    root = path if os.path.isabs(path) else os.path.join(ctx.base_dir, path)
    full = go_clean(os.path.join(root, pattern))
    root = go_clean(root)
    try:
        regex = _glob_regex(full)
    except ValueError as exc:
        raise CallError(f"failed to glob pattern ({full}): {exc}") from None
    matches = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            candidate = go_clean(os.path.join(folder, name))
            if regex.fullmatch(candidate) and os.path.isfile(candidate):
                matches.append(os.path.relpath(candidate, root).replace(os.sep, "/"))
    return HclSet(matches)


@function("pathexpand", Param("path", STRING))
def pathexpand(path: str) -> str:
    """The path with a leading ``~`` replaced by the home folder."""
    return _expand_home(path, prefix="")


_RENDERING: contextvars.ContextVar[bool] = contextvars.ContextVar("templatefile", default=False)
_IDENTIFIER = re.compile(r"[^\W\d][\w-]*")


@function("templatefile", Param("path", STRING), Param("vars", ANY), needs_context=True)
def templatefile(ctx: FunctionContext, path: str, variables: Any) -> Any:
    """A file rendered as a template with the given variables."""
    if _RENDERING.get():
        raise CallError("cannot recursively call templatefile from inside templatefile call")
    text = file(ctx, path)
    if not isinstance(variables, dict):
        raise ArgError(1, "invalid vars value: must be a map")
    for name in variables:
        if not _IDENTIFIER.fullmatch(name):
            raise ArgError(
                1,
                f"invalid template variable name {go_quote(name)}: must start with a letter, "
                "followed by zero or more letters, digits, and underscores",
            )
    token = _RENDERING.set(True)
    try:
        return ctx.render_template(text, path, dict(variables))
    finally:
        _RENDERING.reset(token)
