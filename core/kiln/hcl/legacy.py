"""Legacy JSON templates: Packer's original template format, read into kiln's model.

Any template file that is not ``*.pkr.hcl`` or ``*.pkr.json`` is a legacy JSON template
(``builders``, ``provisioners``, ``post-processors``...). :func:`load_legacy` reads one
into the same :class:`~kiln.hcl.model.Template` that HCL templates produce: every
builder becomes a source, and one build runs all of them.

Strings are Go templates (``{{ user `name` }}``). The language is implemented here:
actions, pipes, string literals in backquotes or double quotes, numbers, and Packer's
functions (see :data:`FUNCTION_NAMES`). Component configuration stays a
:class:`LegacyBody` whose strings are rendered when an expression is evaluated, with the
same :class:`~kiln.hcl.eval.Scope` an HCL body gets: ``var`` (user variables),
``source`` (``name``/``type``: ``build_name``/``build_type``), ``build`` (generated
data, unknown until the build runs), ``path`` (``root``: ``template_dir``; ``cwd``)
and ``packer`` (``version``). An action that uses the template's data
(``{{ .HTTPIP }}``, ``{{ .Path }}``) is left as written for the component to render.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiln.hcl.body import Reference, did_you_mean
from kiln.hcl.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Range,
    error,
    read_source,
    warning,
)
from kiln.hcl.jsonsyntax import (
    JsonBody,
    JsonExpression,
    JsonProperty,
    JsonValue,
    StringPositions,
    duplicate_keys,
    parse_json,
)

if TYPE_CHECKING:
    from kiln.hcl.eval import Scope
    from kiln.hcl.model import PostProcessor, Provisioner, Template

ROOT_KEYS = (
    "description",
    "min_packer_version",
    "variables",
    "sensitive-variables",
    "builders",
    "provisioners",
    "post-processors",
    "error-cleanup-provisioner",
)
PROVISIONER_META = ("type", "only", "except", "override", "pause_before", "max_retries", "timeout")
POST_PROCESSOR_META = ("type", "name", "only", "except", "keep_input_artifact")
BUILDER_META = ("type", "name")

#: Every function a legacy template may call.
FUNCTION_NAMES = (
    "aws_secretsmanager",
    "aws_secretsmanager_raw",
    "build",
    "build_name",
    "build_type",
    "clean_resource_name",
    "consul_key",
    "env",
    "isotime",
    "lower",
    "packer_version",
    "pwd",
    "replace",
    "replace_all",
    "sed",
    "split",
    "strftime",
    "template_dir",
    "timestamp",
    "upper",
    "user",
    "uuid",
    "vault",
)

# ---------------------------------------------------------------------------
# The Go template language
# ---------------------------------------------------------------------------


class GoTemplateError(Exception):
    """A template that cannot be parsed or rendered; ``start``/``end`` are offsets."""

    def __init__(self, message: str, start: int, end: int | None = None, summary: str = ""):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end if end is not None else start + 1
        self.summary = summary or "Invalid template"


@dataclass
class GoArg:
    """An operand: ``string``/``number``/``bool``/``nil`` literal, ``ident`` (a function
    name), ``field`` (``.A.B``: ``value`` is the names), ``dot`` or ``pipe`` (parenthesised)."""

    kind: str
    value: Any
    start: int
    end: int


@dataclass
class GoCommand:
    args: list[GoArg]
    start: int
    end: int


@dataclass
class GoPipeline:
    commands: list[GoCommand]
    start: int
    end: int

    def uses_data(self) -> bool:
        """Whether any operand reads the template's data (``.Field`` or ``.``)."""
        for cmd in self.commands:
            for arg in cmd.args:
                if arg.kind in ("field", "dot"):
                    return True
                if arg.kind == "pipe" and arg.value.uses_data():
                    return True
        return False


@dataclass
class GoAction:
    """``{{ pipeline }}``: ``start``/``end`` span the braces, ``source`` is the raw text."""

    pipeline: GoPipeline
    start: int
    end: int
    source: str


@dataclass
class GoText:
    text: str
    start: int


GoNode = GoText | GoAction

_CONTROL_WORDS = (
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
)
_GO_STRING_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|(\d[\d_]*)?\.?\d[\d_]*([eE][+-]?\d+)?)")


def parse_go_template(text: str) -> list[GoNode]:
    """Split template text into literal text and actions; GoTemplateError if malformed."""
    nodes: list[GoNode] = []
    i = 0
    n = len(text)
    pending_trim = False
    while i < n:
        open_at = text.find("{{", i)
        if open_at < 0:
            chunk = text[i:]
            if pending_trim:
                chunk = chunk.lstrip(" \t\r\n")
            if chunk:
                nodes.append(GoText(chunk, i))
            break
        chunk = text[i:open_at]
        if pending_trim:
            chunk = chunk.lstrip(" \t\r\n")
        body = open_at + 2
        if text.startswith("-", body) and body + 1 < n and text[body + 1] in " \t\r\n":
            chunk = chunk.rstrip(" \t\r\n")
            body += 2
        if chunk:
            nodes.append(GoText(chunk, i))
        comment = _skip_comment(text, body, open_at)
        if comment is not None:
            end, pending_trim = comment
            i = end
            continue
        pipeline, close, pending_trim = _Lexer(text, body, open_at).action()
        nodes.append(GoAction(pipeline, open_at, close, text[open_at:close]))
        i = close
    return nodes


def _skip_comment(text: str, body: int, open_at: int) -> tuple[int, bool] | None:
    j = body
    while j < len(text) and text[j] in " \t\r\n":
        j += 1
    if not text.startswith("/*", j):
        return None
    close = text.find("*/", j + 2)
    if close < 0:
        raise GoTemplateError("unclosed comment", open_at)
    k = close + 2
    if text.startswith(" -}}", k):
        return k + 4, True
    if text.startswith("}}", k):
        return k + 2, False
    raise GoTemplateError("comment ends before closing delimiter", open_at)


