"""kiln's plugin SDK: everything a plugin imports, and nothing else of kiln is public.

See ``docs/plugin-authoring.md`` for a walk-through; :mod:`kiln.sdk.components` shows
a whole minimal plugin.
"""

from kiln.files import PART_SUFFIX, atomic_file, write_atomically
from kiln.plugins.hookspec import hookimpl
from kiln.plugins.types import (
    BuilderSpec,
    DatasourceSpec,
    PostProcessorSpec,
    ProvisionerSpec,
    ReaperSpec,
)
from kiln.sdk.cache import cache_folder
from kiln.sdk.commconfig import CommunicatorConfig
from kiln.sdk.communicator import (
    DISCONNECTED,
    Communicator,
    CommunicatorError,
    ConnectionInfo,
    LineWriter,
    RemoteCmd,
    TransferMeter,
    run_with_ui,
    stream_size,
)
from kiln.sdk.components import (
    HOOK_CLEANUP_PROVISION,
    HOOK_PROVISION,
    Artifact,
    Builder,
    Component,
    Datasource,
    Hook,
    PostProcessor,
    Provisioner,
    StepProvision,
    build_data,
    require_communicator,
)
from kiln.sdk.config import Config, ConfigError, Duration, format_duration, option
from kiln.sdk.context import BuildError, Cancelled, Context
from kiln.sdk.journal import Entry, Leftover, Reaper, TempFolder, journaled_file
from kiln.sdk.multistep import Action, StateBag, Step, run_steps
from kiln.sdk.placeholders import interpolate, render_functions
from kiln.sdk.process import run_process, run_process_with_ui
from kiln.sdk.steps import (
    StepCleanupTempKeys,
    StepConnect,
    StepTemporaryKeyPair,
    generate_key_pair,
)
from kiln.sdk.ui import Progress, Ui
from kiln.ui.redact import redact_text

__all__ = [
    "DISCONNECTED",
    "HOOK_CLEANUP_PROVISION",
    "HOOK_PROVISION",
    "PART_SUFFIX",
    "Action",
    "Artifact",
    "BuildError",
    "Builder",
    "BuilderSpec",
    "Cancelled",
    "Communicator",
    "CommunicatorConfig",
    "CommunicatorError",
    "Component",
    "Config",
    "ConfigError",
    "ConnectionInfo",
    "Context",
    "Datasource",
    "DatasourceSpec",
    "Duration",
    "Entry",
    "Hook",
    "Leftover",
    "LineWriter",
    "PostProcessor",
    "PostProcessorSpec",
    "Progress",
    "Provisioner",
    "ProvisionerSpec",
    "Reaper",
    "ReaperSpec",
    "RemoteCmd",
    "StateBag",
    "Step",
    "StepCleanupTempKeys",
    "StepConnect",
    "StepProvision",
    "StepTemporaryKeyPair",
    "TempFolder",
    "TransferMeter",
    "Ui",
    "atomic_file",
    "build_data",
    "cache_folder",
    "format_duration",
    "generate_key_pair",
    "hookimpl",
    "interpolate",
    "journaled_file",
    "option",
    "redact_text",
    "render_functions",
    "require_communicator",
    "run_process",
    "run_process_with_ui",
    "run_steps",
    "run_with_ui",
    "stream_size",
    "write_atomically",
]
