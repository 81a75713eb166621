"""kiln.testing: the pytest fixtures, MockUi, MockCommunicator and configure."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.plugins.manager import PluginError, PluginManager
from kiln.sdk import (
    Communicator,
    CommunicatorError,
    Config,
    ConfigError,
    Provisioner,
    ProvisionerSpec,
    RemoteCmd,
    Ui,
    hookimpl,
    option,
    run_with_ui,
)
from kiln.testing import MockCommunicator, MockUi, configure

# -- a tiny plugin, defined here and never installed ---------------------------------------


class SayConfig(Config):
    text: str = option(required=True, doc="What to say.")


class Say(Provisioner):
    """Says something, then runs it as a command."""

    config_class = SayConfig
    config: SayConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, SayConfig)
        if not config.text:
            raise ConfigError("Say something.", option="text")
        return super().prepare(config)

    def provision(self, ui: Ui, comm: Communicator | None, generated_data: dict[str, Any]) -> None:
        ui.say(self.config.text)
        assert comm is not None
        run_with_ui(comm, ui, f"echo {self.config.text}")


def say_plugin(name: str = "say") -> types.ModuleType:
    module = types.ModuleType(f"kiln_plugin_{name}")

    @hookimpl
    def kiln_provisioners() -> Iterator[ProvisionerSpec]:
        yield ProvisionerSpec(name, Say, "Says something.")

    module.kiln_provisioners = kiln_provisioners  # type: ignore[attr-defined]
    return module


# -- fixtures ----------------------------------------------------------------------------


def test_the_manager_holds_the_builtins(kiln_plugin_manager: PluginManager) -> None:
    assert {"shell", "file", "shell-local", "breakpoint"} <= set(kiln_plugin_manager.provisioners())
    assert {"file", "null"} <= set(kiln_plugin_manager.builders())
    shell = kiln_plugin_manager.provisioners()["shell"]
    assert kiln_plugin_manager.provider_of(shell).distribution == "kiln"


def test_register_plugin_adds_a_module_without_installing_it(
    register_plugin: Callable[..., PluginManager],
) -> None:
    pm = register_plugin(say_plugin())
    spec = pm.provisioners()["say"]
    assert spec.component is Say
    assert str(pm.provider_of(spec)) == "kiln_plugin_say (unpackaged)"
    assert "shell" in pm.provisioners()


def test_a_registered_component_runs_against_the_mocks(
    register_plugin: Callable[..., PluginManager],
) -> None:
    say = configure(register_plugin(say_plugin()).provisioners()["say"].component, text="hi")
    ui = MockUi()
    comm = MockCommunicator().reply("echo *", stdout="hi\n")
    say.provision(ui, comm, {})
    assert ui.says == ["hi"]
    assert comm.commands == ["echo hi"]
    assert ui.messages == ["hi"]


def test_a_plugin_that_clashes_with_a_builtin_is_reported_with_both_providers(
    register_plugin: Callable[..., PluginManager],
) -> None:
    pm = register_plugin(say_plugin("shell"))
    with pytest.raises(PluginError, match=r'"shell".*"kiln 0\.1\.0".*kiln_plugin_shell'):
        pm.provisioners()


def test_the_fixtures_reach_a_plugin_authors_tests_through_the_entry_point(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_author.py").write_text(
        textwrap.dedent(
            """
            def test_builtins(kiln_plugin_manager):
                assert "checksum" in kiln_plugin_manager.post_processors()

            def test_register(register_plugin):
                import types
                assert register_plugin(types.ModuleType("empty")).builders()["file"]
            """
        )
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


# -- configure ---------------------------------------------------------------------------


def test_configure_names_the_options_for_an_unknown_one() -> None:
    with pytest.raises(TypeError, match="Say has no option txt; its options are: text"):
        configure(Say, txt="hi")


def test_configure_lets_prepare_errors_through() -> None:
    with pytest.raises(ConfigError) as err:
        configure(Say, text="")
    assert err.value.option == "text"


def test_configure_marks_the_options_given_as_set() -> None:
    assert configure(Say, text="hi").config.is_set("text")


# -- MockUi ------------------------------------------------------------------------------


def test_mock_ui_records_each_kind_of_line() -> None:
    ui = MockUi()
    ui.say("headline")
    ui.message("detail")
    ui.error("problem")
    ui.machine("artifact", "0", "id", "x")
    assert (ui.says, ui.messages, ui.errors) == (["headline"], ["detail"], ["problem"])
    assert ui.machines == [("artifact", "0", "id", "x")]


def test_mock_ui_answers_in_order_then_has_no_terminal() -> None:
    ui = MockUi(["yes", ""])
    assert ui.ask("first?") == "yes"
    assert ui.ask("second?") == ""
    with pytest.raises(EOFError):
        ui.ask("third?")
    assert ui.questions == ["first?", "second?", "third?"]


# -- MockCommunicator --------------------------------------------------------------------


def test_commands_succeed_silently_unless_a_pattern_says_otherwise() -> None:
    comm = MockCommunicator().reply("false*", exit_status=1).reply("*", exit_status=7)
    cmd = RemoteCmd("true")
    assert MockCommunicator().start(cmd) == 0
    assert cmd.exit_status == 0
    assert comm.start(RemoteCmd("false --really")) == 1
    assert comm.start(RemoteCmd("anything")) == 7
    assert comm.commands == ["false --really", "anything"]


def test_scripted_output_goes_to_the_callbacks() -> None:
    comm = MockCommunicator().reply("ls", stdout="a\nb\n", stderr="warn\n")
    ui = MockUi()
    assert run_with_ui(comm, ui, "ls") == 0
    assert ui.messages == ["a", "b"]
    assert ui.errors == ["warn"]


def test_uploads_land_in_files_and_downloads_come_from_there() -> None:
    comm = MockCommunicator()
    comm.upload("/etc/motd", io.BytesIO(b"hello"), mode=0o600)
    assert comm.files == {"/etc/motd": b"hello"}
    assert comm.modes == {"/etc/motd": 0o600}
    assert comm.uploads == [("/etc/motd", b"hello")]
    out = io.BytesIO()
    comm.download("/etc/motd", out)
    assert out.getvalue() == b"hello"
    with pytest.raises(CommunicatorError, match="/nope: no such file"):
        comm.download("/nope", io.BytesIO())


def test_upload_dir_follows_the_trailing_slash_rule(tmp_path: Path) -> None:
    (tmp_path / "site" / "css").mkdir(parents=True)
    (tmp_path / "site" / "index.html").write_text("<p>")
    (tmp_path / "site" / "css" / "a.css").write_text("p{}")
    comm = MockCommunicator()
    comm.upload_dir("/var/www", str(tmp_path / "site"))
    comm.upload_dir("/srv", str(tmp_path / "site") + "/", exclude=["css/*"])
    assert comm.files == {
        "/var/www/site/index.html": b"<p>",
        "/var/www/site/css/a.css": b"p{}",
        "/srv/index.html": b"<p>",
    }
    assert comm.uploaded_dirs[1] == ("/srv", str(tmp_path / "site") + "/", ("css/*",))


def test_dir_excludes_leave_out_a_matching_folder_as_the_real_communicators_do(
    tmp_path: Path,
) -> None:
    (tmp_path / "site" / "css").mkdir(parents=True)
    (tmp_path / "site" / "index.html").write_text("<p>")
    (tmp_path / "site" / "css" / "a.css").write_text("p{}")
    comm = MockCommunicator()
    comm.upload_dir("/srv", str(tmp_path / "site") + "/", exclude=["css"])
    assert comm.files == {"/srv/index.html": b"<p>"}
    comm.files = {"/var/log/app/a.log": b"a", "/var/log/app/old/b.log": b"b"}
    comm.download_dir("/var/log/app/", str(tmp_path / "logs"), exclude=["old"])
    assert sorted(p.name for p in (tmp_path / "logs").rglob("*")) == ["a.log"]


def test_download_dir_follows_the_trailing_slash_rule(tmp_path: Path) -> None:
    comm = MockCommunicator()
    comm.files = {"/var/log/app/a.log": b"a", "/var/log/app/old/b.log": b"b"}
    comm.download_dir("/var/log/app", str(tmp_path / "one"))
    comm.download_dir("/var/log/app/", str(tmp_path / "two"))
    assert (tmp_path / "one" / "app" / "old" / "b.log").read_bytes() == b"b"
    assert (tmp_path / "two" / "a.log").read_bytes() == b"a"
    assert comm.downloaded_dirs[0] == (str(tmp_path / "one"), "/var/log/app", ())
    with pytest.raises(CommunicatorError, match="no such directory"):
        comm.download_dir("/missing", str(tmp_path))