class _Lexer:
    """Reads one action's pipeline, from just after ``{{`` to its ``}}``."""

    def __init__(self, text: str, i: int, open_at: int):
        self.text = text
        self.i = i
        self.open_at = open_at

    def fail(self, message: str, at: int | None = None) -> GoTemplateError:
        return GoTemplateError(message, self.open_at if at is None else at)

    def skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def at_close(self) -> tuple[int, bool] | None:
        """If the action closes here: the offset after ``}}`` and whether it trims."""
        text, i = self.text, self.i
        if text.startswith("}}", i):
            return i + 2, False
        if text.startswith("-}}", i) and i > 0 and text[i - 1] in " \t\r\n":
            return i + 3, True
        return None

    def action(self) -> tuple[GoPipeline, int, bool]:
        self.skip_space()
        if self.at_close() is not None:
            raise self.fail("missing value for command")
        pipeline = self.pipeline()
        self.skip_space()
        closing = self.at_close()
        if closing is None:
            if self.i >= len(self.text):
                raise self.fail("unclosed action")
            raise self.fail(f"unexpected {self.text[self.i]!r} in command", self.i)
        return pipeline, closing[0], closing[1]

    def pipeline(self) -> GoPipeline:
        start = self.i
        commands = [self.command()]
        while True:
            self.skip_space()
            if self.i < len(self.text) and self.text[self.i] == "|":
                self.i += 1
                commands.append(self.command())
                continue
            break
        return GoPipeline(commands, start, self.i)

    def command(self) -> GoCommand:
        self.skip_space()
        start = self.i
        args: list[GoArg] = []
        while True:
            self.skip_space()
            if self.i >= len(self.text):
                raise self.fail("unclosed action")
            ch = self.text[self.i]
            if ch in "|)" or self.at_close() is not None:
                break
            args.append(self.operand())
        if not args:
            raise self.fail("missing value for command", self.i)
        return GoCommand(args, start, self.i)

    def operand(self) -> GoArg:
        text, i = self.text, self.i
        ch = text[i]
        if ch == "(":
            self.i += 1
            inner = self.pipeline()
            self.skip_space()
            if self.i >= len(text) or text[self.i] != ")":
                raise self.fail("unclosed left paren", i)
            self.i += 1
            return GoArg("pipe", inner, i, self.i)
        if ch == "`":
            close = text.find("`", i + 1)
            if close < 0:
                raise self.fail("unterminated raw quoted string", i)
            self.i = close + 1
            return GoArg("string", text[i + 1 : close], i, self.i)
        if ch == '"':
            return self.quoted()
        if ch == "'":
            raise self.fail("character constants are not supported in kiln templates", i)
        if ch == "$":
            raise self.fail("template variables ($name) are not supported in kiln templates", i)
        if ch == ".":
            names: list[str] = []
            j = i
            while j < len(text) and text[j] == ".":
                match = _IDENT_RE.match(text, j + 1)
                if match is None:
                    break
                names.append(match.group(0))
                j = match.end()
            if not names:
                self.i = i + 1
                if i + 1 < len(text) and text[i + 1].isdigit():
                    return self.number(i)
                return GoArg("dot", None, i, self.i)
            self.i = j
            return GoArg("field", tuple(names), i, j)
        if ch.isdigit() or ch in "+-":
            return self.number(i)
        match = _IDENT_RE.match(text, i)
        if match is None:
            raise self.fail(f"unexpected {ch!r} in command", i)
        word = match.group(0)
        self.i = match.end()
        if word in ("true", "false"):
            return GoArg("bool", word == "true", i, self.i)
        if word == "nil":
            return GoArg("nil", None, i, self.i)
        if word in _CONTROL_WORDS:
            raise self.fail(f'the "{word}" action is not supported in kiln templates', i)
        if text.startswith(":=", self.i) or text.startswith("=", self.i):
            raise self.fail("assignments are not supported in kiln templates", self.i)
        return GoArg("ident", word, i, self.i)

    def quoted(self) -> GoArg:
        text = self.text
        start = self.i
        i = start + 1
        out: list[str] = []
        while True:
            if i >= len(text) or text[i] == "\n":
                raise self.fail("unterminated quoted string", start)
            ch = text[i]
            if ch == '"':
                break
            if ch == "\\":
                nxt = text[i + 1 : i + 2]
                if nxt in _GO_STRING_ESCAPES:
                    out.append(_GO_STRING_ESCAPES[nxt])
                    i += 2
                    continue
                sizes = {"x": 2, "u": 4, "U": 8}
                if nxt in sizes:
                    digits = text[i + 2 : i + 2 + sizes[nxt]]
                    try:
                        out.append(chr(int(digits, 16)))
                    except ValueError:
                        raise self.fail("invalid escape in quoted string", i) from None
                    i += 2 + sizes[nxt]
                    continue
                if nxt and nxt in "01234567":
                    digits = text[i + 1 : i + 4]
                    try:
                        out.append(chr(int(digits, 8)))
                    except ValueError:
                        raise self.fail("invalid escape in quoted string", i) from None
                    i += 4
                    continue
                raise self.fail("invalid escape in quoted string", i)
            out.append(ch)
            i += 1
        self.i = i + 1
        return GoArg("string", "".join(out), start, self.i)

    def number(self, start: int) -> GoArg:
        match = _NUMBER_RE.match(self.text, start)
        if match is None or not match.group(0).strip("+-"):
            raise self.fail(f"bad number syntax: {self.text[start : start + 8]!r}", start)
        literal = match.group(0)
        self.i = match.end()
        clean = literal.replace("_", "")
        try:
            value: int | float = int(clean, 0)
        except ValueError:
            try:
                value = float(clean)
            except ValueError:
                raise self.fail(f"bad number syntax: {literal!r}", start) from None
        return GoArg("number", value, start, self.i)


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


class _Passthrough(Exception):
    """An action reads the template's data: leave it for the component to render."""


@dataclass(frozen=True)
class GoFunction:
    """A template function: its parameters (``"string"`` or ``"int"``), an optional
    variadic string parameter, and the implementation."""

    name: str
    params: tuple[str, ...]
    impl: Callable[..., Any]
    variadic: bool = False


def _unknown() -> Any:
    from kiln.hcl.values import UNKNOWN

    return UNKNOWN


class _Renderer:
    def __init__(self, functions: dict[str, GoFunction]):
        self.functions = functions

    def render(self, nodes: list[GoNode]) -> Any:
        unknown = _unknown()
        out: list[str] = []
        is_unknown = False
        for node in nodes:
            if isinstance(node, GoText):
                out.append(node.text)
                continue
            try:
                value = self.pipeline(node.pipeline)
            except _Passthrough:
                out.append(node.source)
                continue
            if value is unknown:
                is_unknown = True
                continue
            out.append(_go_print(value))
        return unknown if is_unknown else "".join(out)

    def pipeline(self, pipe: GoPipeline) -> Any:
        value: Any = None
        for index, cmd in enumerate(pipe.commands):
            value = self.command(cmd, (value,) if index else ())
        return value

    def command(self, cmd: GoCommand, final: tuple[Any, ...]) -> Any:
        first = cmd.args[0]
        if first.kind == "ident":
            args = [self.operand(a) for a in cmd.args[1:]] + list(final)
            return self.call(first.value, args, cmd.start, cmd.end)
        if len(cmd.args) > 1 or final:
            raise GoTemplateError(
                f"can't give argument to non-function {_describe(first)}", first.start, first.end
            )
        return self.operand(first)

    def operand(self, arg: GoArg) -> Any:
        if arg.kind in ("field", "dot"):
            raise _Passthrough
        if arg.kind == "ident":
            return self.call(arg.value, [], arg.start, arg.end)
        if arg.kind == "pipe":
            return self.pipeline(arg.value)
        return arg.value

    def call(self, name: str, args: list[Any], start: int, end: int) -> Any:
        func = self.functions.get(name)
        if func is None:
            raise GoTemplateError(
                f'function "{name}" not defined.' + did_you_mean(name, FUNCTION_NAMES),
                start,
                start + len(name),
                "Unknown template function",
            )
        want = len(func.params)
        if len(args) != want and not (func.variadic and len(args) >= want):
            shown = f"at least {want}" if func.variadic else str(want)
            raise GoTemplateError(
                f"wrong number of args for {name}: want {shown} got {len(args)}",
                start,
                end,
                "Invalid template function call",
            )
        kinds = list(func.params) + ["string"] * (len(args) - want)
        unknown = _unknown()
        for kind, value in zip(kinds, args, strict=True):
            if value is unknown:
                return unknown
            ok = isinstance(value, str) if kind == "string" else _is_int(value)
            if not ok:
                raise GoTemplateError(
                    f"wrong type for value in a call to {name}; expected {kind}; got "
                    f"{_go_type(value)}",
                    start,
                    end,
                    "Invalid template function call",
                )
        try:
            return func.impl(*args)
        except _FunctionError as exc:
            raise GoTemplateError(
                f"error calling {name}: {exc}", start, end, "Template function failed"
            ) from None


class _FunctionError(Exception):
    """Raised by a template function: the reason it failed."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if value is None:
        return "nil"
    return "string" if isinstance(value, str) else type(value).__name__


def _describe(arg: GoArg) -> str:
    if arg.kind == "string":
        return repr(arg.value)
    return str(arg.value)


def _go_print(value: Any) -> str:
    from kiln.hcl.values import format_number, is_number

    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if value is None:
        return "<no value>"
    return str(value)


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------


def _isotime(*formats: str) -> str:
    from kiln.hcl.functions._base import CallError
    from kiln.hcl.functions.time import legacy_isotime

    try:
        return legacy_isotime(*formats)
    except CallError as exc:
        raise _FunctionError(str(exc)) from None


def _strftime(fmt: str) -> str:
    from kiln.hcl.functions.time import legacy_strftime

    return legacy_strftime(fmt)


def _timestamp() -> str:
    from kiln.hcl.functions.time import init_time

    return str(int(init_time().timestamp()))


def time_ordered_uuid() -> str:
    """A UUID whose first half is the time in nanoseconds, as Packer's ``uuid`` makes."""
    stamp = time.time_ns().to_bytes(8, "big")
    raw = (stamp + secrets.token_bytes(8)).hex()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _split(text: str, sep: str, index: int) -> str:
    parts = text.split(sep) if sep else list(text)
    if index < 0 or len(parts) <= index:
        raise _FunctionError(
            f"the substring {index} was unavailable using the separator value, {sep}, only "
            f"{len(parts)} values were found"
        )
    return parts[index]


def _replace(old: str, new: str, count: int, src: str) -> str:
    return src.replace(old, new, count if count >= 0 else -1)


def _replace_all(old: str, new: str, src: str) -> str:
    return src.replace(old, new)


_CLEAN_NAME_RE = re.compile(r"[^a-zA-Z0-9()\[\] ./'@_-]")


def clean_resource_name(name: str) -> str:
    """Replace characters cloud image names do not allow with ``-`` (Amazon's rule)."""
    return _CLEAN_NAME_RE.sub("-", name)


def _sed(*_args: str) -> str:
    raise _FunctionError(
        "template function `sed` is deprecated; use `replace` or `replace_all` instead"
    )


def _not_available(name: str, service: str, in_variables: bool) -> Callable[..., str]:
    def impl(*_args: str) -> str:
        if not in_variables:
            raise _FunctionError(f"{name} is only allowed in the variables section")
        raise _FunctionError(
            f"{name} needs {service}, which kiln does not talk to; pass the value with "
            "-var or a -var-file instead"
        )

    return impl


@dataclass
class _Context:
    """What the functions of one rendering see."""

    values: dict[str, Any]
    in_variables: bool
    user: Callable[[str], Any]


