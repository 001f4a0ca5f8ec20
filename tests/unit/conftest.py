"""Fixtures of the unit tests: tiny synthetic data and one tiny finished run, each made once per session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.unit.run_fixtures import TINY, make_tiny_data

if TYPE_CHECKING:
    from cvd_explorer.runs import Run


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic Kaggle-layout folder: 48 images of 40 px (cat.<i>.jpg / dog.<i>.jpg)."""
    return make_tiny_data(tmp_path_factory.mktemp("tiny-data") / "data")


@pytest.fixture(scope="session")
def trained_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A finished run of :data:`~tests.unit.run_fixtures.TINY`, trained in-process once per session (read only!)."""
    import keras

    from cvd_explorer.runs import train

    run = train(TINY, tiny_data, tmp_path_factory.mktemp("trained") / "run", progress=False)
    keras.backend.clear_session()
    return run
