"""Diagnostics: problems found in a template, each tied to a place in a file.

A diagnostic is what the user sees: a summary, a detail that says what to do, and the
range it points at. Rendering shows the source line with a marker under the range, the
way HCL tools do, so an error can be found without opening the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum


class Severity(Enum):
    ERROR = "Error"
    WARNING = "Warning"


@dataclass(frozen=True)
class Pos:
    """A position in a source file; line and column count from 1."""

    line: int
    column: int


@dataclass(frozen=True)
class Range:
    """A span of a source file: ``start`` inclusive, ``end`` exclusive."""

    filename: str
    start: Pos
    end: Pos

    def __str__(self) -> str:
        return f"{self.filename}:{self.start.line}:{self.start.column}"

    def first_char(self) -> Range:
        """The range's first character: where a problem with a whole file or body points."""
        return Range(self.filename, self.start, Pos(self.start.line, self.start.column + 1))


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    subject: Range | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(summary: str, detail: str = "", subject: Range | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, subject)


def warning(summary: str, detail: str = "", subject: Range | None = None) -> Diagnostic:
    return Diagnostic(Severity.WARNING, summary, detail, subject)


@dataclass
class Diagnostics:
    """An ordered collection of diagnostics; errors and warnings together."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diag: Diagnostic) -> None:
        self.items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if not d.is_error]


class DiagnosticError(Exception):
    """Raised to abandon work whose diagnostics have already been collected."""

    def __init__(self, diags: Iterable[Diagnostic]):
        self.diagnostics = list(diags)
        super().__init__("; ".join(d.summary for d in self.diagnostics))


def read_source(path: str, what: str = "file") -> str:
    """A template or variables file's text; DiagnosticError naming it if unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        failure = error(f"Failed to read {what}", f'Cannot read "{path}": {exc}.')
        raise DiagnosticError([failure]) from None


class SourceCache:
    """Source texts by file name, so diagnostics can quote the line they point at."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def add(self, filename: str, text: str) -> None:
        self._texts[filename] = text

    def line(self, filename: str, lineno: int) -> str | None:
        text = self._texts.get(filename)
        if text is None:
            try:
                with open(filename, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                return None
            self._texts[filename] = text
        lines = text.splitlines()
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return None


def render(diag: Diagnostic, sources: SourceCache | None = None, redact: object = None) -> str:
    """Format a diagnostic for a terminal: summary, location, quoted source, detail.

    ``redact`` is an optional callable applied to the text so that sensitive values
    never reach output through a message.
    """
    out = [f"{diag.severity.value}: {diag.summary}", ""]
    subject = diag.subject
    if subject is not None:
        name = _display_name(subject.filename)
        out.append(f"  on {name} line {subject.start.line}, column {subject.start.column}:")
        src = (sources or SourceCache()).line(subject.filename, subject.start.line)
        if src is not None:
            prefix = f"{subject.start.line:4d}: "
            out.append(f"  {prefix}{src.expandtabs(1)}")
            start = max(subject.start.column - 1, 0)
            if subject.end.line == subject.start.line:
                width = max(subject.end.column - subject.start.column, 1)
            else:
                width = max(len(src) - start, 1)
            out.append("  " + " " * (len(prefix) + start) + "^" * width)
        out.append("")
    if diag.detail:
        out.append(diag.detail)
        out.append("")
    text = "\n".join(out)
    if callable(redact):
        text = redact(text)
    return text


def _display_name(filename: str) -> str:
    if filename.startswith("<"):
        return filename
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel
