"""The greeting plugin's tests, with kiln's pytest plugin (``kiln.testing``): the
components run against a MockUi and a MockCommunicator, and the hooks are registered
on a real kiln plugin manager, with nothing installed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiln_plugin_acme_greeting import plugin
from kiln_plugin_acme_greeting.post_processor import GreetingFile
from kiln_plugin_acme_greeting.provisioner import Greeting

from kiln.sdk import Artifact, BuildError, ConfigError
from kiln.testing import MockCommunicator, MockUi, configure


def test_the_plugin_registers_its_components_beside_kiln_builtins(
    register_plugin: Callable[..., Any],
) -> None:
    pm = register_plugin(plugin)
    assert pm.provisioners()["greeting"].component is Greeting
    assert pm.post_processors()["greeting-file"].component is GreetingFile
    assert "shell" in pm.provisioners()  # the built-ins are still there


def test_message_is_required_and_documented() -> None:
    options = Greeting.config_class.options()
    assert options["message"].required
    assert all(o.doc for o in options.values())


def test_the_message_is_echoed_on_the_machine_and_shown() -> None:
    ui, comm = MockUi(), MockCommunicator().reply("echo *", stdout="hello there\n")
    configure(Greeting, message="hello there").provision(ui, comm, {})
    assert comm.commands == ["echo 'hello there'"]
    assert ui.messages == ["hello there"]


def test_uppercase_shouts() -> None:
    comm = MockCommunicator()
    configure(Greeting, message="hi", uppercase=True).provision(MockUi(), comm, {})
    assert comm.commands == ["echo HI"]


def test_the_message_is_quoted_not_run_by_the_shell() -> None:
    comm = MockCommunicator()
    configure(Greeting, message="$(reboot); rm -rf /").provision(MockUi(), comm, {})
    assert comm.commands == ["echo '$(reboot); rm -rf /'"]


def test_destination_appends_the_greeting_to_a_file_on_the_machine() -> None:
    comm = MockCommunicator()
    greeting = configure(Greeting, message="hi", destination="/tmp/my greeting")
    greeting.provision(MockUi(), comm, {})
    assert comm.commands == ["echo hi | tee -a '/tmp/my greeting'"]


def test_an_empty_message_is_a_config_error_on_that_option() -> None:
    with pytest.raises(ConfigError) as caught:
        configure(Greeting, message="  ")
    assert caught.value.option == "message"


def test_a_failing_echo_fails_the_build_with_its_status() -> None:
    comm = MockCommunicator().reply("echo *", exit_status=3, stderr="no space left\n")
    ui = MockUi()
    with pytest.raises(BuildError, match="exited with status 3"):
        configure(Greeting, message="hi").provision(ui, comm, {})
    assert ui.errors == ["no space left"]


def test_without_a_communicator_the_build_fails_and_says_why() -> None:
    with pytest.raises(BuildError, match="no communicator"):
        configure(Greeting, message="hi").provision(MockUi(), None, {})


def test_greeting_file_writes_the_greeting_and_keeps_the_artifact(tmp_path: Path) -> None:
    output = tmp_path / "greeting.txt"
    pp = configure(GreetingFile, output=str(output), message="built")
    made, keep, force = pp.post_process(MockUi(), Artifact("acme.test", id="img-1"))
    assert output.read_text() == "built\nacme.test: img-1\n"
    assert (made.files, keep, force) == ([str(output)], True, False)


def test_greeting_file_into_a_missing_folder_is_a_build_error(tmp_path: Path) -> None:
    pp = configure(GreetingFile, output=str(tmp_path / "nowhere" / "g.txt"))
    with pytest.raises(BuildError, match="Cannot write"):
        pp.post_process(MockUi(), Artifact("acme.test", id="img-1"))