def _functions(ctx: _Context) -> dict[str, GoFunction]:
    from kiln import PACKER_COMPAT_VERSION

    values = ctx.values

    def source_field(key: str, fname: str) -> Callable[[], Any]:
        def impl() -> Any:
            source = values.get("source")
            if not isinstance(source, dict) or not source.get(key):
                raise _FunctionError(f"{fname} not available")
            return source[key]

        return impl

    def env(key: str) -> str:
        if not ctx.in_variables:
            raise _FunctionError("env is only allowed in the variables section")
        return os.environ.get(key, "")

    def build(key: str) -> Any:
        data = values.get("build")
        unknown = _unknown()
        if data is unknown:
            return unknown
        if not isinstance(data, dict):
            raise _FunctionError(
                f'"{key}" is build data, which only exists inside a build (not in variables)'
            )
        if key not in data:
            known = ", ".join(sorted(str(k) for k in data))
            raise _FunctionError(
                f'the build variable "{key}" is not provided by this build; known: {known}'
            )
        return data[key]

    def template_dir() -> str:
        path = values.get("path")
        root = path.get("root") if isinstance(path, dict) else None
        if not isinstance(root, str):
            raise _FunctionError("template path not available")
        return os.path.abspath(root)

    def pwd() -> str:
        path = values.get("path")
        cwd = path.get("cwd") if isinstance(path, dict) else None
        return cwd if isinstance(cwd, str) else os.getcwd()

    def packer_version() -> str:
        packer = values.get("packer")
        version = packer.get("version") if isinstance(packer, dict) else None
        return version if isinstance(version, str) else PACKER_COMPAT_VERSION

    s, i = "string", "int"
    table = [
        GoFunction("build_name", (), source_field("name", "build_name")),
        GoFunction("build_type", (), source_field("type", "build_type")),
        GoFunction("env", (s,), env),
        GoFunction("isotime", (), _isotime, variadic=True),
        GoFunction("strftime", (s,), _strftime),
        GoFunction("pwd", (), pwd),
        GoFunction("split", (s, s, i), _split),
        GoFunction("template_dir", (), template_dir),
        GoFunction("timestamp", (), _timestamp),
        GoFunction("uuid", (), time_ordered_uuid),
        GoFunction("user", (s,), ctx.user),
        GoFunction("packer_version", (), packer_version),
        GoFunction(
            "consul_key", (s,), _not_available("consul_key", "a Consul server", ctx.in_variables)
        ),
        GoFunction("vault", (s, s), _not_available("vault", "a Vault server", ctx.in_variables)),
        GoFunction(
            "aws_secretsmanager",
            (s,),
            _not_available("aws_secretsmanager", "AWS Secrets Manager", ctx.in_variables),
            variadic=True,
        ),
        GoFunction(
            "aws_secretsmanager_raw",
            (s,),
            _not_available("aws_secretsmanager_raw", "AWS Secrets Manager", ctx.in_variables),
        ),
        GoFunction("sed", (s, s), _sed),
        GoFunction("build", (s,), build),
        GoFunction("replace", (s, s, i, s), _replace),
        GoFunction("replace_all", (s, s, s), _replace_all),
        GoFunction("upper", (s,), str.upper),
        GoFunction("lower", (s,), str.lower),
        GoFunction("clean_resource_name", (s,), clean_resource_name),
    ]
    return {f.name: f for f in table}


def render_go_template(
    text: str,
    values: dict[str, Any],
    *,
    in_variables: bool = False,
    user: Callable[[str], Any] | None = None,
) -> Any:
    """Render ``text`` with Packer's functions; raise GoTemplateError on failure.

    ``values`` are a scope's root values. ``user`` looks a user variable up (by default
    in ``values["var"]``, an unset one giving ``""`` as Packer does outside variables).
    The result is a string, or UNKNOWN when it uses build data not known yet.
    """
    if "{{" not in text:
        return text
    if user is None:
        variables = values.get("var")
        table = variables if isinstance(variables, dict) else {}

        def user(name: str) -> Any:
            return table.get(name, "")

    try:
        nodes = parse_go_template(text)
        return _Renderer(_functions(_Context(values, in_variables, user))).render(nodes)
    except RecursionError:
        raise GoTemplateError(
            "the template is nested too deeply to evaluate; simplify it",
            0,
            len(text),
            summary="Template too deeply nested",
        ) from None


def go_template_references(text: str) -> list[tuple[tuple[str, ...], int, int]]:
    """The variables and build data a template uses: ``(("var", name), start, end)``..."""
    if "{{" not in text:
        return []
    try:
        nodes = parse_go_template(text)
    except (GoTemplateError, RecursionError):
        return []  # rendering reports the problem with its position
    out: list[tuple[tuple[str, ...], int, int]] = []

    def visit(pipe: GoPipeline) -> None:
        for cmd in pipe.commands:
            first = cmd.args[0]
            for arg in cmd.args:
                if arg.kind == "pipe":
                    visit(arg.value)
            if first.kind != "ident":
                continue
            literal = cmd.args[1] if len(cmd.args) > 1 else None
            if first.value in ("user", "build") and literal and literal.kind == "string":
                root = "var" if first.value == "user" else "build"
                out.append(((root, literal.value), cmd.start, cmd.end))
            elif first.value in ("build_name", "build_type"):
                out.append((("source", first.value[6:]), first.start, first.end))

    for node in nodes:
        if isinstance(node, GoAction):
            visit(node.pipeline)
    return out


# ---------------------------------------------------------------------------
# Expressions and bodies
# ---------------------------------------------------------------------------


def _template_error(exc: GoTemplateError, node: JsonValue) -> Diagnostic:
    mapper = StringPositions(node)
    start = mapper.pos(exc.start)
    end = mapper.pos(max(exc.end, exc.start + 1))
    return error(exc.summary, _sentence(exc.message), Range(node.range.filename, start, end))


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def render_string(node: JsonValue, values: dict[str, Any], **kwargs: Any) -> Any:
    """Render one JSON string node; errors become EvalError pointing into the string."""
    from kiln.hcl.eval import EvalError

    try:
        return render_go_template(node.value, values, **kwargs)
    except GoTemplateError as exc:
        raise EvalError(_template_error(exc, node)) from None


class LegacyExpression(JsonExpression):
    """A JSON value of a legacy template; its strings are Go templates, its keys plain."""

    def _key(self, prop: Any, scope: Scope) -> Any:
        return prop.name

    def _string(self, node: JsonValue, scope: Scope) -> Any:
        return render_string(node, scope.values)

    def _string_references(self, node: JsonValue) -> list[Reference]:
        mapper = StringPositions(node)
        return [
            Reference(names, Range(self.filename, mapper.pos(start), mapper.pos(end)))
            for names, start, end in go_template_references(node.value)
        ]

    def static_traversal(self) -> tuple[str, ...] | None:
        return None


class LegacyBody(JsonBody):
    """A component's configuration in a legacy template (meta keys left out)."""

    dynamic_blocks = False
    #: Packer decodes these weakly: a single value where a list is wanted is a list of it
    weakly_typed = True


#: Legacy bodies: Go-template strings, and no "//" comment key.
_LEGACY_BODY: dict[str, Any] = {"expression": LegacyExpression, "comment_key": None}


def _body(node: JsonValue, filename: str, text: str, skip: tuple[str, ...]) -> LegacyBody:
    if node.kind != "object":
        return LegacyBody([], node.range, filename, text=text, **_LEGACY_BODY)
    return LegacyBody(
        node.props, node.range, filename, text=text, skip=frozenset(skip), **_LEGACY_BODY
    )


# ---------------------------------------------------------------------------
# Reading the template's structure
# ---------------------------------------------------------------------------


