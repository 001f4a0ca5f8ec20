"""Fixtures of the widget tests: a tiny model (the small trained run, ``run_dir``, is in ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from tests.widgets.helpers import tiny_model


@pytest.fixture(scope="session")
def model32():
    """resnet-mini at 32 px, random initialisation."""
    return tiny_model(32)
