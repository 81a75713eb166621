"""Fixtures for the ansible plugin's tests: a template folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A fresh folder for a template and its playbooks."""
    work = tmp_path / "work"
    work.mkdir()
    return work