@dataclass
class NameRef:
    """A builder name as written in ``only``/``except``/``override``."""

    name: str
    range: Range


@dataclass
class RawBuilder:
    type: str
    name: str  # as written (may hold templates); the type when not given
    node: JsonValue
    type_node: JsonValue
    name_node: JsonValue | None = None

    @property
    def range(self) -> Range:
        return (self.name_node or self.type_node).range


@dataclass
class RawProvisioner:
    type: str
    node: JsonValue
    type_node: JsonValue
    only: list[NameRef] = field(default_factory=list)
    except_: list[NameRef] = field(default_factory=list)
    override: JsonValue | None = None
    pause_before: JsonValue | None = None
    timeout: JsonValue | None = None
    max_retries: JsonValue | None = None


@dataclass
class RawPostProcessor:
    type: str
    node: JsonValue  # the object, or the string of a post-processor given by type only
    type_node: JsonValue
    name: str = ""
    only: list[NameRef] = field(default_factory=list)
    except_: list[NameRef] = field(default_factory=list)
    keep_input_artifact: bool | None = None


@dataclass
class RawVariable:
    name: str
    name_range: Range
    node: JsonValue  # a string default, or null for a required variable

    @property
    def required(self) -> bool:
        return self.node.kind == "null"


@dataclass
class LegacyTemplate:
    """A legacy template's structure, checked but not evaluated."""

    path: str
    text: str
    root: JsonValue
    description: str = ""
    min_version: JsonValue | None = None
    variables: dict[str, RawVariable] = field(default_factory=dict)
    sensitive: list[NameRef] = field(default_factory=list)
    builders: list[RawBuilder] = field(default_factory=list)
    builders_range: Range | None = None
    provisioners: list[RawProvisioner] = field(default_factory=list)
    post_processors: list[list[RawPostProcessor]] = field(default_factory=list)
    cleanup: RawProvisioner | None = None
    comments: dict[str, str] = field(default_factory=dict)

    def builder(self, name: str) -> RawBuilder | None:
        return next((b for b in self.builders if b.name == name), None)


