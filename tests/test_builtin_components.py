"""kiln's built-in components, one at a time: prepare's checks and what each one does."""

from __future__ import annotations

import gzip
import hashlib
import re
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pytest

from kiln.builtin.builders.file import FileBuilder
from kiln.builtin.builders.null import NullBuilder
from kiln.builtin.post_processors.artifice import Artifice
from kiln.builtin.post_processors.checksum import Checksum
from kiln.builtin.post_processors.compress import Compress
from kiln.builtin.post_processors.shell_local import ShellLocalPostProcessor
from kiln.builtin.provisioners.breakpoint import Breakpoint
from kiln.builtin.provisioners.file import File as FileProvisioner
from kiln.builtin.provisioners.shell import Shell
from kiln.builtin.provisioners.shell_local import ShellLocal
from kiln.plugins.manager import PluginManager
from kiln.sdk import (
    DISCONNECTED,
    HOOK_PROVISION,
    Artifact,
    BuildError,
    Cancelled,
    Communicator,
    CommunicatorError,
    ConfigError,
    Context,
    Duration,
    Hook,
    Provisioner,
    Ui,
    interpolate,
)
from kiln.sdk.components import Component
from kiln.testing import MockCommunicator, MockUi, configure
from tests.sshd import SSHServer

C = TypeVar("C", bound=Component)

# -- placeholders ------------------------------------------------------------------------


def test_interpolate_fills_placeholders_with_or_without_spaces() -> None:
    text = interpolate(
        "chmod +x {{.Path}}; {{ .Vars }} {{.Path}}", {"Path": "/tmp/s", "Vars": "A=1"}
    )
    assert text == "chmod +x /tmp/s; A=1 /tmp/s"


def test_interpolate_leaves_other_braces_alone() -> None:
    assert interpolate("docker inspect -f '{{json .Id}}' {{.X}}", {"X": "c"}) == (
        "docker inspect -f '{{json .Id}}' c"
    )


def test_interpolate_names_the_known_placeholders_for_an_unknown_one() -> None:
    with pytest.raises(ConfigError) as err:
        interpolate("run {{.Pth}}", {"Path": "", "Vars": ""}, option="execute_command")
    assert err.value.option == "execute_command"
    assert "{{.Pth}}" in err.value.message
    assert "{{.Path}}, {{.Vars}}" in err.value.message


# -- shared helpers ------------------------------------------------------------------------

CTX = Context(build_name="app", builder_type="null", run_uuid="run-1")


def make(component: type[C], **options: Any) -> C:
    return configure(component, ctx=CTX, **options)


def config_error(component: type[Component], **options: Any) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        configure(component, ctx=CTX, **options)
    return err.value


class RecordingHook(Hook):
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, Communicator | None]] = []
        self.fail = fail

    def run(self, name: str, ui: Ui, comm: Communicator | None, data: dict[str, Any]) -> None:
        self.calls.append((name, comm))
        if self.fail and name == HOOK_PROVISION:
            raise BuildError("a provisioner failed")


def test_every_builtin_has_a_summary_and_documents_every_option(
    kiln_plugin_manager: PluginManager,
) -> None:
    specs = [
        *kiln_plugin_manager.builders().values(),
        *kiln_plugin_manager.provisioners().values(),
        *kiln_plugin_manager.post_processors().values(),
    ]
    assert {(s.kind, s.name) for s in specs} >= {
        ("builder", "file"),
        ("builder", "null"),
        ("provisioner", "shell"),
        ("provisioner", "file"),
        ("provisioner", "shell-local"),
        ("provisioner", "breakpoint"),
        ("post-processor", "shell-local"),
        ("post-processor", "checksum"),
        ("post-processor", "compress"),
        ("post-processor", "artifice"),
    }
    for spec in specs:
        assert spec.summary and spec.summary == spec.component.__doc__.splitlines()[0]
        for name, opt in spec.component.config_class.options().items():
            assert len(opt.doc) > 10, f"{spec.kind} {spec.name}: option {name} has no doc"


