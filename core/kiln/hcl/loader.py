"""Loading a template: files → model, with variables, locals and data resolved.

This follows Packer's phases: required_version first, then the top-level schema,
required_plugins, variables and their values (default < ``PKR_VAR_`` <
``*.auto.pkrvars.*`` < ``-var-file`` < ``-var``), locals and data sources as one
dependency graph, then sources and builds. Every problem found is collected as a
diagnostic; loading stops early only where later phases cannot make sense.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiln import PACKER_COMPAT_VERSION
from kiln.hcl.body import Attribute, Block, BlockSpec, Body, Expression, Schema, did_you_mean
from kiln.hcl.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Diagnostics,
    Range,
    error,
    read_source,
    warning,
)
from kiln.hcl.durations import parse_duration
from kiln.hcl.eval import EvalError, NativeBody, NativeExpression, Scope, type_from_node
from kiln.hcl.model import (
    NO_VALUE,
    Build,
    BuildSource,
    ComponentBlock,
    Datasource,
    Local,
    PostProcessor,
    Provisioner,
    RequiredPlugin,
    Source,
    Template,
    Validation,
    Variable,
)
from kiln.hcl.syntax import Source as SyntaxSource
from kiln.hcl.syntax import Tree, parse_expression, parse_file
from kiln.hcl.values import UNKNOWN, HclSet, format_number, is_number

HCL_SUFFIX = ".pkr.hcl"
JSON_SUFFIX = ".pkr.json"
AUTO_VARS_SUFFIXES = (".auto.pkrvars.hcl", ".auto.pkrvars.json")

TOP_SCHEMA = Schema(
    blocks={
        "packer": BlockSpec(),
        "source": BlockSpec(2, ("type", "name")),
        "variable": BlockSpec(1, ("name",)),
        "variables": BlockSpec(),
        "locals": BlockSpec(),
        "local": BlockSpec(1, ("name",)),
        "data": BlockSpec(2, ("type", "name")),
        "build": BlockSpec(),
        "hcp_packer_registry": BlockSpec(),
    }
)
PACKER_SCHEMA = Schema(attributes=("required_version",), blocks={"required_plugins": BlockSpec()})
VARIABLE_SCHEMA = Schema(
    attributes=("description", "default", "type", "sensitive", "nullable"),
    blocks={"validation": BlockSpec()},
)
VALIDATION_SCHEMA = Schema(
    attributes=("condition", "error_message"), required=("condition", "error_message")
)
LOCAL_SCHEMA = Schema(attributes=("expression", "sensitive"), required=("expression",))
BUILD_SCHEMA = Schema(
    attributes=("name", "description", "sources"),
    blocks={
        "source": BlockSpec(1, ("reference",)),
        "provisioner": BlockSpec(1, ("type",)),
        "error-cleanup-provisioner": BlockSpec(1, ("type",)),
        "post-processor": BlockSpec(1, ("type",)),
        "post-processors": BlockSpec(),
        "hcp_packer_registry": BlockSpec(),
    },
)
POST_PROCESSORS_SCHEMA = Schema(blocks={"post-processor": BlockSpec(1, ("type",))})
PROVISIONER_META = ("name", "only", "except", "pause_before", "max_retries", "timeout", "override")
POST_PROCESSOR_META = ("name", "only", "except", "keep_input_artifact")

#: build.* values that only exist once a build runs.
BUILD_GENERATED = (
    "ID",
    "Host",
    "Port",
    "User",
    "Password",
    "ConnType",
    "PackerRunUUID",
    "PackerHTTPPort",
    "PackerHTTPIP",
    "PackerHTTPAddr",
    "SSHPublicKey",
    "SSHPrivateKey",
    "WinRMPassword",
)

DatasourceExecutor = Callable[[Datasource, dict[str, Any]], Any]


@dataclass
class LoadOptions:
    """What the command line adds to a template: variable values and how to load."""

    vars: list[tuple[str, str]] = field(default_factory=list)  # -var, in order
    var_files: list[str] = field(default_factory=list)  # -var-file, in order
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    #: stop after syntax and structure: no variable values, no evaluation
    syntax_only: bool = False
    #: warn about var-file entries that declare nothing (validate does, build doesn't)
    warn_undeclared_vars: bool = True
    #: runs a data source; without one, data sources are unknown until build time
    execute_datasource: DatasourceExecutor | None = None


def load(path: str, options: LoadOptions | None = None) -> tuple[Template | None, Diagnostics]:
    """Load the template at ``path`` (a file or a folder)."""
    opts = options or LoadOptions()
    diags = Diagnostics()
    try:
        template = _Loader(path, opts, diags).run()
    except DiagnosticError as exc:
        diags.extend(exc.diagnostics)
        return None, diags
    return template, diags


def is_legacy_json(path: str) -> bool:
    return os.path.isfile(path) and not path.endswith((HCL_SUFFIX, JSON_SUFFIX))


class _Loader:
    def __init__(self, path: str, opts: LoadOptions, diags: Diagnostics):
        self.path = path
        self.opts = opts
        self.diags = diags
        self.version_failed = False
        # meta-arguments that may use variables, evaluated once values are known
        self.deferred: list[tuple[Any, str, Attribute]] = []

    # -- files ----------------------------------------------------------------

    def run(self) -> Template:
        path = self.path
        if not os.path.exists(path):
            raise DiagnosticError(
                [
                    error(
                        "No such file or folder",
                        f'"{path}" does not exist: give the path of a '
                        "template file or of a folder of *.pkr.hcl files.",
                    )
                ]
            )
        if is_legacy_json(path):
            from kiln.hcl.legacy import load_legacy

            template, diags = load_legacy(
                path,
                self.opts.var_files,
                dict(self.opts.vars),
                syntax_only=self.opts.syntax_only,
            )
            self.diags.extend(diags)
            return template
        if os.path.isdir(path):
            names = sorted(os.listdir(path))
            files = [os.path.join(path, n) for n in names if n.endswith(HCL_SUFFIX)]
            files += [os.path.join(path, n) for n in names if n.endswith(JSON_SUFFIX)]
            auto_vars = [os.path.join(path, n) for n in names if n.endswith(AUTO_VARS_SUFFIXES[0])]
            auto_vars += [os.path.join(path, n) for n in names if n.endswith(AUTO_VARS_SUFFIXES[1])]
            files = [f for f in files if os.path.isfile(f)]
            if not files:
                raise DiagnosticError(
                    [
                        error(
                            "No configuration files",
                            f'The folder "{path}" holds no *.pkr.hcl or *.pkr.json file. '
                            "Give the path of a template file, or a folder that holds one.",
                        )
                    ]
                )
            root = path
        else:
            files, auto_vars, root = [path], [], os.path.dirname(path) or "."
        template = Template(path=path, root=root, kind="hcl2", files=files)
        bodies = [self._parse(f) for f in files]
        contents = [b.content(TOP_SCHEMA) for b in bodies]
        blocks = [blk for c in contents for blk in c.blocks]
        # Packer checks required_version before anything else, and stops there if it fails.
        self._packer_blocks(template, [b for b in blocks if b.type == "packer"])
        if self.version_failed:
            raise DiagnosticError([d for d in self.diags if d.is_error])
        for content in contents:
            self.diags.extend(content.diagnostics)
        self._variable_blocks(template, blocks)
        local_defs = self._local_blocks(blocks)
        self._data_blocks(template, [b for b in blocks if b.type == "data"])
        self._source_blocks(template, [b for b in blocks if b.type == "source"])
        for block in blocks:
            if block.type == "hcp_packer_registry":
                self._hcp_registry(template, block)
        self._build_blocks(template, [b for b in blocks if b.type == "build"])
        if self.opts.syntax_only:
            return template
        self._variable_values(template, auto_vars)
        self._locals_and_data(template, local_defs)
        self._build_meta(template)
        return template

    def _parse(self, filename: str) -> Body:
        text = read_source(filename)
        if filename.endswith(".json"):
            from kiln.hcl.jsonsyntax import parse_json_body

            return parse_json_body(text, filename)
        return NativeBody(parse_file(text, filename))

    # -- packer block ---------------------------------------------------------

    def _packer_blocks(self, template: Template, blocks: list[Block]) -> None:
        for block in blocks:
            content = block.body.content(PACKER_SCHEMA)
            self.diags.extend(content.diagnostics)
            attr = content.attributes.get("required_version")
            if attr is not None:
                self._required_version(template, attr)
            for rp in content.blocks_of("required_plugins"):
                self._required_plugins(template, rp)

    def _required_version(self, template: Template, attr: Attribute) -> None:
        # Imported here: packaging costs start-up time that only a packer block needs.
        from kiln.hcl.requirements import ConstraintError, parse_constraint

        value = self._static_value(attr.expr)
        if value is NO_VALUE:
            return
        if not isinstance(value, str):
            self.diags.add(
                error(
                    "Invalid required_version",
                    'A version constraint string is required, like ">= 1.7.0".',
                    attr.expr.range,
                )
            )
            return
        try:
            constraint = parse_constraint(value)
        except ConstraintError as exc:
            self.diags.add(error("Invalid required_version", f"{exc}.", attr.expr.range))
            return
        template.required_version.append((value, attr.expr.range))
        if not constraint.allows(PACKER_COMPAT_VERSION, prereleases=True):
            self.version_failed = True
            self.diags.add(
                error(
                    "Unsupported Packer Core version",
                    f"This configuration does not support Packer version {PACKER_COMPAT_VERSION} "
                    f"(the version kiln is compatible with). To proceed, either choose another "
                    f'supported kiln version or update the version constraint "{value}".',
                    attr.expr.range,
                )
            )

    def _required_plugins(self, template: Template, block: Block) -> None:
        from kiln.hcl.requirements import ConstraintError, parse_constraint, parse_source_address

        attrs, diags = block.body.just_attributes()
        self.diags.extend(diags)
        for name, attr in attrs.items():
            value = self._static_value(attr.expr)
            if value is NO_VALUE:
                continue
            if not isinstance(value, dict):
                self.diags.add(
                    error(
                        "Invalid plugin requirement",
                        f'"{name}" must be an object with "source" and "version": '
                        f'{name} = {{ source = "github.com/hashicorp/{name}", '
                        'version = ">= 1.0.0" }.',
                        attr.expr.range,
                    )
                )
                continue
            unknown = sorted(set(value) - {"source", "version"})
            if unknown:
                self.diags.add(
                    error(
                        "Invalid plugin requirement",
                        f'Unexpected key(s) {", ".join(repr(k) for k in unknown)} in "{name}": '
                        'only "source" and "version" are allowed.',
                        attr.expr.range,
                    )
                )
                continue
            source = value.get("source")
            version = value.get("version", "")
            if not isinstance(source, str) or not source:
                self.diags.add(
                    error(
                        "Invalid plugin requirement",
                        f'"{name}" needs a "source", like "github.com/hashicorp/{name}".',
                        attr.expr.range,
                    )
                )
                continue
            try:
                parse_source_address(source)
            except ConstraintError as exc:
                self.diags.add(error("Invalid plugin source", f"{exc}.", attr.expr.range))
                continue
            if not isinstance(version, str):
                self.diags.add(
                    error(
                        "Invalid version constraint",
                        "The version must be a string.",
                        attr.expr.range,
                    )
                )
                continue
            if version:
                try:
                    parse_constraint(version)
                except ConstraintError as exc:
                    self.diags.add(error("Invalid version constraint", f"{exc}.", attr.expr.range))
                    continue
            if name in template.required_plugins:
                self.diags.add(
                    error(
                        "Duplicate required_plugins entry",
                        f'"{name}" is already required at {template.required_plugins[name].range}.',
                        attr.name_range,
                    )
                )
                continue
            template.required_plugins[name] = RequiredPlugin(name, source, version, attr.range)

    def _static_value(self, expr: Expression) -> Any:
        """Evaluate an expression that may not refer to anything (no var, no local)."""
        try:
            return expr.evaluate(Scope())
        except EvalError as exc:
            self.diags.extend(exc.diagnostics)
            return NO_VALUE

    # -- variables ------------------------------------------------------------

    def _variable_blocks(self, template: Template, blocks: list[Block]) -> None:
        for block in blocks:
            if block.type == "variable":
                self._variable(template, block)
            elif block.type == "variables":
                attrs, diags = block.body.just_attributes()
                self.diags.extend(diags)
                for name, attr in attrs.items():
                    if self._check_duplicate_variable(template, name, attr.name_range):
                        continue
                    var = Variable(name, attr.name_range)
                    default = self._default_value(attr.expr)
                    if default is not NO_VALUE:
                        var.default = default
                    template.variables[name] = var

    def _check_duplicate_variable(self, template: Template, name: str, at: Range) -> bool:
        if name in template.variables:
            self.diags.add(
                error(
                    "Duplicate variable",
                    f'Duplicate "{name}" variable definition found; it was first declared at '
                    f"{template.variables[name].range}.",
                    at,
                )
            )
            return True
        return False

    def _variable(self, template: Template, block: Block) -> None:
        name = block.labels[0]
        if self._check_duplicate_variable(template, name, block.range):
            return
        if not _valid_identifier(name):
            self.diags.add(
                error(
                    "Invalid variable name",
                    "A name must start with a letter or underscore and may contain only "
                    "letters, digits, underscores, and dashes.",
                    block.label_ranges[0] if block.label_ranges else block.range,
                )
            )
            return
        content = block.body.content(VARIABLE_SCHEMA)
        self.diags.extend(content.diagnostics)
        var = Variable(name, block.range)
        attrs = content.attributes
        if "type" in attrs:
            try:
                var.type = type_from_node(_type_node(attrs["type"].expr))
            except EvalError as exc:
                self.diags.extend(exc.diagnostics)
            except RecursionError:
                self.diags.add(
                    error(
                        "Type constraint too deeply nested",
                        "kiln cannot read a type nested this deeply; simplify it.",
                        attrs["type"].expr.range,
                    )
                )
        for flag in ("sensitive", "nullable"):
            if flag in attrs:
                value = self._static_value(attrs[flag].expr)
                if isinstance(value, bool):
                    setattr(var, flag, value)
                elif value is not NO_VALUE:
                    self.diags.add(
                        error(
                            f"Invalid {flag} value",
                            f'"{flag}" must be true or false.',
                            attrs[flag].expr.range,
                        )
                    )
        if "description" in attrs:
            value = self._static_value(attrs["description"].expr)
            if isinstance(value, str):
                var.description = value
        if "default" in attrs:
            default = self._default_value(attrs["default"].expr)
            if default is not NO_VALUE:
                if var.type is not None:
                    default = self._convert(
                        default,
                        var.type,
                        attrs["default"].expr.range,
                        "Invalid default value for variable",
                        "This default value is not compatible with the variable's type constraint",
                    )
                var.default = default
        for vblock in content.blocks_of("validation"):
            self._validation(var, vblock)
        template.variables[name] = var

    def _default_value(self, expr: Expression) -> Any:
        try:
            return expr.evaluate(Scope(allow_env=True))
        except EvalError as exc:
            diag = exc.diagnostic
            if diag.summary == "Unknown variable":
                diag = error(
                    "Variables not allowed",
                    "Variables may not be used here: a default value must be a literal, or "
                    "call functions such as env().",
                    diag.subject,
                )
            self.diags.add(diag)
            return NO_VALUE

    def _validation(self, var: Variable, block: Block) -> None:
        content = block.body.content(VALIDATION_SCHEMA)
        self.diags.extend(content.diagnostics)
        cond = content.attributes.get("condition")
        message = content.attributes.get("error_message")
        if cond is None or message is None:
            return
        for ref in cond.expr.references():
            if ref.names[:2] != ("var", var.name):
                self.diags.add(
                    error(
                        "Invalid variable validation condition",
                        f'The condition for variable "{var.name}" can only refer to the '
                        f"variable itself, using var.{var.name}.",
                        ref.range,
                    )
                )
                return
        text = self._static_value(message.expr)
        if isinstance(text, str) and not _valid_error_message(text):
            self.diags.add(
                error(
                    "Invalid validation error message",
                    "Validation error message must be at least one full English sentence "
                    "starting with an uppercase letter and ending with a period or question "
                    "mark.",
                    message.expr.range,
                )
            )
            return
        var.validations.append(Validation(cond.expr, message.expr, block.range))

    def _convert(
        self, value: Any, type_: Any, at: Range | None, summary: str, detail_prefix: str
    ) -> Any:
        from kiln.hcl import types

        try:
            return types.convert(value, type_)
        except types.ConversionError as exc:
            self.diags.add(error(summary, f"{detail_prefix}: {exc}.", at))
            return NO_VALUE

    def _variable_values(self, template: Template, auto_vars: list[str]) -> None:
        variables = template.variables
        for var in variables.values():
            if var.default is not NO_VALUE:
                var.value, var.value_source = var.default, "default"
        for key, raw in sorted(self.opts.env.items()):
            if key.startswith("PKR_VAR_") and key[8:] in variables:
                self._assign_raw(variables[key[8:]], raw, "environment variable " + key)
        for path in [*auto_vars, *self.opts.var_files]:
            self._assign_file(template, path)
        for name, raw in self.opts.vars:
            target = variables.get(name)
            if target is None:
                self.diags.add(
                    error(
                        "Undefined -var variable",
                        f'A "{name}" variable was passed in with -var but was not found in '
                        f'known variables. To declare variable "{name}", place this block in '
                        f"one of your .pkr.hcl files, such as variables.pkr.hcl:\n\n"
                        f'variable "{name}" {{\n  type    = string\n  default = null\n}}',
                    )
                )
                continue
            self._assign_raw(target, raw, "-var")
        for var in variables.values():
            self._finish_variable(var)

    def _assign_raw(self, var: Variable, raw: str, origin: str) -> None:
        """A value from the environment or -var: literal for string, number and untyped."""
        from kiln.hcl import types

        if var.type is None or var.type in (types.STRING, types.NUMBER):
            value: Any = raw
        else:
            try:
                node = parse_expression(raw, SyntaxSource(f"<value for var.{var.name}>", raw))
                value = NativeExpression(node).evaluate(Scope())
            except (DiagnosticError, EvalError) as exc:
                self.diags.add(
                    _retitle(exc.diagnostics[0], f"Invalid value for var.{var.name} from {origin}")
                )
                return
        var.value, var.value_source, var.value_range = value, origin, None

    def _assign_file(self, template: Template, path: str) -> None:
        if not path.endswith((".hcl", ".json")):
            self.diags.add(
                error(
                    "Could not guess format of var file",
                    f'"{path}": a variable file must end with .hcl or .json.',
                )
            )
            return
        try:
            body = self._parse(path)
        except DiagnosticError as exc:
            self.diags.extend(exc.diagnostics)
            return
        attrs, blocks = body.all_items()
        for block in blocks:
            if block.type == "variable":
                self.diags.add(
                    error(
                        "Variable declaration in a .pkrvar file",
                        "A .pkrvar file is used to assign values to variables that have "
                        "already been declared in .pkr files, not to declare new variables. To "
                        f'declare variable "{block.labels[0] if block.labels else ""}", place '
                        "this block in one of your .pkr files, such as variables.pkr.hcl",
                        block.range,
                    )
                )
            else:
                self.diags.add(
                    error(
                        "Unexpected block",
                        "A variable file only assigns values: name = value.",
                        block.range,
                    )
                )
        for name, attr in attrs.items():
            var = template.variables.get(name)
            if var is None:
                if self.opts.warn_undeclared_vars:
                    self.diags.add(
                        warning(
                            "Undefined variable",
                            f'A "{name}" variable was set but was not declared in an input '
                            "variable block. Declare it, or remove it from the var file.",
                            attr.name_range,
                        )
                    )
                continue
            try:
                value = attr.expr.evaluate(Scope())
            except EvalError as exc:
                self.diags.extend(exc.diagnostics)
                continue
            var.value, var.value_source, var.value_range = value, path, attr.expr.range

    def _finish_variable(self, var: Variable) -> None:
        from kiln.hcl import types
        from kiln.ui.redact import register_secret

        if var.value is NO_VALUE:
            self.diags.add(
                error(
                    f'Unset variable "{var.name}"',
                    "A used variable must be set or have a default value: give it a default, "
                    f"or set it with -var {var.name}=..., a var file, or "
                    f"PKR_VAR_{var.name}.",
                    var.range,
                )
            )
            return
        if var.value is None and not var.nullable:
            self.diags.add(
                error(
                    "Invalid value for variable",
                    f'The variable "{var.name}" is not nullable: it must have a non-null value.',
                    var.value_range or var.range,
                )
            )
            return
        target = var.type if var.type is not None else types.ANY
        if var.value is not None:
            converted = self._convert(
                var.value,
                target,
                var.value_range or var.range,
                "Invalid value for variable",
                f"The value for var.{var.name} (from {var.value_source}) is not compatible "
                f"with the variable's type constraint",
            )
            if converted is NO_VALUE:
                var.value = NO_VALUE
                return
            var.value = converted
        if var.sensitive:
            for text in _string_leaves(var.value):
                register_secret(text)
        self._check_validations(var)

    def _check_validations(self, var: Variable) -> None:
        scope = Scope(values={"var": {var.name: var.value}})
        for rule in var.validations:
            try:
                ok = rule.condition.evaluate(scope)
                message = rule.error_message.evaluate(scope)
            except EvalError as exc:
                self.diags.extend(exc.diagnostics)
                continue
            if ok is UNKNOWN:
                continue
            if not isinstance(ok, bool):
                self.diags.add(
                    error(
                        "Invalid validation result",
                        "The condition must produce true or false.",
                        rule.condition.range,
                    )
                )
                continue
            if not ok:
                where = var.value_range or rule.range
                self.diags.add(
                    error(
                        "Invalid value for variable",
                        f"{message}\n\nThis was checked by the validation rule at "
                        f"{rule.condition.range}.",
                        where,
                    )
                )

    # -- locals and data ------------------------------------------------------

    def _local_blocks(self, blocks: list[Block]) -> dict[str, Local]:
        defs: dict[str, Local] = {}
        for block in blocks:
            if block.type == "locals":
                attrs, diags = block.body.just_attributes()
                self.diags.extend(diags)
                for name, attr in attrs.items():
                    self._add_local(defs, Local(name, attr.expr, attr.name_range))
            elif block.type == "local":
                content = block.body.content(LOCAL_SCHEMA)
                self.diags.extend(content.diagnostics)
                expr = content.attributes.get("expression")
                if expr is None:
                    continue
                local = Local(block.labels[0], expr.expr, block.range)
                if "sensitive" in content.attributes:
                    flag = self._static_value(content.attributes["sensitive"].expr)
                    local.sensitive = flag is True
                self._add_local(defs, local)
        return defs

    def _add_local(self, defs: dict[str, Local], local: Local) -> None:
        if local.name in defs:
            self.diags.add(
                error(
                    "Duplicate local definition",
                    f'Local "{local.name}" is defined twice; it was first defined at '
                    f"{defs[local.name].range}.",
                    local.range,
                )
            )
            return
        defs[local.name] = local

    def _data_blocks(self, template: Template, blocks: list[Block]) -> None:
        for block in blocks:
            key = (block.labels[0], block.labels[1])
            if key in template.datasources:
                self.diags.add(
                    error(
                        "Duplicate data block",
                        f'data "{key[0]}" "{key[1]}" is already defined at '
                        f"{template.datasources[key].range}.",
                        block.range,
                    )
                )
                continue
            template.datasources[key] = Datasource(key[0], key[1], block.body, block.range)

    def _locals_and_data(self, template: Template, local_defs: dict[str, Local]) -> None:
        """Evaluate locals and data sources in dependency order; a cycle is an error."""
        template.locals = local_defs
        nodes: dict[str, Local | Datasource] = {f"local.{n}": v for n, v in local_defs.items()}
        nodes.update({ds.ref: ds for ds in template.datasources.values()})
        deps: dict[str, list[str]] = {}
        for key, item in nodes.items():
            refs = _local_refs(item)
            deps[key] = [r for r in refs if r in nodes]
        order, cycle = _toposort(deps)
        if cycle:
            first = nodes[cycle[0]]
            self.diags.add(
                error(
                    "Cycle in local values and data sources",
                    "These refer to each other in a loop: " + " -> ".join(cycle) + ". Break the "
                    "loop so that each value can be computed from the ones before it.",
                    first.range,
                )
            )
            return
        values = template_scope_values(template)
        failed: set[str] = set()
        for key in order:
            if any(d in failed for d in deps[key]):
                failed.add(key)
                continue
            item = nodes[key]
            scope = Scope(values=values, base_dir=template.root)
            if isinstance(item, Local):
                try:
                    item.value = item.expr.evaluate(scope)
                except EvalError as exc:
                    self.diags.extend(exc.diagnostics)
                    failed.add(key)
                    continue
                values["local"][item.name] = item.value
                if item.sensitive:
                    from kiln.ui.redact import register_secret

                    for text in _string_leaves(item.value):
                        register_secret(text)
            else:
                item.value = self._datasource_value(item, scope)
                if item.value is NO_VALUE:
                    failed.add(key)
                    continue
                values["data"].setdefault(item.type, {})[item.name] = item.value

    def _datasource_value(self, ds: Datasource, scope: Scope) -> Any:
        config, diags = evaluate_body(ds.body, scope)
        if diags:
            self.diags.extend(diags)
            return NO_VALUE
        if self.opts.execute_datasource is None:
            return UNKNOWN
        return self.opts.execute_datasource(ds, config)

    # -- sources and builds ---------------------------------------------------

    def _source_blocks(self, template: Template, blocks: list[Block]) -> None:
        for block in blocks:
            key = (block.labels[0], block.labels[1])
            if key in template.sources:
                self.diags.add(
                    error(
                        "Duplicate source block",
                        f'This source "{key[0]}.{key[1]}" block has the same name as the one '
                        f"at {template.sources[key].range}. Give each source a unique name.",
                        block.range,
                    )
                )
                continue
            template.sources[key] = Source(key[0], key[1], block.body, block.range)

    def _hcp_registry(self, template: Template, block: Block) -> None:
        template.hcp_packer_registry = True
        self.diags.add(
            warning(
                "hcp_packer_registry does nothing in kiln",
                "kiln does not publish build metadata to HCP Packer; the block is read and "
                "otherwise ignored.",
                block.range,
            )
        )

    def _build_blocks(self, template: Template, blocks: list[Block]) -> None:
        for block in blocks:
            content = block.body.content(BUILD_SCHEMA)
            self.diags.extend(content.diagnostics)
            build = Build(range=block.range)
            for attr_name in ("name", "description"):
                attr = content.attributes.get(attr_name)
                if attr is not None:
                    value = self._static_value(attr.expr)
                    if isinstance(value, str):
                        setattr(build, attr_name, value)
                    elif value is not NO_VALUE:
                        self.diags.add(
                            error(
                                f"Invalid build {attr_name}",
                                "A string is required.",
                                attr.expr.range,
                            )
                        )
            if "sources" in content.attributes:
                self._build_sources(template, build, content.attributes["sources"])
            for sblock in content.blocks_of("source"):
                self._build_source_block(template, build, sblock)
            if not build.sources:
                self.diags.add(
                    error(
                        "Missing source reference",
                        'A build block needs at least one source: sources = ["source.TYPE.NAME"]'
                        ' or a source "TYPE.NAME" { } block.',
                        block.range,
                    )
                )
            for item in content.blocks:
                if item.type == "provisioner":
                    prov = self._provisioner(item)
                    if prov is not None:
                        build.provisioners.append(prov)
                elif item.type == "error-cleanup-provisioner":
                    prov = self._provisioner(item)
                    if build.error_cleanup_provisioner is not None:
                        self.diags.add(
                            error(
                                "Only one error-cleanup-provisioner is allowed",
                                "This build already has one at "
                                f"{build.error_cleanup_provisioner.range}; keep a single "
                                "error-cleanup-provisioner block.",
                                item.range,
                            )
                        )
                    elif prov is not None:
                        build.error_cleanup_provisioner = prov
                elif item.type == "post-processor":
                    pp = self._post_processor(item)
                    if pp is not None:
                        build.post_processors.append([pp])
                elif item.type == "post-processors":
                    chain_content = item.body.content(POST_PROCESSORS_SCHEMA)
                    self.diags.extend(chain_content.diagnostics)
                    chain = [
                        pp
                        for pp in (self._post_processor(b) for b in chain_content.blocks)
                        if pp is not None
                    ]
                    if chain:
                        build.post_processors.append(chain)
                elif item.type == "hcp_packer_registry":
                    self._hcp_registry(template, item)
            template.builds.append(build)

    def _source_ref(self, template: Template, text: str, at: Range) -> tuple[str, str] | None:
        parts = text.split(".")
        if len(parts) == 3 and parts[0] == "source":
            parts = parts[1:]
        if len(parts) != 2 or not all(parts):
            self.diags.add(
                error(
                    "Invalid source reference",
                    f'"{text}" is not a source reference: write source.TYPE.NAME, as in '
                    '"source.null.example".',
                    at,
                )
            )
            return None
        key = (parts[0], parts[1])
        if key not in template.sources:
            known = ", ".join(f"{t}.{n}" for t, n in template.sources) or "none"
            match = _close_source(f"{parts[0]}.{parts[1]}", template)
            self.diags.add(
                error(
                    f"Unknown source {parts[0]}.{parts[1]}",
                    f"No source block defines it.{match} Known: [{known}]",
                    at,
                )
            )
            return None
        return key

    def _build_sources(self, template: Template, build: Build, attr: Attribute) -> None:
        refs = _reference_list(attr.expr)
        if refs is None:
            self.diags.add(
                error(
                    "Invalid sources",
                    'A list of source references is required, like ["source.null.example"].',
                    attr.expr.range,
                )
            )
            return
        for text, at in refs:
            key = self._source_ref(template, text, at)
            if key is not None:
                build.sources.append(BuildSource(key[0], key[1], at))

    def _build_source_block(self, template: Template, build: Build, block: Block) -> None:
        key = self._source_ref(
            template, block.labels[0], block.label_ranges[0] if block.label_ranges else block.range
        )
        if key is None:
            return
        attrs, _ = block.body.all_items()
        alias = None
        if "name" in attrs:
            value = self._static_value(attrs["name"].expr)
            if isinstance(value, str):
                alias = value
        build.sources.append(BuildSource(key[0], key[1], block.range, alias, block.body))

    def _meta_attributes(self, block: Block, meta: tuple[str, ...]) -> dict[str, Attribute]:
        """The meta-arguments among a component block's attributes."""
        attrs, _ = block.body.all_items()
        return {name: attrs[name] for name in meta if name in attrs}

    def _provisioner(self, block: Block) -> Provisioner | None:
        prov = Provisioner(block.labels[0], block.body, block.range)
        attrs = self._meta_attributes(block, PROVISIONER_META)
        self._name_only_except(prov, attrs)
        for name in ("pause_before", "timeout", "max_retries", "override"):
            if name in attrs:
                self.deferred.append((prov, name, attrs[name]))
        return prov

    def _post_processor(self, block: Block) -> PostProcessor | None:
        pp = PostProcessor(block.labels[0], block.body, block.range)
        attrs = self._meta_attributes(block, POST_PROCESSOR_META)
        self._name_only_except(pp, attrs)
        if "keep_input_artifact" in attrs:
            self.deferred.append((pp, "keep_input_artifact", attrs["keep_input_artifact"]))
        return pp

    def _name_only_except(self, item: ComponentBlock, attrs: dict[str, Attribute]) -> None:
        if "name" in attrs:
            value = self._static_value(attrs["name"].expr)
            if isinstance(value, str):
                item.name = value
        for key, target in (("only", "only"), ("except", "except_")):
            if key not in attrs:
                continue
            refs = _string_list(attrs[key].expr)
            if refs is None:
                self.diags.add(
                    error(
                        f"Invalid {key}",
                        f'"{key}" must be a list of source names, like ["amazon-ebs.example"].',
                        attrs[key].expr.range,
                    )
                )
                continue
            setattr(item, target, refs)
        if "only" in attrs and "except" in attrs:
            self.diags.add(
                error(
                    "Only one of only or except",
                    '"only" and "except" cannot both be set on one block; keep one of them.',
                    attrs["except"].name_range,
                )
            )

    def _build_meta(self, template: Template) -> None:
        """Evaluate the meta-arguments that may use variables, now that they are known."""
        scope = Scope(values=template_scope_values(template), base_dir=template.root)
        for item, name, attr in self.deferred:
            try:
                value = attr.expr.evaluate(scope)
            except EvalError as exc:
                self.diags.extend(exc.diagnostics)
                continue
            if value is UNKNOWN:
                continue
            if name in ("pause_before", "timeout"):
                if not isinstance(value, str):
                    self.diags.add(
                        error(
                            f"Invalid {name}",
                            f'"{name}" must be a duration string such as "10s" or "1m30s".',
                            attr.expr.range,
                        )
                    )
                    continue
                try:
                    setattr(item, name, parse_duration(value))
                except ValueError as exc:
                    self.diags.add(
                        error(
                            f"Invalid {name}",
                            f'{exc}: use a duration such as "10s" or "1m30s".',
                            attr.expr.range,
                        )
                    )
            elif name == "max_retries":
                if isinstance(value, str) and value.isdigit():
                    value = int(value)
                if not is_number(value) or int(value) != value or value < 0:
                    self.diags.add(
                        error(
                            "Invalid max_retries",
                            '"max_retries" must be a whole number.',
                            attr.expr.range,
                        )
                    )
                    continue
                item.max_retries = int(value)
            elif name == "keep_input_artifact":
                if not isinstance(value, bool):
                    self.diags.add(
                        error(
                            "Invalid keep_input_artifact",
                            "true or false is required.",
                            attr.expr.range,
                        )
                    )
                    continue
                item.keep_input_artifact = value
            elif name == "override":
                if not isinstance(value, dict) or not all(
                    isinstance(v, dict) for v in value.values()
                ):
                    self.diags.add(
                        error(
                            "Invalid override",
                            '"override" maps a source name to an object of settings.',
                            attr.expr.range,
                        )
                    )
                    continue
                item.override = value


