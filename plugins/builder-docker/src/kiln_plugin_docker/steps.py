"""The docker builder's steps, in the order they run. Each cleanup undoes what its step
made, whether the build succeeded, failed or was cancelled."""

from __future__ import annotations

import json
import os
import shlex
import uuid
from typing import TYPE_CHECKING, Any

from kiln.sdk import (
    Action,
    BuildError,
    Context,
    Entry,
    StateBag,
    Step,
    StepConnect,
    TempFolder,
    interpolate,
)
from kiln_plugin_docker.communicator import DockerCommunicator
from kiln_plugin_docker.driver import DockerError, Driver
from kiln_plugin_docker.reaper import REAPER

if TYPE_CHECKING:
    from kiln_plugin_docker.builder import DockerConfig


class StepTempDir(Step):
    """A private folder on this host, mounted in the container at ``container_dir``
    (in the run's cleanup journal: ``kiln reap`` removes a killed build's)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.folder: TempFolder | None = None

    def run(self, state: StateBag) -> Action:
        try:
            self.folder = TempFolder(self.ctx, "kiln-docker-")
        except OSError as exc:
            raise BuildError(
                f"Cannot make the build's temporary folder in "
                f"{os.path.dirname(exc.filename or '')}: {exc.strerror}. Set "
                "KILN_TMP_DIR to a folder kiln can write to."
            ) from None
        state["temp_dir"] = self.folder.path
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        if self.folder is not None:
            self.folder.remove()


class StepPull(Step):
    """Pull the image (after logging in, when asked), then read its configuration."""

    def __init__(self, config: DockerConfig, driver: Driver) -> None:
        self.config, self.driver = config, driver

    def run(self, state: StateBag) -> Action:
        config, ui = self.config, state["ui"]
        if config.pull:
            ui.say(f"Pulling Docker image: {config.image}")
            try:
                if config.login:
                    ui.message(f"Logging in to {config.login_server or 'Docker Hub'}...")
                    self.driver.login(
                        config.login_server, config.login_username, config.login_password
                    )
                self.driver.pull(ui, config.image, config.platform)
            finally:
                self.driver.logout()
        image = self.driver.inspect_image(config.image)
        if image is None:
            raise BuildError(
                f"The engine has no image {config.image}: pull it first, or set pull = true."
            )
        state["image"] = image
        generated = state["generated_data"]
        generated["SourceImageSha256"] = image.get("Id", "")
        digests = image.get("RepoDigests") or []
        generated["SourceImageDigest"] = digests[0] if digests else ""
        return Action.CONTINUE


def default_run_command(config: DockerConfig, image: dict[str, Any]) -> list[str]:
    """``docker run`` arguments that keep the container alive on ``entrypoint`` and let
    a commit restore the image's own CMD and ENTRYPOINT."""
    if (image.get("Config") or {}).get("Entrypoint"):
        return ["-d", "-i", "-t", f"--entrypoint={config.entrypoint}", "--", "{{.Image}}"]
    return ["-d", "-i", "-t", "--entrypoint=", "--", "{{.Image}}", config.entrypoint]


class StepRun(Step):
    """Start the build container. It is removed, with its anonymous volumes, on every
    path. It gets a name (``kiln-`` and the run's id), so that it is found even when
    ``docker run`` failed before it said the container's id; labels would do as well,
    but a commit would copy them into the image. The name is in the run's cleanup
    journal before ``docker run`` starts, and the id once it is known."""

    def __init__(self, config: DockerConfig, driver: Driver, ctx: Context) -> None:
        self.config, self.driver, self.ctx = config, driver, ctx
        run = (ctx.run_uuid or "").split("-")[0] or "run"
        self.container_name = (
            _given_name(config.run_command) or f"kiln-{run}-{uuid.uuid4().hex[:12]}"
        )
        self.entry: Entry | None = None

    def arguments(self, state: StateBag) -> list[str]:
        config = self.config
        args = ["run", "--name", self.container_name]
        args += ["--volume", f"{state['temp_dir']}:{config.container_dir}"]
        for host, guest in config.volumes.items():
            args += ["--volume", f"{os.path.expanduser(host)}:{guest}"]
        for flag, values in (
            ("--device", config.device),
            ("--cap-add", config.cap_add),
            ("--cap-drop", config.cap_drop),
            ("--tmpfs", config.tmpfs),
        ):
            for value in values:
                args += [flag, value]
        if config.privileged:
            args.append("--privileged")
        if config.runtime:
            args += ["--runtime", config.runtime]
        if config.platform:
            args += ["--platform", config.platform]
        command = config.run_command
        if command is None:
            command = default_run_command(config, state["image"])
        image = {"Image": config.image}
        return args + [interpolate(part, image, option="run_command") for part in command]

    def run(self, state: StateBag) -> Action:
        ui = state["ui"]
        args = self.arguments(state)
        ui.say("Starting docker container...")
        ui.message("Run command: " + shlex.join(["docker", *args]))
        where = self.driver.where()
        self.entry = self.ctx.record(REAPER, "container", name=self.container_name, **where)
        # not cancellable: stopping the CLI part-way could leave a container that
        # appears after cleanup looked for it; the image is local, so this is quick
        try:
            out = self.driver.run(*args, ctx=Context())
        except DockerError as exc:
            if "is already in use" in str(exc):
                # another container has this name (a run_command's --name): not ours
                self.entry.gone()
                self.entry = None
            raise
        container = out.splitlines()[-1].strip() if out else ""
        if not container:
            raise BuildError("docker run did not say which container it started.")
        self.entry.update(id=container)
        state["container_id"] = container
        state["instance_id"] = container
        ui.message(f"Container ID: {container}")
        self.ctx.check()
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        if self.entry is None:
            return
        container = state.get("container_id") or self.container_name
        state["ui"].say(f"Killing the container: {container}")
        try:
            # a container that is not there: docker run failed before it made one
            self.driver.remove_container(container, ctx=Context())
        except DockerError as exc:
            raise BuildError(
                f"{exc}\nThe build container {self.container_name} may still exist: kiln reap "
                f"removes it (or docker rm -f {self.container_name})."
            ) from None
        self.entry.gone()


