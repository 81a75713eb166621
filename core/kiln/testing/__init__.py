"""Testing kiln plugins: stand-ins for the UI and communicator, and a pytest plugin.

The pytest plugin (:mod:`kiln.testing.plugin`) loads by itself once kiln is installed;
it offers the fixtures ``kiln_plugin_manager`` and ``register_plugin``::

    from kiln.testing import MockCommunicator, MockUi, configure

    def test_say(register_plugin):
        pm = register_plugin(kiln_plugin_say)
        say = configure(pm.provisioners()["say"].component, text="hello")
        ui = MockUi()
        say.provision(ui, MockCommunicator(), {})
        assert ui.says == ["hello"]
"""

from kiln.testing.commands import run_command
from kiln.testing.components import configure
from kiln.testing.mocks import MockCommunicator, MockUi, Reply
from kiln.testing.reference import check_reference_pages

__all__ = [
    "MockCommunicator",
    "MockUi",
    "Reply",
    "check_reference_pages",
    "configure",
    "run_command",
]
