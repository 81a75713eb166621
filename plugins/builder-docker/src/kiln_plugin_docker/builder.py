"""The ``docker`` builder: start a container from an image, provision it, then commit
it to an image, export it to a tar file, or discard it."""

from __future__ import annotations

import os
import re
from typing import Any

from kiln.sdk import (
    Artifact,
    Builder,
    CommunicatorConfig,
    Config,
    ConfigError,
    Hook,
    StateBag,
    Step,
    StepCleanupTempKeys,
    StepProvision,
    Ui,
    interpolate,
    option,
    run_steps,
)

#: the instructions ``docker commit --change`` accepts
CHANGE_INSTRUCTIONS = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
)
#: the values ``run_command`` may name
RUN_PLACEHOLDERS = ("Image",)


def check_changes(changes: list[str]) -> None:
    """Refuse a change docker would refuse, before the build rather than after it."""
    for change in changes:
        instruction = change.split(None, 1)[0].upper() if change.strip() else ""
        if instruction not in CHANGE_INSTRUCTIONS:
            raise ConfigError(
                f"changes: {change!r} is not an instruction docker applies to an image; use "
                + ", ".join(CHANGE_INSTRUCTIONS)
                + ".",
                option="changes",
            )


class DockerPathConfig(Config):
    """The docker command, for the builder and every docker post-processor."""

    docker_path: str = option("docker", doc="The docker command.")


class LoginConfig(Config):
    """Registry login options, shared with the docker-push post-processor."""

    login: bool = option(
        False,
        doc="Log in to `login_server` before pulling. The login lives in a private docker "
        "configuration for this build only: your own `docker login`s are neither used "
        "nor changed, and nothing is left behind.",
    )
    login_server: str = option("", doc="The registry to log in to (empty: Docker Hub).")
    login_username: str = option("", doc="The user name for the login.")
    login_password: str = option(
        "",
        sensitive=True,
        doc="The password for the login. It is passed to `docker login --password-stdin`, "
        "never on a command line, and redacted from output.",
    )

    def check_login(self) -> None:
        if self.login and not (self.login_username and self.login_password):
            raise ConfigError(
                "login = true needs login_username and login_password.",
                option="login_username" if not self.login_username else "login_password",
            )


class DockerConfig(CommunicatorConfig, LoginConfig, DockerPathConfig):
    communicator: str = option(
        "docker",
        doc='How to reach the container: `"docker"` (`docker exec` and `docker cp`), '
        '`"ssh"` (to the container\'s IP address; the image must run sshd) or `"none"`.',
    )
    image: str = option(required=True, doc="The image to start from, e.g. `debian:bookworm`.")
    pull: bool = option(
        True,
        doc="Pull the image before starting. With `false` the engine must have it already.",
    )
    commit: bool = option(False, doc="Commit the container to an image when provisioned.")
    export_path: str = option(
        "",
        doc="Export the container's file system to this tar file when provisioned. Missing "
        "folders are created; the file appears only once it is complete.",
    )
    discard: bool = option(False, doc="Throw the container away when provisioned.")
    changes: list[str] = option(
        default_factory=list,
        doc="Dockerfile instructions applied on commit: "
        + ", ".join(CHANGE_INSTRUCTIONS)
        + ". The image keeps the base image's CMD and ENTRYPOINT unless these set them.",
    )
    author: str = option("", doc="The author recorded on commit.")
    message: str = option("", doc="The commit message.")
    run_command: list[str] | None = option(
        None,
        doc="The arguments after `docker run` (kiln adds the name, volumes and the "
        "options below before them). `{{.Image}}` is the image. Without it kiln runs "
        "`-d -i -t --entrypoint=/bin/sh -- {{.Image}}` for an image with an ENTRYPOINT and "
        "`-d -i -t --entrypoint= -- {{.Image}} /bin/sh` for one without, so that a commit "
        "keeps the image's CMD and ENTRYPOINT exactly (`docker commit --change` can set "
        "them, not clear them).",
    )
    entrypoint: str = option(
        "/bin/sh",
        doc="kiln only: the program the build container runs while it is provisioned, for "
        "images whose shell is elsewhere (`/busybox/sh`). It must keep running with a "
        "terminal on its input, as a shell does. Ignored with `run_command`.",
    )
    volumes: dict[str, str] = option(
        default_factory=dict,
        doc="Host folders to mount in the container, host path to container path "
        "(`~/` is your home folder).",
    )
    container_dir: str = option(
        "/packer-files",
        doc="Where the build's temporary folder on this host is mounted in the container.",
    )
    privileged: bool = option(False, doc="Run the container privileged.")
    cap_add: list[str] = option(default_factory=list, doc="Linux capabilities to add.")
    cap_drop: list[str] = option(default_factory=list, doc="Linux capabilities to drop.")
    tmpfs: list[str] = option(
        default_factory=list, doc="tmpfs mounts, as `docker run --tmpfs` takes them."
    )
    device: list[str] = option(
        default_factory=list, doc="Host devices to add, as `docker run --device` takes them."
    )
    runtime: str = option("", doc="The container runtime (`docker run --runtime`).")
    platform: str = option(
        "", doc="The platform to pull and run, e.g. `linux/arm64` (`--platform`)."
    )
    exec_user: str = option(
        "",
        doc="The user provisioners run as (`docker exec --user`); empty: the image's user.",
    )
    fix_upload_owner: bool = option(
        True,
        doc="Uploaded files belong to `exec_user`, else the image's user; without it they "
        "belong to root. Only what is uploaded changes owner (Packer's `chown -R` also "
        "changed the folder they went to).",
    )
    env: dict[str, str] = option(
        default_factory=dict,
        doc="kiln only: environment variables of every command provisioners run in the "
        "container. They are not saved in the image (use `changes` with `ENV` for that), "
        "and their values never appear on a command line.",
    )


