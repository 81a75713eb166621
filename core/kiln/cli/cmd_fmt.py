"""``kiln fmt``: rewrite HCL2 templates and variable files in canonical layout.

Output, exit codes and file selection follow ``packer fmt`` 1.6.6: the name of each
file that changes is printed, ``-check`` exits 3 when a file would change, a
directory means its ``*.pkr.hcl`` and ``*.pkrvars.hcl`` files. kiln also takes several
paths, ``-recursive``, and ``-`` for standard input.
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from collections.abc import Iterator

from kiln.cli.flags import FlagSet, UsageError
from kiln.files import write_atomically
from kiln.hcl.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Pos,
    Range,
    SourceCache,
    error,
    render,
)
from kiln.hcl.fmt import format_source

HELP = """\
Usage: kiln fmt [options] PATH... | -

  Rewrites Packer HCL2 configuration files (.pkr.hcl) and variable files
  (.pkrvars.hcl) to the canonical format, the layout packer fmt produces.
  A directory means the .pkr.hcl and .pkrvars.hcl files in it; JSON templates
  are left as they are. Several paths may be given. With "-" the input is read
  from standard input and the formatted result is written to standard output.

  The name of each file that is changed is printed.

Options:
  -check        Check if the input is formatted. Exit status will be 0 if all
                input is properly formatted, 3 if a file would change, and 1 on
                errors. Nothing is written.

  -diff         Display diffs of formatting changes

  -write=false  Don't write to source files
                (always disabled if using -check)

  -recursive    Also format the files in subdirectories (hidden directories,
                whose names start with ".", are skipped)
"""

_SUFFIXES = (".pkr.hcl", ".pkrvars.hcl")
_STDIN = "<stdin>"


def run(argv: list[str]) -> int:
    flags = FlagSet("fmt")
    flags.bool("check", help="exit 3 if any file would change; write nothing")
    flags.bool("diff", help="print a unified diff of the changes")
    flags.bool("write", default=True, help="write the result back to the files")
    flags.bool("recursive", help="also format files in subdirectories")
    opts, paths = flags.parse(argv)
    if not paths:
        raise UsageError(
            "kiln fmt needs a path: a template file, a directory, or - for standard input.\n"
            "Run 'kiln fmt -h' to see the options it takes."
        )
    check: bool = opts["check"]
    show_diff: bool = opts["diff"]
    write: bool = opts["write"] and not check

    sources = SourceCache()  # the texts read, so that errors can quote their lines
    failed = changed = False
    for path in paths:
        try:
            if path == "-":
                changed |= _format_stdin(check, show_diff, sources)
                continue
            for name in _files(path, opts["recursive"]):
                try:
                    changed |= _format_file(name, write, show_diff, sources)
                except DiagnosticError as exc:
                    _report(exc.diagnostics, sources)
                    failed = True
        except DiagnosticError as exc:
            _report(exc.diagnostics, sources)
            failed = True
    if failed:
        return 1
    return 3 if check and changed else 0


def _files(path: str, recursive: bool) -> Iterator[str]:
    """The files ``path`` stands for, in Packer's order: templates, then variable files."""
    if os.path.isdir(path):
        found = list(_directory(path, recursive))
        if not found:
            raise DiagnosticError(
                [
                    error(
                        f"Cannot tell whether {path} contains HCL2 configuration data",
                        "The directory has no .pkr.hcl or .pkrvars.hcl file"
                        + ("." if recursive else " (-recursive looks in subdirectories)."),
                    )
                ]
            )
        yield from found
        return
    if not os.path.exists(path):
        raise DiagnosticError(
            [error(f"No such file or directory: {path}", "Check the path and try again.")]
        )
    if not path.endswith(_SUFFIXES):
        raise DiagnosticError(
            [
                error(
                    f"Cannot tell whether {path} contains HCL2 configuration data",
                    "kiln fmt formats .pkr.hcl templates and .pkrvars.hcl variable files; "
                    "JSON templates are not formatted.",
                )
            ]
        )
    yield path


def _directory(path: str, recursive: bool) -> Iterator[str]:
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as exc:
        raise DiagnosticError(
            [error(f"Cannot read directory {path}", exc.strerror or str(exc))]
        ) from None
    for suffix in _SUFFIXES:
        for entry in entries:
            if entry.name.endswith(suffix) and entry.is_file():
                yield os.path.normpath(os.path.join(path, entry.name))
    if recursive:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                yield from _directory(os.path.join(path, entry.name), recursive)


def _format_file(name: str, write: bool, show_diff: bool, sources: SourceCache) -> bool:
    """Format one file; print its name (and diff) if it changes. True if it changed."""
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise DiagnosticError([error(f"Cannot read {name}", exc.strerror or str(exc))]) from None
    text = _decode(data, name)
    sources.add(name, text)
    result = format_source(text, name)
    if result == text:
        return False
    sys.stdout.write(f"{name}\n")
    if write:
        try:
            write_atomically(name, result.encode("utf-8"))
        except OSError as exc:
            raise DiagnosticError(
                [error(f"Cannot write {name}", exc.strerror or str(exc))]
            ) from None
    if show_diff:
        sys.stdout.write(unified_diff(text, result, name))
    sys.stdout.flush()
    return True


def _format_stdin(check: bool, show_diff: bool, sources: SourceCache) -> bool:
    """Format standard input to standard output (or only check or diff it)."""
    text = _decode(sys.stdin.buffer.read(), _STDIN)
    sources.add(_STDIN, text)
    result = format_source(text, _STDIN)
    if check:
        pass  # the exit status says it all
    elif show_diff:
        sys.stdout.write(unified_diff(text, result, "-"))
    else:
        sys.stdout.write(result)
    sys.stdout.flush()
    return result != text


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        column = len(head[head.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise DiagnosticError(
            [
                error(
                    "Invalid character encoding",
                    "HCL files must be UTF-8 encoded; convert the file to UTF-8.",
                    Range(name, Pos(line, column), Pos(line, column + 1)),
                )
            ]
        ) from None


def _report(diags: list[Diagnostic], sources: SourceCache) -> None:
    for diag in diags:
        sys.stderr.write(render(diag, sources))
        sys.stderr.write("\n")


def unified_diff(old: str, new: str, name: str) -> str:
    """A unified diff labelled ``old/NAME`` and ``new/NAME``, as ``packer fmt -diff`` prints.

    Packer runs GNU ``diff -u``; so does kiln when it is installed, so that hunks come
    out the same. Without it, difflib makes an equivalent (if not always identical) diff.
    """
    gnu = _gnu_diff(old, new, name)
    if gnu is not None:
        return gnu
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"old/{name}",
        tofile=f"new/{name}",
    )
    out = []
    for line in lines:
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def _gnu_diff(old: str, new: str, name: str) -> str | None:
    import shutil
    import subprocess

    binary = shutil.which("diff")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory(prefix="kiln-fmt-") as tmp:
        paths = []
        for label, text in (("old", old), ("new", new)):
            path = os.path.join(tmp, label)
            with open(path, "wb") as f:
                f.write(text.encode("utf-8"))
            paths.append(path)
        try:
            done = subprocess.run(
                [binary, f"--label=old/{name}", f"--label=new/{name}", "-u", *paths],
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            return None
    if done.returncode not in (0, 1):
        return None
    return done.stdout.decode("utf-8", "replace")
