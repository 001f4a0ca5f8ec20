"""Fixtures of the notebook tests: the small trained runs shared with the widget tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.widgets.compare_fixtures import run_b  # noqa: F401  (a fixture of the notebook tests)
from tests.widgets.helpers import small_run


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished small run with predictions, some of them wrong."""
    return small_run(tmp_path_factory.getbasetemp() / "explorer-run")
