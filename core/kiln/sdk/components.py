"""The component interfaces: builders, provisioners, post-processors, data sources.

A component class names its configuration class; kiln decodes the template block into
it, checks it, and hands it to ``prepare``. A whole provisioner::

    class SayConfig(Config):
        text: str = option(required=True, doc="What to say.")

    class Say(Provisioner):
        config_class = SayConfig
        config: SayConfig

        def provision(self, ui, comm, generated_data):
            ui.say(self.config.text)

    @hookimpl
    def kiln_provisioners():
        yield ProvisionerSpec("say", Say, "Says something.")

and, in the distribution's ``pyproject.toml``::

    [project.entry-points.kiln]
    say = "kiln_plugin_say"
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

from kiln.sdk.communicator import Communicator, ConnectionInfo
from kiln.sdk.config import Config
from kiln.sdk.context import BuildError, Context
from kiln.sdk.multistep import Action, StateBag, Step
from kiln.sdk.ui import Ui

#: hook names the engine answers (Packer's packer_provision / packer_cleanup_provision)
HOOK_PROVISION = "provision"
HOOK_CLEANUP_PROVISION = "cleanup_provision"


class Component:
    """What every component has: a context, a configuration class, ``prepare``."""

    config_class: ClassVar[type[Config]] = Config
    config: Any

    def __init__(self, ctx: Context | None = None) -> None:
        self.ctx = ctx or Context()
        self.config = None

    def prepare(self, config: Config) -> list[str]:
        """Check the decoded configuration beyond what its types say; return warnings,
        raise :class:`~kiln.sdk.config.ConfigError` for a problem. kiln has already
        set ``self.config`` to ``config``."""
        return []

    def configure(self, config: Config) -> list[str]:
        """What kiln calls: keep ``config``, then ``prepare`` it."""
        self.config = config
        return self.prepare(config)


class Artifact:
    """What a build produced: an image id, files, or both.

    ``state`` carries builder-specific data (``docker_tags``, per-region AMIs...)
    that post-processors read.
    """

    def __init__(
        self,
        builder_id: str,
        id: str = "",
        files: Iterable[str] = (),
        state: dict[str, Any] | None = None,
        description: str = "",
    ) -> None:
        self.builder_id = builder_id
        self.id = id
        self.files = list(files)
        self.state = dict(state or {})
        self.description = description

    def string(self) -> str:
        """The line kiln prints for the artifact at the end of a build."""
        if self.description:
            return self.description
        if self.files:
            return "Stored file(s): " + ", ".join(self.files)
        return self.id or "(no artifact)"

    def __str__(self) -> str:
        return self.string()

    def destroy(self) -> None:
        """Remove what the artifact holds (an intermediate artifact no one keeps)."""
        for path in self.files:
            if os.path.isfile(path):
                os.remove(path)


class Hook(ABC):
    """Runs the build's provisioners when a builder asks (see :class:`StepProvision`)."""

    @abstractmethod
    def run(self, name: str, ui: Ui, comm: Communicator | None, data: dict[str, Any]) -> None: ...


class Builder(Component, ABC):
    #: names of builder-specific values it adds to ``build.*`` (``build.ImageSha256``...):
    #: to the state's ``generated_data`` for provisioners, and to its artifact's
    #: ``state["generated_data"]`` for post-processors
    generated: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def run(self, ui: Ui, hook: Hook) -> Artifact | None:
        """Build: usually ``run_steps`` over a list of steps including
        :class:`StepProvision`. Raise :class:`~kiln.sdk.context.BuildError` on failure."""


class Provisioner(Component, ABC):
    @abstractmethod
    def provision(self, ui: Ui, comm: Communicator | None, generated_data: dict[str, Any]) -> None:
        """Change the machine through ``comm``; ``generated_data`` holds ``build.*``."""


def require_communicator(comm: Communicator | None, kind: str) -> Communicator:
    """``comm``, or a clear error for a build that has no machine to talk to: the
    first line of a provisioner's ``provision`` that needs one."""
    if comm is None:
        raise BuildError(
            f'The "{kind}" provisioner needs a communicator, and this build has none '
            '(communicator = "none", or a builder such as "file" that makes no machine). '
            "Set a communicator in the source, or remove the provisioner from this build."
        )
    return comm


class PostProcessor(Component, ABC):
    #: names of values it records in its artifact's ``state["generated_data"]``, which
    #: the later post-processors of its chain see as ``build.*`` (docker-push's ``Digest``)
    generated: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        """Return (new artifact, keep the input artifact, force that choice over the
        user's ``keep_input_artifact``)."""


class Datasource(Component, ABC):
    @abstractmethod
    def execute(self) -> dict[str, Any]:
        """Fetch the data; the result is what ``data.TYPE.NAME`` holds in the template."""


class StepProvision(Step):
    """Runs the build's provisioners through the hook over ``state["communicator"]``.

    Its cleanup runs the ``error-cleanup-provisioner`` when the build failed.
    """

    cleanup_on_abort = True

    def run(self, state: StateBag) -> Action:
        state["hook"].run(HOOK_PROVISION, state["ui"], state.get("communicator"), build_data(state))
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        if "error" in state:
            state["hook"].run(
                HOOK_CLEANUP_PROVISION, state["ui"], state.get("communicator"), build_data(state)
            )


def build_data(state: StateBag) -> dict[str, Any]:
    """The ``build.*`` values a running build knows: connection and builder data."""
    comm: Communicator | None = state.get("communicator")
    info = comm.info if comm is not None else ConnectionInfo()  # no connection: blanks
    data: dict[str, Any] = {
        "ID": str(state.get("instance_id", "")),
        "ConnType": comm.type if comm is not None else "",
        "Host": info.host,
        "Port": info.port,
        "User": info.user,
        "Password": info.password,
        "SSHPublicKey": info.ssh_public_key,
        "SSHPrivateKey": info.ssh_private_key,
    }
    data.update(state.get("generated_data", {}))
    return data