# -- shell provisioner ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "option_name", "text"),
    [
        ({}, "inline", "Nothing to run"),
        ({"script": "a.sh", "scripts": ["b.sh"]}, "script", '"script" or "scripts"'),
        ({"inline": ["true"], "scripts": [__file__]}, "inline", "not both"),
        ({"script": "/no/such.sh"}, "script", "Bad script '/no/such.sh'"),
        ({"inline": ["true"], "environment_vars": ["FOO"]}, "environment_vars", "'key=value'"),
        ({"inline": ["true"], "environment_vars": ["=x"]}, "environment_vars", "'key=value'"),
        ({"inline": ["true"], "env": {"A-B": "1"}}, "env", "'A-B'"),
        ({"inline": ["true"], "env_var_format": "%s"}, "env_var_format", "two %s"),
        ({"inline": ["true"], "execute_command": "{{.Pth}}"}, "execute_command", "{{.Path}}"),
    ],
)
def test_shell_prepare_names_the_option_at_fault(
    options: dict[str, Any], option_name: str, text: str
) -> None:
    err = config_error(Shell, **options)
    assert err.option == option_name
    assert text in err.message


def test_shell_uploads_inline_commands_as_one_script_and_removes_it() -> None:
    comm = MockCommunicator()
    ui = MockUi()
    make(Shell, inline=["cd /opt", "ls"], remote_path="/tmp/s.sh").provision(ui, comm, {})
    assert comm.uploads == [("/tmp/s.sh", b"#!/bin/sh -e\ncd /opt\nls\n")]
    assert comm.modes["/tmp/s.sh"] == 0o755
    assert comm.commands == [
        "chmod +x /tmp/s.sh; PACKER_BUILDER_TYPE='null' PACKER_BUILD_NAME='app'  /tmp/s.sh",
        "rm -f /tmp/s.sh",
    ]
    assert ui.says == ["Provisioning with shell script: inline commands"]


def test_shell_default_remote_path_is_a_numbered_script_in_tmp() -> None:
    shell = make(Shell, inline=["true"])
    assert re.fullmatch(r"/tmp/script_\d{1,4}\.sh", shell.remote_path)
    assert make(Shell, inline=["true"], remote_folder="/var", remote_file="x.sh").remote_path == (
        "/var/x.sh"
    )


def test_shell_passes_variables_sorted_quoted_and_env_winning() -> None:
    comm = MockCommunicator()
    shell = make(
        Shell,
        inline=["true"],
        remote_path="/tmp/s",
        environment_vars=["B=it's", "A=one=1", "C=x"],
        env={"C": "from env"},
        execute_command="{{.Vars}}",
    )
    shell.provision(MockUi(), comm, {"PackerHTTPAddr": "10.0.0.1:8080"})
    assert comm.commands[0] == (
        "A='one=1' B='it'\"'\"'s' C='from env' PACKER_BUILDER_TYPE='null' "
        "PACKER_BUILD_NAME='app' PACKER_HTTP_ADDR='10.0.0.1:8080' "
    )


def test_shell_leaves_out_an_http_address_the_builder_does_not_serve() -> None:
    comm = MockCommunicator()
    shell = make(Shell, inline=["true"], execute_command="{{.Vars}}", env_var_format="%s=%s;")
    shell.provision(MockUi(), comm, {"PackerHTTPAddr": "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER"})
    assert comm.commands[0] == "PACKER_BUILDER_TYPE=null;PACKER_BUILD_NAME=app;"


def test_shell_runs_scripts_in_order_converting_line_endings(tmp_path: Path) -> None:
    first, second = tmp_path / "1.sh", tmp_path / "2.sh"
    first.write_bytes(b"echo one\r\n")
    second.write_bytes(b"echo two\n")
    comm = MockCommunicator()
    ui = MockUi()
    shell = make(Shell, scripts=[str(first), str(second)], remote_path="/tmp/s")
    shell.provision(ui, comm, {})
    assert comm.uploads == [("/tmp/s", b"echo one\n"), ("/tmp/s", b"echo two\n")]
    assert [c.split(";")[0] for c in comm.commands] == ["chmod +x /tmp/s", "rm -f /tmp/s"] * 2
    assert ui.says == [f"Provisioning with shell script: {p}" for p in (first, second)]


def test_shell_binary_scripts_are_uploaded_as_they_are(tmp_path: Path) -> None:
    script = tmp_path / "s.sh"
    script.write_bytes(b"echo\r\n")
    comm = MockCommunicator()
    make(Shell, script=str(script), binary=True, remote_path="/s").provision(MockUi(), comm, {})
    assert comm.files["/s"] == b"echo\r\n"


def test_shell_skip_clean_leaves_the_script() -> None:
    comm = MockCommunicator()
    make(Shell, inline=["true"], skip_clean=True).provision(MockUi(), comm, {})
    assert len(comm.commands) == 1


