"""Fixtures of the widget tests: a tiny trained run (shared by the session) and a tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.widgets.helpers import small_run, tiny_model


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished small run with predictions, some of them wrong."""
    return small_run(tmp_path_factory.getbasetemp() / "explorer-run")


@pytest.fixture(scope="session")
def model32():
    """resnet-mini at 32 px, random initialisation."""
    return tiny_model(32)