def template_scope_values(template: Template) -> dict[str, Any]:
    """The root names every expression of a template sees (besides source and build)."""
    return {
        "var": {n: v.value for n, v in template.variables.items() if v.value is not NO_VALUE},
        "local": {n: lc.value for n, lc in template.locals.items() if lc.value is not NO_VALUE},
        "data": _data_values(template),
        "path": {"root": template.root, "cwd": os.getcwd()},
        "packer": {"version": PACKER_COMPAT_VERSION},
    }


def _data_values(template: Template) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for ds in template.datasources.values():
        if ds.value is not NO_VALUE:
            out.setdefault(ds.type, {})[ds.name] = ds.value
    return out


def build_scope(
    template: Template,
    source_type: str,
    source_name: str,
    build_name: str = "",
    generated: dict[str, Any] | None = None,
    declared: tuple[str, ...] = (),
) -> Scope:
    """The scope of a component inside a build: ``source.*`` and ``build.*`` included.

    Before the build runs, ``generated`` is None and the build's generated values are
    unknown: the common ones, and the ones the build's components declare (``declared``:
    docker's ``ImageSha256``, docker-push's ``Digest``...).
    """
    build_values: dict[str, Any] = {key: UNKNOWN for key in (*BUILD_GENERATED, *declared)}
    build_values["name"] = build_name
    if generated is not None:
        build_values.update(generated)
    values = template_scope_values(template)
    values["source"] = {"type": source_type, "name": source_name}
    values["build"] = build_values
    return Scope(values=values, base_dir=template.root)