def test_shell_fails_on_an_exit_code_not_allowed() -> None:
    comm = MockCommunicator().reply("chmod*", exit_status=2)
    with pytest.raises(BuildError) as err:
        make(Shell, inline=["exit 2"]).provision(MockUi(), comm, {})
    assert str(err.value) == (
        "Script exited with non-zero exit status: 2. Allowed exit codes are: [0]"
    )
    make(Shell, inline=["exit 2"], valid_exit_codes=[0, 2]).provision(MockUi(), comm, {})


def test_shell_shows_the_script_output() -> None:
    comm = MockCommunicator().reply("chmod*", stdout="hello\nworld\n", stderr="oops\n")
    ui = MockUi()
    make(Shell, inline=["true"]).provision(ui, comm, {})
    assert ui.messages == ["hello", "world"]
    assert ui.errors == ["oops"]


def test_shell_a_dropped_connection_fails_unless_expected() -> None:
    comm = MockCommunicator().reply("chmod*", exit_status=DISCONNECTED)
    with pytest.raises(BuildError, match=r"disconnected unexpectedly.*expect_disconnect = true"):
        make(Shell, inline=["reboot"]).provision(MockUi(), comm, {})
    make(Shell, inline=["reboot"], expect_disconnect=True).provision(MockUi(), comm, {})
    make(Shell, inline=["reboot"], valid_exit_codes=[0, 2300218]).provision(MockUi(), comm, {})


def test_shell_expect_disconnect_still_checks_a_reported_exit_code() -> None:
    comm = MockCommunicator().reply("chmod*", exit_status=1)
    with pytest.raises(BuildError, match="exit status: 1"):
        make(Shell, inline=["false"], expect_disconnect=True).provision(MockUi(), comm, {})


def test_shell_env_var_file_is_uploaded_sourced_and_removed() -> None:
    comm = MockCommunicator()
    shell = make(
        Shell, inline=["true"], remote_path="/tmp/s", use_env_var_file=True, env={"A": "1"}
    )
    shell.provision(MockUi(), comm, {})
    var_file, data = comm.uploads[0]
    assert re.fullmatch(r"/tmp/varfile_\d+\.sh", var_file)
    assert data == (
        b"export A='1'\nexport PACKER_BUILDER_TYPE='null'\nexport PACKER_BUILD_NAME='app'\n"
    )
    assert comm.modes[var_file] == 0o600
    assert comm.commands == [
        f"chmod +x /tmp/s; . {var_file} && /tmp/s",
        "rm -f /tmp/s",
        f"rm -f {var_file}",
    ]


def test_shell_needs_a_communicator() -> None:
    with pytest.raises(BuildError, match='"shell" provisioner needs a communicator'):
        make(Shell, inline=["true"]).provision(MockUi(), None, {})


