"""The repository's test servers, for the core's tests and every plugin's alike: a real
sshd (and one that accepts any key), package indexes, a private Docker engine with a
registry, an EC2 emulator, and the fault-injection suite's ledger. Being at the root,
this also puts the repository on ``sys.path``, so plugin tests import ``tests.*``."""

import atexit
import os
import shutil
import tempfile

# The test bed's own cache (scripts/make-debian-image's root filesystem, a minute of
# debootstrap) stays in the user's cache folder, to be reused by the next session.
os.environ.setdefault(
    "KILN_TEST_CACHE",
    os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kiln-test"),
)
# Parse-tree cache entries, downloads, installed plugins, the config file and the
# builds' cleanup journals the tests see live in throwaway folders, not in the user's
# ~/.cache, ~/.local/share, ~/.config or ~/.local/state; they go when the session ends.
_SCRATCH = tempfile.mkdtemp(prefix="kiln-test-xdg-")
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
for _name in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
    os.environ[_name] = os.path.join(_SCRATCH, _name.lower())
    os.mkdir(os.environ[_name])
for _name in (
    "KILN_PLUGIN_PATH",
    "KILN_CACHE_DIR",
    "KILN_CONFIG",
    "KILN_INDEX_URL",
    "KILN_STATE_DIR",
):
    os.environ.pop(_name, None)

pytest_plugins = [
    "tests.sshd",
    "tests.indexserver",
    "tests.dockerd",
    "tests.ec2",
    "tests.faults",
]