def evaluate_body(
    body: Body, scope: Scope, skip: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Evaluate every attribute of a body with an open schema; nested blocks become lists
    of objects under their type name (``launch_block_device_mappings { }``...)."""
    attrs, blocks = body.all_items()
    out: dict[str, Any] = {}
    diags: list[Diagnostic] = []
    for name, attr in attrs.items():
        if name in skip:
            continue
        try:
            out[name] = attr.expr.evaluate(scope)
        except EvalError as exc:
            diags.extend(exc.diagnostics)
    for block in blocks:
        if block.type == "dynamic":
            generated, inner = expand_dynamic(block, scope)
            diags.extend(inner)
            if generated:
                out.setdefault(block.labels[0], []).extend(generated)
            continue
        value, inner = evaluate_body(block.body, scope)
        diags.extend(inner)
        out.setdefault(block.type, []).append(value)
    return out, diags


DYNAMIC_SCHEMA = Schema(
    attributes=("for_each", "iterator", "labels"),
    required=("for_each",),
    blocks={"content": BlockSpec()},
)


def expand_dynamic(block: Block, scope: Scope) -> tuple[list[Any], list[Diagnostic]]:
    """A ``dynamic "NAME"`` block: one NAME block per element of ``for_each``."""
    if len(block.labels) != 1:
        return [], [
            error(
                "Invalid dynamic block",
                "A dynamic block takes one label: the type "
                'of the blocks it generates, as in dynamic "tag" { ... }.',
                block.range,
            )
        ]
    content = block.body.content(DYNAMIC_SCHEMA)
    diags = list(content.diagnostics)
    bodies = content.blocks_of("content")
    if len(bodies) != 1:
        diags.append(
            error(
                "Invalid dynamic block",
                "A dynamic block needs exactly one content block.",
                block.range,
            )
        )
    if diags:
        return [], diags
    iterator = block.labels[0]
    if "iterator" in content.attributes:
        names = content.attributes["iterator"].expr.static_traversal()
        if names is None or len(names) != 1:
            return [], [
                error(
                    "Invalid dynamic iterator name",
                    "The iterator must be a single name.",
                    content.attributes["iterator"].expr.range,
                )
            ]
        iterator = names[0]
    for_each = content.attributes["for_each"]
    try:
        collection = for_each.expr.evaluate(scope)
    except EvalError as exc:
        return [], exc.diagnostics
    if collection is UNKNOWN:
        return [UNKNOWN], []
    if isinstance(collection, dict):
        items = [(k, collection[k]) for k in sorted(collection)]
    elif isinstance(collection, HclSet):
        items = [(v, v) for v in collection]
    elif isinstance(collection, list):
        items = list(enumerate(collection))
    else:
        return [], [
            error(
                "Invalid dynamic for_each value",
                "Cannot use a value of this type "
                "in for_each: a list, set, map or object is required.",
                for_each.expr.range,
            )
        ]
    out = []
    for key, value in items:
        inner_scope = scope.with_values(**{iterator: {"key": key, "value": value}})
        generated, inner = evaluate_body(bodies[0].body, inner_scope)
        diags.extend(inner)
        out.append(generated)
    return out, diags


def _local_refs(item: Local | Datasource) -> list[str]:
    exprs: list[Expression]
    exprs = [item.expr] if isinstance(item, Local) else _body_expressions(item.body)
    out = []
    for expr in exprs:
        for ref in expr.references():
            if ref.names[0] == "local" and len(ref.names) >= 2:
                out.append(f"local.{ref.names[1]}")
            elif ref.names[0] == "data" and len(ref.names) >= 3:
                out.append(f"data.{ref.names[1]}.{ref.names[2]}")
    return out


def _body_expressions(body: Body) -> list[Expression]:
    attrs, blocks = body.all_items()
    exprs = [a.expr for a in attrs.values()]
    for block in blocks:
        exprs.extend(_body_expressions(block.body))
    return exprs


def _toposort(deps: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """Order keys so dependencies come first; or return a cycle (first == last).

    Iterative, so a long chain of locals cannot exhaust Python's stack.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in deps:
        if root in state:
            continue
        path: list[str] = [root]
        pending: list[list[str]] = [list(deps.get(root, []))]
        state[root] = 1
        while path:
            if not pending[-1]:
                done = path.pop()
                pending.pop()
                state[done] = 2
                order.append(done)
                continue
            dep = pending[-1].pop(0)
            if state.get(dep) == 1:
                return order, [*path[path.index(dep) :], dep]
            if dep not in state:
                state[dep] = 1
                path.append(dep)
                pending.append(list(deps.get(dep, [])))
    return order, []


def _type_node(expr: Expression) -> Any:
    getter = getattr(expr, "type_expression_node", None)
    if callable(getter):
        return getter()
    return expr.node  # type: ignore[attr-defined]


def _reference_list(expr: Expression) -> list[tuple[str, Range]] | None:
    """``sources = [source.a.b, "source.c.d"]``: each item as text with its range."""
    elements = getattr(expr, "elements", None)
    items: list[Expression] | None = elements() if callable(elements) else _tuple_items(expr)
    if items is None:
        return None
    out = []
    for item in items:
        traversal = item.static_traversal()
        if traversal is not None and len(traversal) > 1:
            out.append((".".join(traversal), item.range))
            continue
        try:
            value = item.evaluate(Scope())
        except EvalError:
            return None
        if not isinstance(value, str):
            return None
        out.append((value, item.range))
    return out


def _tuple_items(expr: Expression) -> list[Expression] | None:
    node = getattr(expr, "node", None)
    if node is None:
        return None
    while node.kind == "expr_term" and len(node.children()) == 1:
        node = node.children()[0]
    if node.kind != "tuple":
        return None
    return [NativeExpression(c) for c in node.children() if isinstance(c.tree, Tree)]


def _string_list(expr: Expression) -> list[str] | None:
    refs = _reference_list(expr)
    return None if refs is None else [text for text, _ in refs]


def _close_source(name: str, template: Template) -> str:
    return did_you_mean(name, [f"{t}.{n}" for t, n in template.sources])


def _valid_identifier(name: str) -> bool:
    return (
        bool(name)
        and (name[0].isalpha() or name[0] == "_")
        and all(c.isalnum() or c in "_-" for c in name)
    )


def _valid_error_message(text: str) -> bool:
    text = text.strip()
    return bool(text) and text[0].isupper() and text[-1] in ".?!"


def _retitle(diag: Diagnostic, summary: str) -> Diagnostic:
    return Diagnostic(diag.severity, summary, f"{diag.summary}: {diag.detail}", diag.subject)


def _string_leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None or value is UNKNOWN:
        return []
    if is_number(value):
        return [format_number(value)]
    if isinstance(value, (list, HclSet)):
        return [s for v in value for s in _string_leaves(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _string_leaves(v)]
    return []