class DockerBuilder(Builder):
    """Builds an image in a Docker container: commits it, exports it or discards it.

    The steps, each undone on every path (success, failure, Ctrl-C): a temporary folder
    (mounted at `container_dir`), the pull (with an optional registry login that lives
    only for this build), the container (named `kiln-` and the run's id, and removed
    with its anonymous volumes), the connection, the provisioners, then the commit,
    export or nothing. Each is written down in the run's cleanup journal before it is
    made, so that `kiln reap` removes what a killed build left.

    A committed image keeps the base image's CMD and ENTRYPOINT unless `changes` sets
    them. The docker communicator runs commands with `docker exec` and moves files as
    tar streams (`docker cp`), a folder as one stream.
    """

    config_class = DockerConfig
    config: DockerConfig
    generated = ("ImageSha256", "SourceImageSha256", "SourceImageDigest")

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, DockerConfig)
        warnings: list[str] = []
        config.validate_communicator(("docker", "ssh", "none"))
        config.check_login()
        if not config.image:
            raise ConfigError("image must be set: the image to start from.", option="image")
        chosen = [
            name
            for name, on in (
                ("commit", config.commit),
                ("discard", config.discard),
                ("export_path", bool(config.export_path)),
            )
            if on
        ]
        if not chosen:
            raise ConfigError(
                "Nothing is done with the container: set one of commit = true, "
                "discard = true or export_path.",
                option="commit",
            )
        if len(chosen) > 1:
            raise ConfigError(
                "Set only one of commit, discard and export_path "
                f"(this sets {' and '.join(chosen)}).",
                option=chosen[1],
            )
        if config.export_path and os.path.isdir(config.export_path):
            raise ConfigError(
                f"export_path {config.export_path} is a folder; name the tar file to write.",
                option="export_path",
            )
        check_changes(config.changes)
        if config.changes and not config.commit:
            warnings.append("changes are applied on commit only, and this build does not commit.")
        for part in config.run_command or []:
            interpolate(part, dict.fromkeys(RUN_PLACEHOLDERS, ""), option="run_command")
        if config.run_command is not None and config.is_set("entrypoint"):
            raise ConfigError(
                "entrypoint is used by the default run_command only; set one of them.",
                option="entrypoint",
            )
        if not config.container_dir.startswith("/"):
            raise ConfigError(
                f"container_dir must be an absolute path in the container, not "
                f"{config.container_dir!r}.",
                option="container_dir",
            )
        for name in config.env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ConfigError(f"env: {name!r} is not a variable name.", option="env")
        return warnings

    def run(self, ui: Ui, hook: Hook) -> Artifact | None:
        # the steps and the driver: imported when a build runs, never for validate
        from kiln_plugin_docker.artifact import ExportArtifact, ImageArtifact
        from kiln_plugin_docker.driver import Driver
        from kiln_plugin_docker.steps import (
            StepCommit,
            StepConnectDocker,
            StepExport,
            StepPull,
            StepRun,
            StepTempDir,
        )

        config = self.config
        driver = Driver(config.docker_path, self.ctx)
        state = StateBag(ui=ui, hook=hook, generated_data={})
        steps: list[Step] = [
            StepTempDir(self.ctx),
            StepPull(config, driver),
            StepRun(config, driver, self.ctx),
            StepConnectDocker(config, driver, self.ctx),
            StepProvision(),
        ]
        if config.communicator == "ssh":
            steps.append(StepCleanupTempKeys(config, ctx=self.ctx))
        if config.commit:
            steps.append(StepCommit(config, driver, self.ctx))
        elif config.export_path:
            steps.append(StepExport(config, driver))
        run_steps(self.ctx, steps, state, ui)
        generated: dict[str, Any] = dict(state["generated_data"])
        if config.commit:
            state["image_entry"].keep()  # handed over: no longer kiln reap's
            return ImageArtifact(driver, state["image_id"], state={"generated_data": generated})
        files = [config.export_path] if config.export_path else []
        return ExportArtifact(files, state={"generated_data": generated})