def _given_name(run_command: list[str] | None) -> str:
    """The container name a ``run_command`` sets with ``--name`` (the last one wins)."""
    name = ""
    args = iter(run_command or [])
    for arg in args:
        if arg == "--":
            break
        if arg == "--name":
            name = next(args, "")
        elif arg.startswith("--name="):
            name = arg.removeprefix("--name=")
    return name


class StepConnectDocker(Step):
    """Connect to the container: through docker exec/cp, over SSH to its address, or
    not at all (``communicator = "none"``)."""

    def __init__(self, config: DockerConfig, driver: Driver, ctx: Context) -> None:
        self.config, self.driver = config, driver
        self.ssh = StepConnect(config, self._address, ctx=ctx)

    def run(self, state: StateBag) -> Action:
        config = self.config
        if config.communicator != "docker":
            return self.ssh.run(state)
        container = state["container_id"]
        owner = ""
        if config.fix_upload_owner:
            owner = config.exec_user or self._container_user(state)
        state["communicator"] = DockerCommunicator(
            self.driver,
            container,
            user=config.exec_user,
            owner=owner,
            env=config.env,
            ui=state["ui"],
        )
        return Action.CONTINUE

    def _container_user(self, state: StateBag) -> str:
        """The user the container runs as: the image's, unless a run_command chose."""
        if self.config.run_command is None:
            return str((state["image"].get("Config") or {}).get("User") or "")
        return self.driver.run(
            "container", "inspect", "--format", "{{.Config.User}}", state["container_id"]
        )

    def _address(self, state: StateBag) -> str:
        address = self.driver.run(
            "container",
            "inspect",
            "--format",
            "{{.NetworkSettings.IPAddress}}",
            state["container_id"],
        )
        if not address:
            raise BuildError(
                "The container has no IP address to connect to over SSH (is it on a "
                'network?); use communicator = "docker".'
            )
        return address

    def cleanup(self, state: StateBag) -> None:
        self.ssh.cleanup(state)


class StepCommit(Step):
    """Commit the container to an image, with the base image's CMD and ENTRYPOINT
    unless ``changes`` sets them. The image is removed again if the build fails or is
    cancelled after this step. It is in the run's cleanup journal from before the
    commit (found by the container it comes from until its id is known); the builder
    keeps it when it hands the image over (``state["image_entry"]``)."""

    def __init__(self, config: DockerConfig, driver: Driver, ctx: Context) -> None:
        self.config, self.driver, self.ctx = config, driver, ctx
        self.image_id = ""
        self.entry: Entry | None = None

    def changes(self, image: dict[str, Any]) -> list[str]:
        given = {c.split(None, 1)[0].upper() for c in self.config.changes if c.strip()}
        base = image.get("Config") or {}
        defaults = [
            f"{name} {json.dumps(base.get(key))}"
            for name, key in (("ENTRYPOINT", "Entrypoint"), ("CMD", "Cmd"))
            if name not in given and base.get(key)
        ]
        return defaults + list(self.config.changes)

    def run(self, state: StateBag) -> Action:
        config, ui = self.config, state["ui"]
        args = ["commit"]
        if config.author:
            args += ["--author", config.author]
        for change in self.changes(state["image"]):
            args += ["--change", change]
        if config.message:
            args += ["--message", config.message]
        ui.say("Committing the container")
        container = state["container_id"]
        self.entry = self.ctx.record(REAPER, "image", container=container, **self.driver.where())
        state["image_entry"] = self.entry
        # not cancellable: an interrupted commit could still make an image no one removes
        self.image_id = self.driver.run(*args, container, ctx=Context())
        self.entry.update(id=self.image_id)
        state["image_id"] = self.image_id
        state["generated_data"]["ImageSha256"] = self.image_id
        ui.message(f"Image ID: {self.image_id}")
        self.ctx.check()
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        if self.entry is None or not ("error" in state or state.get("cancelled")):
            return
        # without an id the commit failed, though the engine may have made the image
        images = [self.image_id] if self.image_id else []
        images = images or self.driver.committed_from(state["container_id"], ctx=Context())
        for image in images:
            state["ui"].say(f"Removing the image: {image}")
            self.driver.remove_image(image, ctx=Context())
        self.entry.gone()


class StepExport(Step):
    """Export the container's file system to ``export_path``; the file appears whole
    or not at all."""

    def __init__(self, config: DockerConfig, driver: Driver) -> None:
        self.config, self.driver = config, driver

    def run(self, state: StateBag) -> Action:
        path = self.config.export_path
        state["ui"].say(f"Exporting the container to {path}")
        self.driver.save_output(path, "export", state["container_id"])
        return Action.CONTINUE