class FlakyCommunicator(MockCommunicator):
    """Refuses the first ``failures`` uploads, as a rebooting machine would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def upload(self, dst: str, src: BinaryIO, *, mode: int | None = None, ctx: Any = None) -> None:
        if self.failures:
            self.failures -= 1
            raise CommunicatorError("connection refused")
        super().upload(dst, src, mode=mode, ctx=ctx)


def test_shell_retries_while_the_machine_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kiln.builtin.provisioners.shell.RETRY_INTERVAL", 0.01)
    comm = FlakyCommunicator(failures=2)
    ui = MockUi()
    make(Shell, inline=["true"]).provision(ui, comm, {})
    assert len(comm.uploads) == 1
    assert ui.messages == [
        "Running the script failed (connection refused); retrying for up to 5m0s..."
    ]


def test_shell_gives_up_after_start_retry_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kiln.builtin.provisioners.shell.RETRY_INTERVAL", 0.01)
    with pytest.raises(BuildError, match=r"connection refused\. Gave up after start_retry_timeout"):
        shell = make(Shell, inline=["true"], start_retry_timeout=Duration(0.05))
        shell.provision(MockUi(), FlakyCommunicator(failures=1000), {})


def test_shell_pause_after_waits_before_returning() -> None:
    ui = MockUi()
    started = time.monotonic()
    make(Shell, inline=["true"], pause_after=Duration(0.2)).provision(ui, MockCommunicator(), {})
    assert time.monotonic() - started >= 0.2
    assert ui.says[-1] == "Pausing 200ms after this provisioner..."


# -- file provisioner ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "option_name", "text"),
    [
        ({"destination": "/x"}, "source", "Nothing to copy"),
        ({"source": __file__, "content": "x", "destination": "/x"}, "content", "not both"),
        ({"source": "/no/such", "destination": "/x"}, "source", "Bad source '/no/such'"),
        ({"sources": ["/no/such"], "destination": "/x/"}, "sources", "generated = true"),
        ({"sources": [__file__, __file__], "destination": "/x"}, "destination", "slash"),
        ({"content": "x", "destination": "/x", "direction": "download"}, "content", "uploads"),
        ({"source": __file__, "destination": ""}, "destination", "Destination"),
    ],
)
def test_file_prepare_names_the_option_at_fault(
    options: dict[str, Any], option_name: str, text: str
) -> None:
    err = config_error(FileProvisioner, **options)
    assert err.option == option_name
    assert text in err.message


def test_file_generated_sources_are_not_checked_before_the_build() -> None:
    make(FileProvisioner, source="made-later.txt", destination="/x", generated=True)
    make(FileProvisioner, source="/remote/only", destination="here", direction="download")


def test_file_uploads_a_file_keeping_its_mode(tmp_path: Path) -> None:
    src = tmp_path / "app.conf"
    src.write_text("port=80")
    src.chmod(0o640)
    comm = MockCommunicator()
    ui = MockUi()
    make(FileProvisioner, source=str(src), destination="/etc/app.conf").provision(ui, comm, {})
    assert comm.files == {"/etc/app.conf": b"port=80"}
    assert comm.modes["/etc/app.conf"] == 0o640
    assert ui.says == [f"Uploading {src} => /etc/app.conf"]


def test_file_uploads_into_a_folder_under_the_file_name(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("A")
    b.write_text("B")
    comm = MockCommunicator()
    make(FileProvisioner, sources=[str(a), str(b)], destination="/srv/").provision(
        MockUi(), comm, {}
    )
    assert comm.files == {"/srv/a.txt": b"A", "/srv/b.txt": b"B"}


def test_file_uploads_folders_by_the_trailing_slash_rule(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<p>")
    comm = MockCommunicator()
    for src in (str(tmp_path / "site"), str(tmp_path / "site") + "/"):
        make(FileProvisioner, source=src, destination="/var/www").provision(MockUi(), comm, {})
    assert comm.files == {"/var/www/site/index.html": b"<p>", "/var/www/index.html": b"<p>"}


def test_file_writes_content(tmp_path: Path) -> None:
    comm = MockCommunicator()
    make(FileProvisioner, content="hello", destination="/etc/motd").provision(MockUi(), comm, {})
    make(FileProvisioner, content="hi", destination="/etc/").provision(MockUi(), comm, {})
    assert comm.files == {"/etc/motd": b"hello", "/etc/pkr-file-content": b"hi"}


def test_file_downloads_a_file_creating_folders(tmp_path: Path) -> None:
    comm = MockCommunicator()
    comm.files["/var/log/app.log"] = b"log"
    ui = MockUi()
    dst = tmp_path / "logs" / "today.log"
    prov = make(
        FileProvisioner, source="/var/log/app.log", destination=str(dst), direction="download"
    )
    prov.provision(ui, comm, {})
    assert dst.read_bytes() == b"log"
    folder = str(tmp_path / "all") + "/"
    prov = make(
        FileProvisioner, source="/var/log/app.log", destination=folder, direction="download"
    )
    prov.provision(ui, comm, {})
    assert (tmp_path / "all" / "app.log").read_bytes() == b"log"
    assert ui.says[-1] == f"Downloading /var/log/app.log => {tmp_path / 'all' / 'app.log'}"


def test_file_a_failed_download_leaves_no_file(tmp_path: Path) -> None:
    prov = make(
        FileProvisioner, source="/missing", destination=str(tmp_path / "x"), direction="download"
    )
    with pytest.raises(BuildError, match="Download failed: /missing: no such file"):
        prov.provision(MockUi(), MockCommunicator(), {})
    assert list(tmp_path.iterdir()) == []


def test_file_downloads_folders_and_every_source(tmp_path: Path) -> None:
    comm = MockCommunicator()
    comm.files = {"/var/log/a.log": b"a", "/etc/motd": b"m"}
    prov = make(
        FileProvisioner,
        sources=["/var/log/", "/etc/motd"],
        destination=str(tmp_path) + "/",
        direction="download",
    )
    prov.provision(MockUi(), comm, {})
    assert (tmp_path / "a.log").read_bytes() == b"a"
    assert (tmp_path / "motd").read_bytes() == b"m"


def test_file_downloads_a_folder_named_without_a_trailing_slash(tmp_path: Path) -> None:
    comm = MockCommunicator()
    comm.files = {"/var/log/app/a.log": b"a"}
    prov = make(
        FileProvisioner, source="/var/log/app", destination=str(tmp_path), direction="download"
    )
    prov.provision(MockUi(), comm, {})
    assert (tmp_path / "app" / "a.log").read_bytes() == b"a"
    assert comm.downloaded_dirs == [(str(tmp_path), "/var/log/app", ())]


def test_file_needs_a_communicator() -> None:
    prov = make(FileProvisioner, content="x", destination="/x")
    with pytest.raises(BuildError, match='"file" provisioner needs a communicator'):
        prov.provision(MockUi(), None, {})


# -- shell-local -------------------------------------------------------------------------


def run_local(ui: MockUi | None = None, **options: Any) -> MockUi:
    ui = ui or MockUi()
    make(ShellLocal, **options).provision(ui, None, {})
    return ui


def test_shell_local_runs_inline_commands_with_the_build_variables() -> None:
    ui = run_local(
        inline=['echo "$PACKER_BUILD_NAME/$PACKER_BUILDER_TYPE/$PACKER_RUN_UUID"', "echo $FOO"],
        env={"FOO": "it's"},
    )
    assert ui.messages == ["app/null/run-1", "it's"]
    assert ui.says == ["Running local shell script: inline commands"]


def test_shell_local_inline_script_stops_at_the_first_failure() -> None:
    ui = MockUi()
    with pytest.raises(BuildError, match=re.escape("exit status: 1. Allowed exit codes are: [0]")):
        run_local(ui, inline=["false", "echo never"])
    assert ui.messages == []


def test_shell_local_runs_scripts_and_checks_exit_codes(tmp_path: Path) -> None:
    script = tmp_path / "s.sh"
    script.write_text("echo out; echo err >&2; exit 3\n")
    script.chmod(0o755)
    with pytest.raises(BuildError, match="exit status: 3"):
        run_local(script=str(script))
    ui = run_local(script=str(script), valid_exit_codes=[3])
    assert (ui.messages, ui.errors) == (["out"], ["err"])


def test_shell_local_warns_of_a_script_the_default_command_cannot_run(tmp_path: Path) -> None:
    script = tmp_path / "s.sh"
    script.write_text("true\n")
    warnings = ShellLocal(CTX).configure(ShellLocal.config_class(script=str(script)))
    assert "is not executable" in warnings[0]
    assert "chmod +x" in warnings[0]


def test_shell_local_sets_the_variables_even_without_vars_in_the_command() -> None:
    ui = run_local(
        command="echo $BAR",
        environment_vars=["BAR=baz"],
        execute_command=["/bin/sh", "{{.Script}}"],
    )
    assert ui.messages == ["baz"]


def test_shell_local_execute_command_gets_the_script_path() -> None:
    ui = run_local(inline=["true"], execute_command=["/bin/echo", "{{.Command}}", "{{.Script}}"])
    first, second = ui.messages[0].split()
    assert first == second and first.endswith("/script")


def test_shell_local_a_missing_program_is_a_clear_error() -> None:
    with pytest.raises(BuildError, match="Error executing script: /no/such/shell"):
        run_local(inline=["true"], execute_command=["/no/such/shell", "{{.Script}}"])


def test_shell_local_only_on_skips_other_systems() -> None:
    other = "windows" if sys.platform.startswith("linux") else "linux"
    ui = run_local(inline=["echo ran"], only_on=[other])
    assert ui.says == ["Skipping shell-local due to runtime OS"]
    assert ui.messages == []


@pytest.mark.parametrize(
    ("options", "option_name"),
    [
        ({}, "inline"),
        ({"command": "true", "inline": ["true"]}, "command"),
        ({"inline": ["true"], "only_on": ["linx"]}, "only_on"),
        ({"inline": ["true"], "execute_command": []}, "execute_command"),
        ({"inline": ["true"], "execute_command": ["{{.Path}}"]}, "execute_command"),
    ],
)
def test_shell_local_prepare_names_the_option_at_fault(
    options: dict[str, Any], option_name: str
) -> None:
    assert config_error(ShellLocal, **options).option == option_name


def test_shell_local_is_stopped_when_the_build_is_cancelled() -> None:
    ctx = Context(build_name="app")
    prov = configure(ShellLocal, ctx=ctx, inline=["sleep 30"])
    threading.Timer(0.3, ctx.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        prov.provision(MockUi(), None, {})
    assert time.monotonic() - started < 5


def test_shell_local_post_processor_runs_per_artifact_and_keeps_it() -> None:
    pp = make(ShellLocalPostProcessor, inline=["echo $PACKER_BUILD_NAME $PACKER_HTTP_ADDR"])
    artifact = Artifact("x", files=["a"], state={"generated_data": {"PackerHTTPAddr": "h:1"}})
    ui = MockUi()
    assert pp.post_process(ui, artifact) == (artifact, True, True)
    assert ui.messages == ["app h:1"]


# -- breakpoint ----------------------------------------------------------------------------


def test_breakpoint_waits_for_enter() -> None:
    ui = MockUi([""])
    make(Breakpoint, note="look at /etc").provision(ui, None, {})
    assert ui.says == ['Pausing at breakpoint provisioner with note "look at /etc".']
    assert ui.questions == ["Press enter to continue."]


def test_breakpoint_without_a_terminal_continues() -> None:
    ui = MockUi()
    make(Breakpoint).provision(ui, None, {})
    assert ui.says == [
        "Pausing at breakpoint provisioner.",
        "No terminal to wait at (input is closed); continuing past the breakpoint.",
    ]


def test_a_disabled_breakpoint_does_not_stop() -> None:
    ui = MockUi()
    make(Breakpoint, note="n", disable=True).provision(ui, None, {})
    assert ui.says == ['Breakpoint provisioner with note "n" disabled; continuing...']
    assert ui.questions == []


# -- null builder --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "option_name"),
    [
        ({"communicator": "winrm"}, "communicator"),
        ({"ssh_username": "u", "ssh_password": "p"}, "ssh_host"),
        ({"ssh_host": "h", "ssh_password": "p"}, "ssh_username"),
        ({"ssh_host": "h", "ssh_username": "u"}, "ssh_password"),
    ],
)
def test_null_prepare_names_the_option_at_fault(options: dict[str, Any], option_name: str) -> None:
    assert config_error(NullBuilder, **options).option == option_name


def test_null_without_a_communicator_provisions_and_exports_nothing() -> None:
    hook = RecordingHook()
    artifact = make(NullBuilder, communicator="none").run(MockUi(), hook)
    assert artifact is not None
    assert (artifact.builder_id, artifact.id, artifact.files) == ("fnoeding.null", "Null", [])
    assert artifact.string() == "Did not export anything. This is the null builder"
    assert hook.calls == [(HOOK_PROVISION, None)]


class ProvisionerHook(Hook):
    """Runs the given provisioners, as the engine's hook does."""

    def __init__(self, *provisioners: Provisioner) -> None:
        self.provisioners = provisioners

    def run(self, name: str, ui: Ui, comm: Communicator | None, data: dict[str, Any]) -> None:
        if name == HOOK_PROVISION:
            for provisioner in self.provisioners:
                provisioner.provision(ui, comm, data)


