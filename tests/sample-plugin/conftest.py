"""Lets the tests import the plugin from ``src/`` without installing it.

(Installing it editable, ``pip install -e .``, does the same. In kiln's repository this
also lets kiln's own test run collect these tests from the repository root.)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "src"))
