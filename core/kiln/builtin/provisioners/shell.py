"""The ``shell`` provisioner: upload scripts to the machine and run them there."""

from __future__ import annotations

import io
import random
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any, TypeVar

from kiln.builtin.shellcommon import (
    ShellCommonConfig,
    check_common,
    check_exit,
    env_vars,
    flatten,
    inline_script,
)
from kiln.sdk import (
    DISCONNECTED,
    BuildError,
    Cancelled,
    Communicator,
    CommunicatorError,
    Config,
    Duration,
    Provisioner,
    Ui,
    interpolate,
    option,
    require_communicator,
    run_with_ui,
)

T = TypeVar("T")

DEFAULT_EXECUTE = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}"
ENV_FILE_EXECUTE = "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}"
ENV_FILE_FORMAT = "export %s='%s'\n"
#: the exit status Packer reports for a dropped connection; accepted as an alias
PACKER_DISCONNECT = 2300218
#: seconds between attempts while the machine does not answer (a reboot)
RETRY_INTERVAL = 2.0


class ShellConfig(ShellCommonConfig):
    execute_command: str = option(
        DEFAULT_EXECUTE,
        doc="The command that runs each uploaded script. Placeholders: `{{.Path}}` (the "
        "script on the machine), `{{.Vars}}` (the environment variables, formatted by "
        "`env_var_format`) and `{{.EnvVarFile}}` (with `use_env_var_file`). With "
        f"`use_env_var_file` the default is `{ENV_FILE_EXECUTE}`.",
    )
    inline_shebang: str = option(
        "/bin/sh -e", doc="The interpreter line put at the top of the `inline` script."
    )
    use_env_var_file: bool = option(
        False,
        doc="Write the environment variables to a file on the machine and source it, "
        "instead of putting them on the command line (where `ps` shows them). The "
        "default `env_var_format` becomes `export %s='%s'\\n`.",
    )
    remote_folder: str = option("/tmp", doc="Folder on the machine the scripts go to.")
    remote_file: str = option(
        "", doc='File name of the script on the machine; default "script_NNNN.sh" (random).'
    )
    remote_path: str = option(
        "", doc="Full path of the script on the machine; default `remote_folder/remote_file`."
    )
    binary: bool = option(
        False, doc="Upload scripts as they are; otherwise Windows line endings become Unix ones."
    )
    expect_disconnect: bool = option(
        False,
        doc="A script may drop the connection (it reboots the machine) without failing the "
        "build. Its exit code is still checked when it does report one.",
    )
    skip_clean: bool = option(
        False, doc="Leave the uploaded scripts (and variables file) on the machine."
    )
    start_retry_timeout: Duration = option(
        Duration(300),
        doc="How long to keep retrying the upload and start of a script while the machine "
        "does not answer, such as during a reboot.",
    )
    pause_after: Duration = option(
        Duration(0), doc="Wait this long after the scripts ran, before the next provisioner."
    )