def test_null_over_ssh_runs_shell_and_file_provisioners_on_the_machine(
    sshd: SSHServer, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>")
    remote = tmp_path / "remote"
    remote.mkdir()
    ui = MockUi()
    builder = make(
        NullBuilder,
        ssh_host=sshd.host,
        ssh_port=sshd.port,
        ssh_username=sshd.user,
        ssh_private_key_file=sshd.private_key_file,
    )
    hook = ProvisionerHook(
        make(FileProvisioner, source=str(site), destination=str(remote)),
        make(
            Shell,
            inline=[f"cd {remote}/site", 'echo "$PACKER_BUILD_NAME:$GREETING" > hello'],
            env={"GREETING": "it's me"},
            remote_path=str(tmp_path / "script.sh"),
        ),
        make(
            FileProvisioner,
            source=f"{remote}/site/hello",
            destination=str(tmp_path / "back") + "/",
            direction="download",
        ),
    )
    artifact = builder.run(ui, hook)
    assert artifact is not None and artifact.id == "Null"
    assert (remote / "site" / "index.html").read_text() == "<p>"
    assert (tmp_path / "back" / "hello").read_text() == "app:it's me\n"
    assert not (tmp_path / "script.sh").exists()
    assert "Connected to SSH!" in ui.says


# -- file builder --------------------------------------------------------------------------


def test_file_builder_writes_content_and_provisions_without_a_communicator(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out" / "motd"
    hook = RecordingHook()
    artifact = make(FileBuilder, target=str(target), content="hi").run(MockUi(), hook)
    assert target.read_text() == "hi"
    assert artifact is not None
    assert (artifact.builder_id, artifact.id, artifact.files) == (
        "packer.file",
        "File",
        [str(target)],
    )
    assert artifact.string() == f"Stored file: {target}"
    assert hook.calls == [(HOOK_PROVISION, None)]


def test_file_builder_copies_a_source(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.write_bytes(b"12345")
    ui = MockUi()
    make(FileBuilder, target=str(tmp_path / "t"), source=str(src)).run(ui, RecordingHook())
    assert (tmp_path / "t").read_bytes() == b"12345"
    assert ui.says == [f"Copying {src} to {tmp_path / 't'}", "Copied 5 bytes"]


def test_file_builder_a_missing_source_fails_clearly(tmp_path: Path) -> None:
    builder = make(FileBuilder, target=str(tmp_path / "t"), source=str(tmp_path / "nope"))
    with pytest.raises(BuildError, match="No such file"):
        builder.run(MockUi(), RecordingHook())


def test_file_builder_removes_the_target_when_provisioning_fails(tmp_path: Path) -> None:
    target = tmp_path / "t"
    with pytest.raises(BuildError, match="a provisioner failed"):
        make(FileBuilder, target=str(target), content="x").run(MockUi(), RecordingHook(fail=True))
    assert not target.exists()


def test_file_builder_prepare() -> None:
    assert config_error(FileBuilder, target="t", source="s", content="c").option == "content"
    assert config_error(FileBuilder, target="").option == "target"
    builder = FileBuilder(CTX)
    assert builder.configure(FileBuilder.config_class(target="t")) == [
        "Both source file and contents are blank; target will have no content"
    ]


# -- checksum ------------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def files(folder: Path, **contents: bytes) -> list[str]:
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return [str(folder / name) for name in contents]


def test_checksum_writes_md5_lines_like_packer(in_tmp: Path) -> None:
    paths = files(in_tmp, a=b"alpha", b=b"beta")
    result, keep, force = make(Checksum).post_process(MockUi(), Artifact("x", files=paths))
    out = in_tmp / "packer_app_null_md5.checksum"
    assert out.read_text() == (
        f"{hashlib.md5(b'alpha').hexdigest()}\ta\n{hashlib.md5(b'beta').hexdigest()}\tb\n"
    )
    assert (keep, force) == (True, True)
    assert result.builder_id == "packer.post-processor.checksum"
    assert result.files == [*paths, "packer_app_null_md5.checksum"]


def test_checksum_one_file_per_type_from_one_read(in_tmp: Path) -> None:
    paths = files(in_tmp, img=b"data")
    pp = make(Checksum, checksum_types=["sha256", "sha512"], output="sums/{{.ChecksumType}}.txt")
    pp.post_process(MockUi(), Artifact("x", files=paths))
    for kind in ("sha256", "sha512"):
        digest = hashlib.new(kind, b"data").hexdigest()
        assert (in_tmp / "sums" / f"{kind}.txt").read_text() == f"{digest}\timg\n"


def test_checksum_a_rerun_replaces_its_lines_and_keeps_others(in_tmp: Path) -> None:
    (in_tmp / "SUMS").write_text("0000\tother\n1111\timg\n")
    paths = files(in_tmp, img=b"v1")
    pp = make(Checksum, output="SUMS")
    pp.post_process(MockUi(), Artifact("x", files=paths))
    files(in_tmp, img=b"v2")
    pp.post_process(MockUi(), Artifact("x", files=paths))
    assert (in_tmp / "SUMS").read_text() == f"0000\tother\n{hashlib.md5(b'v2').hexdigest()}\timg\n"


def test_checksum_prepare() -> None:
    err = config_error(Checksum, checksum_types=["md5", "crc32"])
    assert (err.option, "Unrecognized checksum type: crc32" in err.message) == (
        "checksum_types",
        True,
    )
    assert config_error(Checksum, output="{{.Build}}.sum").option == "output"


def test_checksum_a_missing_file_fails_clearly(in_tmp: Path) -> None:
    with pytest.raises(BuildError, match="Unable to read nope to checksum it"):
        make(Checksum).post_process(MockUi(), Artifact("x", files=["nope"]))


# -- compress ------------------------------------------------------------------------------


def compress(folder: Path, artifact_files: list[str], **options: Any) -> Artifact:
    result, keep, force = make(Compress, **options).post_process(
        MockUi(), Artifact("x", files=artifact_files)
    )
    assert (keep, force) == (False, False)
    assert result.builder_id == "packer.post-processor.compress"
    return result


def test_compress_default_is_a_tar_gz_named_after_the_build(in_tmp: Path) -> None:
    result = compress(in_tmp, files(in_tmp, a=b"A", b=b"B"))
    assert result.files == ["packer_app_null.tar.gz"]
    assert result.string() == "compressed artifacts in: packer_app_null.tar.gz"
    with tarfile.open(in_tmp / "packer_app_null.tar.gz", "r:gz") as tar:
        assert sorted(tar.getnames()) == ["a", "b"]
        member = tar.extractfile("a")
        assert member is not None and member.read() == b"A"


@pytest.mark.parametrize(
    ("output", "mode"), [("o.tgz", "r:gz"), ("o.tar", "r:"), ("o.tar.xz", "r:xz")]
)
def test_compress_tar_formats_follow_the_extension(in_tmp: Path, output: str, mode: str) -> None:
    compress(in_tmp, files(in_tmp, a=b"A"), output=output)
    with tarfile.open(in_tmp / output, mode) as tar:
        assert tar.getnames() == ["a"]


def test_compress_zip_holds_files_and_folders_by_base_name(in_tmp: Path) -> None:
    (in_tmp / "dir").mkdir()
    (in_tmp / "dir" / "c").write_bytes(b"C")
    compress(in_tmp, [*files(in_tmp, a=b"A"), str(in_tmp / "dir")], output="out/o.zip")
    with zipfile.ZipFile(in_tmp / "out" / "o.zip") as zf:
        assert sorted(zf.namelist()) == ["a", "dir/c"]
        assert zf.read("dir/c") == b"C"
        assert zf.getinfo("a").compress_type == zipfile.ZIP_DEFLATED


def test_compress_gz_compresses_a_single_file(in_tmp: Path) -> None:
    compress(in_tmp, files(in_tmp, disk=b"x" * 1000), output="disk.gz", compression_level=9)
    assert gzip.decompress((in_tmp / "disk.gz").read_bytes()) == b"x" * 1000
    with pytest.raises(BuildError, match="Can only have 1 input file when not using tar/zip"):
        compress(in_tmp, files(in_tmp, a=b"A", b=b"B"), output="two.gz")


def test_compress_format_option_and_unknown_extensions(in_tmp: Path) -> None:
    compress(in_tmp, files(in_tmp, a=b"A"), output="archive", format="zip")
    assert zipfile.is_zipfile(in_tmp / "archive")
    warnings = Compress(CTX).configure(Compress.config_class(output="disk.img"))
    assert "gzip-compressed tar" in warnings[0]
    assert config_error(Compress, format="rar").option == "format"


def test_compress_refuses_to_overwrite_without_force(in_tmp: Path) -> None:
    paths = files(in_tmp, a=b"A")
    (in_tmp / "o.tar").write_bytes(b"old")
    with pytest.raises(BuildError, match=r"o\.tar already exists.*-force"):
        compress(in_tmp, paths, output="o.tar")
    assert (in_tmp / "o.tar").read_bytes() == b"old"
    pp = configure(Compress, ctx=Context(build_name="app", force=True), output="o.tar")
    pp.post_process(MockUi(), Artifact("x", files=paths))
    assert tarfile.is_tarfile(in_tmp / "o.tar")


def test_compress_a_failure_leaves_no_archive(in_tmp: Path) -> None:
    with pytest.raises(BuildError, match=re.escape("Error creating the archive o.tar.gz")):
        compress(in_tmp, [*files(in_tmp, a=b"A"), str(in_tmp / "missing")], output="o.tar.gz")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["a"]


def test_compress_prepare_checks_the_level_and_placeholders() -> None:
    assert config_error(Compress, compression_level=10).option == "compression_level"
    assert config_error(Compress, output="{{.Nope}}.zip").option == "output"


# -- artifice ------------------------------------------------------------------------------


def test_artifice_replaces_the_artifact_files(in_tmp: Path) -> None:
    files(in_tmp, **{"a.img": b"", "b.img": b"", "notes": b""})
    ui = MockUi()
    pp = make(Artifice, files=["*.img", "notes"])
    result, keep, force = pp.post_process(ui, Artifact("x", files=["old"]))
    assert result.files == ["a.img", "b.img", "notes"]
    assert result.builder_id == "packer.post-processor.artifice"
    assert (keep, force) == (True, False)
    assert ui.says == [
        "Discarding files from artifact: old",
        "Using these artifact files: a.img, b.img, notes",
    ]


def test_artifice_a_missing_file_fails_the_build(in_tmp: Path) -> None:
    with pytest.raises(BuildError, match=re.escape("'out/*.tar' does not exist")):
        make(Artifice, files=["out/*.tar"]).post_process(MockUi(), Artifact("x"))


def test_artifice_needs_files() -> None:
    assert config_error(Artifice, files=[]).option == "files"