class _Structure:
    def __init__(self, path: str, text: str):
        self.path = path
        self.diags: list[Diagnostic] = []
        doc = parse_json(text, path)
        self.tpl = LegacyTemplate(path, text, doc.root)

    def add(self, summary: str, detail: str, at: Range | None) -> None:
        self.diags.append(error(summary, detail, at))

    def read(self) -> LegacyTemplate:
        root = self.tpl.root
        if root.kind != "object":
            raise DiagnosticError(
                [
                    error(
                        "Invalid template",
                        "A legacy JSON template is a JSON object with keys such as "
                        '"builders" and "provisioners".',
                        root.range,
                    )
                ]
            )
        for name, at in duplicate_keys(root):
            self.add(
                "Duplicate key",
                f'The key "{name}" appears twice in the same object; keep one of them.',
                at,
            )
        handlers: dict[str, Callable[[JsonProperty], None]] = {
            "description": self.description,
            "min_packer_version": self.min_version,
            "variables": self.variables,
            "sensitive-variables": self.sensitive,
            "builders": self.builders,
            "provisioners": self.provisioners,
            "post-processors": self.post_processors,
            "error-cleanup-provisioner": self.cleanup,
        }
        pending: list[JsonProperty] = []
        for prop in root.props:
            if prop.name.startswith("_"):
                if prop.value.kind != "string":
                    self.add(
                        "Invalid comment",
                        f'The comment "{prop.name}" must be a string.',
                        prop.value.range,
                    )
                else:
                    self.tpl.comments[prop.name] = prop.value.value
                continue
            if prop.name == "comments":  # Packer's own form of root comments
                continue
            if prop.name == "push":
                self.diags.append(
                    warning(
                        '"push" is ignored',
                        "push configured Atlas, which no longer exists; kiln ignores it, as "
                        "Packer does.",
                        prop.name_range,
                    )
                )
                continue
            if prop.name not in handlers:
                self.add(
                    "Unknown root level key in template",
                    f'"{prop.name}" is not a key of a legacy JSON template.'
                    + did_you_mean(prop.name, ROOT_KEYS)
                    + ' Keys that start with "_" are comments.',
                    prop.name_range,
                )
                continue
            if prop.name in ("provisioners", "post-processors", "error-cleanup-provisioner"):
                pending.append(prop)  # these refer to builders: read builders first
                continue
            handlers[prop.name](prop)
        for prop in pending:
            handlers[prop.name](prop)
        return self.tpl

    # -- simple keys --------------------------------------------------------

    def _string(self, prop: JsonProperty) -> str | None:
        if prop.value.kind != "string":
            self.add(f'Invalid "{prop.name}"', "A string is required.", prop.value.range)
            return None
        value: str = prop.value.value
        return value

    def description(self, prop: JsonProperty) -> None:
        value = self._string(prop)
        if value is not None:
            self.tpl.description = value

    def min_version(self, prop: JsonProperty) -> None:
        if self._string(prop) is not None:
            self.tpl.min_version = prop.value

    def variables(self, prop: JsonProperty) -> None:
        if prop.value.kind != "object":
            self.add(
                'Invalid "variables"',
                'An object of name: default pairs is required, like {"region": "us-east-1"}.',
                prop.value.range,
            )
            return
        for item in prop.value.props:
            if item.value.kind not in ("string", "null"):
                self.add(
                    "Invalid variable default",
                    f'The default of variable "{item.name}" must be a string, or null for a '
                    "variable that must be set.",
                    item.value.range,
                )
                continue
            self.tpl.variables[item.name] = RawVariable(item.name, item.name_range, item.value)

    def sensitive(self, prop: JsonProperty) -> None:
        refs = self._names(prop.value, '"sensitive-variables"')
        if refs is not None:
            self.tpl.sensitive = refs

    def _type(self, node: JsonValue, summary: str, detail: str) -> JsonValue | None:
        """A component object's ``"type"``: a non-empty string, or reported as missing."""
        type_node = node.get("type")
        if type_node is None or type_node.kind != "string" or not type_node.value:
            self.add(summary, detail, (type_node or node).range)
            return None
        return type_node

    def _names(self, value: JsonValue, what: str) -> list[NameRef] | None:
        if value.kind == "string":  # weakly typed, as Packer decodes it
            return [NameRef(value.value, value.range)]
        if value.kind != "array" or any(v.kind != "string" for v in value.items):
            self.add(f"Invalid {what}", "A list of names is required.", value.range)
            return None
        return [NameRef(v.value, v.range) for v in value.items]

    # -- builders -----------------------------------------------------------

    def builders(self, prop: JsonProperty) -> None:
        self.tpl.builders_range = prop.name_range
        if prop.value.kind != "array":
            self.add(
                'Invalid "builders"',
                'A list of builder objects is required, like [{"type": "null"}].',
                prop.value.range,
            )
            return
        seen: dict[str, RawBuilder] = {}
        for index, node in enumerate(prop.value.items, 1):
            if node.kind != "object":
                self.add(f"Invalid builder {index}", "A builder is a JSON object.", node.range)
                continue
            type_node = self._type(
                node,
                f"Builder {index} has no type",
                'Every builder needs a "type", such as "null" or "docker".',
            )
            if type_node is None:
                continue
            name_node = node.get("name")
            name = type_node.value
            if name_node is not None:
                if name_node.kind != "string":
                    self.add(
                        f"Invalid builder {index} name", "A string is required.", name_node.range
                    )
                    continue
                name = name_node.value or name
            builder = RawBuilder(type_node.value, name, node, type_node, name_node)
            if name in seen:
                self.add(
                    "Duplicate builder name",
                    f"builder {index}: a builder named '{name}' already exists at "
                    f'{seen[name].range}. Give each builder a unique "name".',
                    builder.range,
                )
                continue
            seen[name] = builder
            self.tpl.builders.append(builder)

    def _builder_refs(self, refs: list[NameRef], what: str, key: str) -> list[NameRef]:
        out = []
        for ref in refs:
            if self.tpl.builder(ref.name) is None:
                names = [b.name for b in self.tpl.builders]
                self.add(
                    "Unknown builder",
                    f"{what}: '{key}' specified builder '{ref.name}' not found."
                    + did_you_mean(ref.name, names)
                    + f" Builders: {', '.join(names) or 'none'}.",
                    ref.range,
                )
                continue
            out.append(ref)
        return out

    # -- provisioners -------------------------------------------------------

    def provisioners(self, prop: JsonProperty) -> None:
        if prop.value.kind != "array":
            self.add(
                'Invalid "provisioners"',
                "A list of provisioner objects is required.",
                prop.value.range,
            )
            return
        for index, node in enumerate(prop.value.items, 1):
            prov = self._provisioner(node, f"provisioner {index}")
            if prov is not None:
                self.tpl.provisioners.append(prov)

    def cleanup(self, prop: JsonProperty) -> None:
        self.tpl.cleanup = self._provisioner(prop.value, "error-cleanup-provisioner")

    def _only_except(self, item: Any, node: JsonValue, what: str) -> None:
        """A provisioner's or post-processor's ``only``/``except`` builder names."""
        for key in ("only", "except"):
            value = node.get(key)
            if value is None:
                continue
            refs = self._names(value, f'"{key}" of {what}')
            if refs is not None:
                setattr(
                    item,
                    "only" if key == "only" else "except_",
                    self._builder_refs(refs, what, key),
                )
        if node.get("only") is not None and node.get("except") is not None:
            except_node = next(p for p in node.props if p.name == "except")
            self.add(
                f"Invalid {what}",
                "Only one of 'only' or 'except' may be specified.",
                except_node.name_range,
            )

    def _provisioner(self, node: JsonValue, what: str) -> RawProvisioner | None:
        if node.kind != "object":
            self.add(f"Invalid {what}", "A provisioner is a JSON object.", node.range)
            return None
        type_node = self._type(
            node,
            f"Invalid {what}",
            "Provisioner missing 'type': every provisioner needs one, such as \"shell\".",
        )
        if type_node is None:
            return None
        prov = RawProvisioner(type_node.value, node, type_node)
        self._only_except(prov, node, what)
        override = node.get("override")
        if override is not None:
            if override.kind != "object":
                self.add(
                    f"Invalid {what} override",
                    "An object keyed by builder name is required.",
                    override.range,
                )
            else:
                for item in override.props:
                    if self.tpl.builder(item.name) is None:
                        self.add(
                            "Unknown builder in override",
                            f"{what}: override '{item.name}' doesn't exist."
                            + did_you_mean(item.name, [b.name for b in self.tpl.builders]),
                            item.name_range,
                        )
                    elif item.value.kind != "object":
                        self.add(
                            f"Invalid {what} override",
                            f"The override for '{item.name}' must be an object of settings.",
                            item.value.range,
                        )
                prov.override = override
        for key in ("pause_before", "timeout"):
            value = node.get(key)
            if value is not None:
                if value.kind not in ("string", "number"):
                    self.add(
                        f"Invalid {key}",
                        f'"{key}" must be a duration such as "10s" or "1m30s".',
                        value.range,
                    )
                else:
                    setattr(prov, key, value)
        retries = node.get("max_retries")
        if retries is not None:
            if retries.kind not in ("string", "number"):
                self.add("Invalid max_retries", "A whole number is required.", retries.range)
            else:
                prov.max_retries = retries
        return prov

    # -- post-processors ----------------------------------------------------

    def post_processors(self, prop: JsonProperty) -> None:
        value = prop.value
        entries = value.items if value.kind == "array" else [value]
        for index, entry in enumerate(entries, 1):
            if entry.kind in ("string", "object"):
                chain = [self._post_processor(entry, f"post-processor {index}")]
            elif entry.kind == "array":
                chain = []
                for j, item in enumerate(entry.items, 1):
                    what = f"post-processor {index}.{j}"
                    if item.kind == "array":
                        self.add(
                            f"Invalid {what}",
                            "A sequence is not allowed inside a sequence: each inner list is "
                            "one chain of post-processors.",
                            item.range,
                        )
                        continue
                    if item.kind not in ("string", "object"):
                        self.add(
                            f"Invalid {what}",
                            "Unknown format: use a type name or an object.",
                            item.range,
                        )
                        continue
                    chain.append(self._post_processor(item, what))
            else:
                self.add(
                    f"Invalid post-processor {index}",
                    "Bad format: a post-processor is a type name, an object, or a list of them "
                    "(a chain).",
                    entry.range,
                )
                continue
            kept = [pp for pp in chain if pp is not None]
            if kept:
                self.tpl.post_processors.append(kept)

    def _post_processor(self, node: JsonValue, what: str) -> RawPostProcessor | None:
        if node.kind == "string":
            if not node.value:
                self.add(f"Invalid {what}", "type is required.", node.range)
                return None
            return RawPostProcessor(node.value, node, node)
        type_node = self._type(
            node,
            f"Invalid {what}",
            'type is required: every post-processor needs one, such as "manifest".',
        )
        if type_node is None:
            return None
        pp = RawPostProcessor(type_node.value, node, type_node)
        name = node.get("name")
        if name is not None:
            if name.kind != "string":
                self.add(f"Invalid {what} name", "A string is required.", name.range)
            else:
                pp.name = name.value
        self._only_except(pp, node, what)
        keep = node.get("keep_input_artifact")
        if keep is not None:
            if keep.kind != "bool":
                self.add(
                    f"Invalid {what}", '"keep_input_artifact" must be true or false.', keep.range
                )
            else:
                pp.keep_input_artifact = keep.value
        return pp