class Shell(Provisioner):
    """Runs shell scripts on the machine, uploaded over the communicator.

    The `inline` commands become one script; `script`/`scripts` are uploaded and run in
    order. Each goes to `remote_path`, runs through `execute_command`, and is removed
    afterwards (unless `skip_clean`). Scripts see `PACKER_BUILD_NAME`,
    `PACKER_BUILDER_TYPE` and, when the builder serves files over HTTP,
    `PACKER_HTTP_ADDR`, `PACKER_HTTP_IP` and `PACKER_HTTP_PORT`, besides the variables
    set with `environment_vars` and `env`. An exit code outside `valid_exit_codes`
    fails the build.
    """

    config_class = ShellConfig
    config: ShellConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, ShellConfig)
        self.scripts = check_common(config)
        self.var_format = config.env_var_format
        if config.use_env_var_file and not config.is_set("env_var_format"):
            self.var_format = ENV_FILE_FORMAT
        self.execute_command = config.execute_command
        if config.use_env_var_file and not config.is_set("execute_command"):
            self.execute_command = ENV_FILE_EXECUTE
        interpolate(
            self.execute_command,
            {"Path": "", "Vars": "", "EnvVarFile": ""},
            option="execute_command",
        )
        remote_file = config.remote_file or f"script_{random.randrange(10000)}.sh"
        self.remote_path = config.remote_path or f"{config.remote_folder}/{remote_file}"
        return []

    def provision(self, ui: Ui, comm: Communicator | None, generated_data: dict[str, Any]) -> None:
        comm = require_communicator(comm, "shell")
        variables = flatten(env_vars(self.ctx, self.config, generated_data), self.var_format)
        values = {"Path": self.remote_path, "Vars": variables, "EnvVarFile": ""}
        with ExitStack() as cleanups:
            if self.config.use_env_var_file:
                values["EnvVarFile"] = self._env_file_path()
                cleanups.enter_context(self._remote_file(comm, ui, values["EnvVarFile"]))
                self._upload_env_file(comm, ui, values["EnvVarFile"], variables)
            command = interpolate(self.execute_command, values, option="execute_command")
            for label, body in self._scripts():
                ui.say(f"Provisioning with shell script: {label}")
                with self._remote_file(comm, ui, self.remote_path):
                    runner = self._runner(comm, ui, body, command)
                    status = self._retry(ui, "Running the script", runner)
                    if status == DISCONNECTED:
                        if not self._disconnect_ok():
                            raise BuildError(
                                "Script disconnected unexpectedly. If you expected your script "
                                "to disconnect, i.e. from a restart, add `expect_disconnect = "
                                "true` to the shell provisioner."
                            )
                    else:
                        check_exit(status, self.config.valid_exit_codes)
        if self.config.pause_after:
            ui.say(f"Pausing {self.config.pause_after} after this provisioner...")
            self.ctx.sleep(self.config.pause_after)

    def _scripts(self) -> list[tuple[str, bytes]]:
        """(label, contents) of each script to run, read now (a script may be generated)."""
        if self.config.inline:
            return [
                ("inline commands", inline_script(self.config.inline_shebang, self.config.inline))
            ]
        found = []
        for path in self.scripts:
            try:
                with open(path, "rb") as f:
                    body = f.read()
            except OSError as exc:
                raise BuildError(f"Error opening shell script {path}: {exc.strerror}") from None
            if not self.config.binary:
                body = body.replace(b"\r\n", b"\n")
            found.append((path, body))
        return found

    def _runner(self, comm: Communicator, ui: Ui, body: bytes, command: str) -> Callable[[], int]:
        """Upload and start as one retried unit: a reboot between them loses the script."""

        def run() -> int:
            comm.upload(self.remote_path, io.BytesIO(body), mode=0o755, ctx=self.ctx)
            return run_with_ui(comm, ui, command, self.ctx)

        return run

    def _env_file_path(self) -> str:
        return f"{self.config.remote_folder}/varfile_{random.randrange(10000)}.sh"

    def _upload_env_file(self, comm: Communicator, ui: Ui, path: str, variables: str) -> None:
        data = variables.encode()
        self._retry(
            ui,
            "Uploading the environment variables file",
            lambda: comm.upload(path, io.BytesIO(data), mode=0o600, ctx=self.ctx),
        )

    @contextmanager
    def _remote_file(self, comm: Communicator, ui: Ui, path: str) -> Iterator[None]:
        """A file this provisioner puts on the machine: in the run's journal (when
        ``kiln reap`` could reach the machine again) from before it is uploaded, and
        removed afterwards unless ``skip_clean`` (then it is kept, failure or not).
        After a failure or an interrupt it is removed too, in one try (Packer leaves
        it), except under ``-on-error=abort``, which keeps the machine as it is for a
        look; what stays, ``kiln reap`` removes."""
        reach = comm.reap_details()
        entry = self.ctx.record("kiln", "remote-file", path=path, **reach) if reach else None
        try:
            yield
        except BaseException:
            if not self.config.skip_clean and self.ctx.on_error != "abort":
                command = f"rm -f {shlex.quote(path)}"
                with suppress(CommunicatorError, Cancelled):
                    if run_with_ui(comm, ui, command, self.ctx.detached().child(10)) == 0 and entry:
                        entry.gone()
            raise
        finally:
            if self.config.skip_clean and entry:
                entry.keep()
        if not self.config.skip_clean:
            self._remove(comm, ui, path)
            if entry:
                entry.gone()

    def _disconnect_ok(self) -> bool:
        codes = self.config.valid_exit_codes
        return self.config.expect_disconnect or DISCONNECTED in codes or PACKER_DISCONNECT in codes

    def _remove(self, comm: Communicator, ui: Ui, path: str) -> None:
        """Delete ``path`` on the machine, waiting out a reboot the script started."""

        def remove() -> int:
            status = run_with_ui(comm, ui, f"rm -f {shlex.quote(path)}", self.ctx)
            if status == DISCONNECTED:
                raise CommunicatorError("the connection dropped")
            return status

        if self._retry(ui, f"Removing {path}", remove) != 0:
            raise BuildError(f"Error removing temporary script at {path}!")

    def _retry(self, ui: Ui, what: str, work: Callable[[], T]) -> T:
        """``work()``, retried while the communicator fails, up to start_retry_timeout."""
        deadline = time.monotonic() + self.config.start_retry_timeout
        told = False
        while True:
            try:
                return work()
            except CommunicatorError as exc:
                if time.monotonic() >= deadline:
                    raise BuildError(
                        f"{what} failed: {exc}. Gave up after start_retry_timeout "
                        f"({self.config.start_retry_timeout})."
                    ) from exc
                if not told:
                    ui.message(
                        f"{what} failed ({exc}); retrying for up to "
                        f"{self.config.start_retry_timeout}..."
                    )
                    told = True
            self.ctx.sleep(RETRY_INTERVAL)
