"""The ``kiln`` command line: argument parsing and dispatch, no logic of its own."""