def read_legacy(path: str) -> tuple[LegacyTemplate, list[Diagnostic]]:
    """Read a legacy template's structure: DiagnosticError if it is not a JSON object."""
    reader = _Structure(path, read_source(path, "template"))
    tpl = reader.read()
    return tpl, reader.diags


# ---------------------------------------------------------------------------
# Loading into the model
# ---------------------------------------------------------------------------


@dataclass
class _VarEntry:
    name: str
    text: str
    origin: str  # "default", a var file's path, or "-var"
    node: JsonValue | None = None  # where the text is written, when it is in a file


class _Loader:
    def __init__(self, tpl: LegacyTemplate, diags: list[Diagnostic]):
        self.tpl = tpl
        self.diags = diags
        self.root = os.path.dirname(tpl.path) or "."

    def run(self, var_files: list[str], cli_vars: dict[str, str]) -> Template:
        from kiln.hcl.loader import template_scope_values
        from kiln.hcl.model import Build, BuildSource, Source, Template

        tpl = self.tpl
        template = Template(
            path=tpl.path,
            root=self.root,
            kind="legacy",
            files=[tpl.path],
            description=tpl.description,
        )
        self.check_version(template)
        self.variables(template, var_files, cli_vars)
        values = template_scope_values(template)
        build = Build(range=tpl.builders_range or tpl.root.range, description=tpl.description)
        self.names: dict[str, tuple[str, str]] = {}
        for raw in tpl.builders:
            name = raw.name
            if raw.name_node is not None and "{{" in name:
                rendered = self.render_static(raw.name_node, values)
                if not isinstance(rendered, str):
                    continue
                name = rendered
            key = (raw.type, name)
            if key in template.sources:
                self.diags.append(
                    error(
                        "Duplicate builder name",
                        f"Two builders are named '{name}' once their names are rendered.",
                        raw.range,
                    )
                )
                continue
            self.names[raw.name] = key
            body = _body(raw.node, tpl.path, tpl.text, BUILDER_META)
            template.sources[key] = Source(raw.type, name, body, raw.range)
            build.sources.append(BuildSource(raw.type, name, raw.range))
        for raw_prov in tpl.provisioners:
            build.provisioners.append(self.provisioner(raw_prov, template, values))
        if tpl.cleanup is not None:
            build.error_cleanup_provisioner = self.provisioner(tpl.cleanup, template, values)
        for raw_chain in tpl.post_processors:
            build.post_processors.append([self.post_processor(pp) for pp in raw_chain])
        template.builds.append(build)
        return template

    def render_static(self, node: JsonValue, values: dict[str, Any]) -> Any:
        from kiln.hcl.eval import EvalError

        try:
            return render_string(node, values)
        except EvalError as exc:
            self.diags.append(exc.diagnostic)
            return None

    def refs(self, names: list[NameRef]) -> list[str]:
        out = []
        for ref in names:
            key = self.names.get(ref.name)
            if key is not None:
                out.append(f"{key[0]}.{key[1]}")
        return out

    # -- version ------------------------------------------------------------

    def check_version(self, template: Template) -> None:
        from packaging.version import InvalidVersion, Version

        from kiln import PACKER_COMPAT_VERSION

        node = self.tpl.min_version
        if node is None:
            return
        text: str = node.value
        template.required_version.append((f">= {text}", node.range))
        try:
            wanted = Version(text)
        except InvalidVersion:
            self.diags.append(
                error(
                    "Invalid min_packer_version", f'"{text}" is not a version number.', node.range
                )
            )
            return
        if Version(PACKER_COMPAT_VERSION) < wanted:
            self.diags.append(
                error(
                    "Unsupported Packer version",
                    f"This template requires Packer version {text} or higher; kiln is "
                    f"compatible with Packer {PACKER_COMPAT_VERSION}.",
                    node.range,
                )
            )

    # -- variables ----------------------------------------------------------

    def variables(self, template: Template, var_files: list[str], cli_vars: dict[str, str]) -> None:
        from kiln.hcl import types
        from kiln.hcl.model import NO_VALUE, Variable
        from kiln.ui.redact import register_secret

        entries: dict[str, _VarEntry] = {}
        for name, raw in self.tpl.variables.items():
            var = Variable(name, raw.name_range, type=types.STRING)
            if not raw.required:
                var.default = raw.node.value
                entries[name] = _VarEntry(name, raw.node.value, "default", raw.node)
            template.variables[name] = var
        for path in var_files:
            for name, node in self.var_file(path).items():
                entries[name] = _VarEntry(name, node.value, path, node)
        for name, value in cli_vars.items():
            entries[name] = _VarEntry(name, value, "-var")
        for name, entry in entries.items():
            if name not in template.variables:
                at = (
                    entry.node.range if entry.node is not None else self.tpl.root.range.first_char()
                )
                template.variables[name] = Variable(name, at, type=types.STRING)
        resolved: dict[str, str] = {}
        failed: set[str] = set()
        for name in sorted(entries):
            self.resolve(name, entries, resolved, failed, [])
        for name, var in template.variables.items():
            found = entries.get(name)
            if found is None:
                self.diags.append(
                    error(
                        "Required variable not set",
                        f'required variable not set: {name}. The variable "{name}" has no '
                        f"default (null): set it with -var {name}=... or in a -var-file.",
                        var.range,
                    )
                )
                continue
            if name in resolved:
                var.value = resolved[name]
                var.value_source = found.origin
                var.value_range = found.node.range if found.node is not None else None
        declared = set(self.tpl.variables)
        for ref in self.tpl.sensitive:
            marked = template.variables.get(ref.name)
            if ref.name not in declared or marked is None:
                self.diags.append(
                    warning(
                        "Unknown sensitive variable",
                        f'"{ref.name}" is listed in sensitive-variables but is not a declared '
                        "variable; it is ignored.",
                        ref.range,
                    )
                )
                continue
            marked.sensitive = True
            if isinstance(marked.value, str) and marked.value is not NO_VALUE:
                register_secret(marked.value)

    def var_file(self, path: str) -> dict[str, JsonValue]:
        try:
            doc = parse_json(read_source(path, "variables file"), path)
        except DiagnosticError as exc:
            self.diags.extend(exc.diagnostics)
            return {}
        if doc.root.kind != "object":
            self.diags.append(
                error(
                    "Invalid variables file",
                    "A JSON variables file is an object of name: value strings, like "
                    '{"region": "us-east-1"}.',
                    doc.root.range,
                )
            )
            return {}
        out: dict[str, JsonValue] = {}
        for prop in doc.root.props:
            if prop.value.kind != "string":
                self.diags.append(
                    error(
                        "Invalid variable value",
                        f'Error reading variables in "{path}": the value of "{prop.name}" '
                        "must be a string.",
                        prop.value.range,
                    )
                )
                continue
            out[prop.name] = prop.value
        return out

    def resolve(
        self,
        name: str,
        entries: dict[str, _VarEntry],
        resolved: dict[str, str],
        failed: set[str],
        stack: list[str],
    ) -> str | None:
        if name in resolved:
            return resolved[name]
        if name in failed:
            return None
        entry = entries[name]

        class _Abandon(Exception):
            pass

        def user(other: str) -> Any:
            if other not in entries:
                raise _FunctionError(
                    f'variable "{other}" is not set: declare it in "variables" or set it '
                    "with -var or a -var-file"
                )
            if other in stack or other == name:
                cycle = " -> ".join([*stack, name, other])
                raise _FunctionError(f"variables refer to each other in a loop: {cycle}")
            value = self.resolve(other, entries, resolved, failed, [*stack, name])
            if value is None:
                raise _Abandon
            return value

        try:
            value = render_go_template(entry.text, {}, in_variables=True, user=user)
        except _Abandon:
            failed.add(name)
            return None
        except GoTemplateError as exc:
            failed.add(name)
            if entry.node is not None:
                self.diags.append(_template_error(exc, entry.node))
            else:
                self.diags.append(
                    error(exc.summary, _sentence(f"In the value of -var {name}: {exc.message}"))
                )
            return None
        resolved[name] = value
        return str(value)

    # -- components ---------------------------------------------------------

    def provisioner(
        self, raw: RawProvisioner, template: Template, values: dict[str, Any]
    ) -> Provisioner:
        from kiln.hcl.durations import parse_duration
        from kiln.hcl.model import Provisioner

        tpl = self.tpl
        prov = Provisioner(
            raw.type,
            _body(raw.node, tpl.path, tpl.text, PROVISIONER_META),
            raw.type_node.range,
            only=self.refs(raw.only),
            except_=self.refs(raw.except_),
        )
        for key in ("pause_before", "timeout"):
            node: JsonValue | None = getattr(raw, key)
            if node is None:
                continue
            if node.kind == "number":
                setattr(prov, key, node.value / 1e9)  # nanoseconds, as Go decodes a number
                continue
            text = self.render_static(node, values)
            if not isinstance(text, str):
                continue
            try:
                setattr(prov, key, parse_duration(text))
            except ValueError as exc:
                self.diags.append(
                    error(f"Invalid {key}", f'{exc}: use a duration such as "10s".', node.range)
                )
        if raw.max_retries is not None:
            node = raw.max_retries
            value: Any = node.value
            if node.kind == "string":
                value = self.render_static(node, values)
            try:
                retries = int(value) if not isinstance(value, float) else None
            except (TypeError, ValueError):
                retries = None
            if retries is None or retries < 0:
                if value is not None:
                    self.diags.append(
                        error(
                            "Invalid max_retries",
                            f"`max_retries` must be a valid integer, not {value!r}.",
                            node.range,
                        )
                    )
            else:
                prov.max_retries = retries
        if raw.override is not None:
            prov.override = self.override(raw.override, template)
        return prov

    def override(self, node: JsonValue, template: Template) -> dict[str, dict[str, Any]]:
        from kiln.hcl.eval import EvalError
        from kiln.hcl.loader import build_scope

        out: dict[str, dict[str, Any]] = {}
        for prop in node.props:
            key = self.names.get(prop.name)
            if key is None or prop.value.kind != "object":
                continue
            scope = build_scope(template, key[0], key[1])
            try:
                value = LegacyExpression(prop.value, self.tpl.path).evaluate(scope)
            except EvalError as exc:
                self.diags.append(exc.diagnostic)
                continue
            out[key[1]] = value
        return out

    def post_processor(self, raw: RawPostProcessor) -> PostProcessor:
        from kiln.hcl.model import PostProcessor

        tpl = self.tpl
        return PostProcessor(
            raw.type,
            _body(raw.node, tpl.path, tpl.text, POST_PROCESSOR_META),
            raw.type_node.range,
            name=raw.name,
            only=self.refs(raw.only),
            except_=self.refs(raw.except_),
            keep_input_artifact=raw.keep_input_artifact,
        )


def load_legacy(
    path: str, var_files: list[str], vars: dict[str, str], *, syntax_only: bool = False
) -> tuple[Template, list[Diagnostic]]:
    """Load a legacy JSON template with its variable values (default < -var-file < -var).

    Fatal problems (an unreadable file, invalid JSON) raise DiagnosticError; everything
    else comes back as diagnostics next to the template. With ``syntax_only``, only the
    template's structure is checked, as ``validate -syntax-only`` does: problems found
    while evaluating (unset variables, min_packer_version) are not reported.
    """
    tpl, diags = read_legacy(path)
    if not tpl.builders and not any(d.is_error for d in diags):
        diags.append(
            error(
                "No builders",
                'A template needs at least one builder: "builders": [{"type": "..."}].',
                (tpl.builders_range or tpl.root.range).first_char(),
            )
        )
    template = _Loader(tpl, [] if syntax_only else diags).run(var_files, vars)
    return template, diags
