"""Suite-wide settings (quiet TensorFlow, caches in temporary folders, an artifacts folder), the
session fixtures shared by several test folders (the small run and its Compare partners, the report)
and the marking of the fast tier.

The fast tier (``make test-fast``: ``-m "not slow and not browser and not notebook"``) is every test
that needs no training, no browser and no notebook. A test that trains on its own is marked ``slow``
by hand; :func:`pytest_collection_modifyitems` marks the rest automatically:

- ``slow``: every test that uses, directly or through another fixture, one of :data:`TRAINING_FIXTURES`
  (they train a model once per session, or load one trained and cached on disk);
- ``notebook`` and ``slow``: every test under ``tests/notebooks/`` (they execute notebooks in a kernel).

A new fixture that trains belongs in :data:`TRAINING_FIXTURES`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The scan cache of the tests never touches the user's cache folder.
os.environ["CVD_EXPLORER_CACHE"] = tempfile.mkdtemp(prefix="cvd-explorer-test-cache-")

import pytest  # noqa: E402

from tests.multiclass_fixtures import MulticlassNotebook, execute_multiclass  # noqa: E402
from tests.unit.report_fixtures import Report, build_test_report, make_runs  # noqa: E402
from tests.widgets.compare_fixtures import train_other_split, train_run_b, training_copy  # noqa: E402
from tests.widgets.helpers import small_run  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# Fixtures that train a model (or load one trained once and cached on disk): a test using any of them is slow.
TRAINING_FIXTURES = frozenset({
    "run_dir", "run_b", "run_other_split", "run_training", "report_runs", "built_report",  # tests/conftest.py
    "trained_run",  # tests/unit/conftest.py
    "digits_run", "digits_run_b",  # tests/conftest.py: K = 10 classes
    "noisy_atlas",  # tests/unit/test_atlas_kclass_noise.py: a cached 5-class run with planted label errors
    "imported_digits_run", "imported_binary_run",  # tests/conftest.py: users' models imported beside trained runs
    "multiclass_notebook",  # tests/conftest.py: notebooks/04_multiclass.ipynb trains two 4-class runs
})
NOTEBOOK_TESTS = REPO / "tests" / "notebooks"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests that train (through a fixture) ``slow``, and notebook tests ``notebook`` and ``slow``."""
    for item in items:
        if NOTEBOOK_TESTS in Path(item.fspath).parents:
            item.add_marker(pytest.mark.notebook)
            item.add_marker(pytest.mark.slow)
        elif TRAINING_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for files a person may want to look at after the run (screenshots, figures)."""
    path = Path(os.environ.get("CVD_EXPLORER_ARTIFACTS", REPO / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished small run with predictions, some of them wrong (widget, notebook and browser tests).

    ``$CVD_E2E_RUN`` names another finished run instead (e.g. the demo's, for the README screenshot
    taken by the browser tests).
    """
    if os.environ.get("CVD_E2E_RUN"):
        return Path(os.environ["CVD_E2E_RUN"]).absolute()
    return small_run(tmp_path_factory.getbasetemp() / "explorer-run")


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10-class folder data set, class folders ``0`` ... ``9`` (tests/kclass_fixtures.py), split by
    ``cvd-explorer split``."""
    from cvd_explorer.cli import main
    from tests.kclass_fixtures import digits_folder

    data = digits_folder(tmp_path_factory.getbasetemp() / "digits-data")
    if not (data / "manifest.csv").is_file():
        assert main(["split", str(data)]) == 0
    return data


@pytest.fixture(scope="session")
def digits_run(digits_data: Path) -> Path:
    """A finished 10-class resnet-mini run on :func:`digits_data`, trained by ``cvd-explorer train``."""
    from tests.kclass_fixtures import cli_run

    return cli_run(digits_data, digits_data.parent / "digits-run-a", seed=0)


@pytest.fixture(scope="session")
def digits_run_b(digits_data: Path) -> Path:
    """Another seed of :func:`digits_run` on the same split, with label smoothing 0.1 (Compare and the
    report of two K-class runs)."""
    from tests.kclass_fixtures import cli_run

    return cli_run(digits_data, digits_data.parent / "digits-run-b", seed=1, extra=("--label-smoothing", "0.1"))


@pytest.fixture(scope="session")
def imported_digits_run(digits_data: Path, digits_run: Path) -> Path:
    """A nested ResNet50 10-class classifier (64 px, random weights) brought by ``cvd-explorer import``
    with ``--manifest`` of :func:`digits_run`: the same test images (tests/import_fixtures.py)."""
    from tests.import_fixtures import imported_run

    return imported_run(digits_data, digits_run, digits_data.parent / "digits-imported")


@pytest.fixture(scope="session")
def imported_binary_run(run_dir: Path) -> Path:
    """A binary nested MobileNetV2 classifier (32 px, random weights) imported with ``--manifest`` of
    :func:`run_dir`: the same test images."""
    from tests.import_fixtures import imported_binary_run

    return imported_binary_run(run_dir, run_dir.parent / "imported-binary")


@pytest.fixture(scope="session")
def run_b(run_dir: Path) -> Path:
    """Run B: resnet-mini at 40 px (run A, ``run_dir``, is 32 px), another seed, the same split as run A."""
    return train_run_b(run_dir)


@pytest.fixture(scope="session")
def run_other_split(run_dir: Path) -> Path:
    """A 32 px run trained on another split (split seed 1) of run A's images: another test set."""
    return train_other_split(run_dir)


@pytest.fixture
def run_training(run_b: Path, tmp_path: Path) -> Path:
    """A copy of run B caught mid-training: status "running" (this process, fresh heartbeat),
    no predictions and no summary yet."""
    return training_copy(run_b, tmp_path / "run-training")


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The two trained run directories of the report tests (read only!)."""
    return make_runs(tmp_path_factory.mktemp("report-runs"))


@pytest.fixture(scope="session")
def built_report(report_runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The report of both runs, with metrics and two samples per group (read only!)."""
    return build_test_report(report_runs, tmp_path_factory.mktemp("report-out"))


@pytest.fixture(scope="session")
def multiclass_notebook(tmp_path_factory: pytest.TempPathFactory) -> MulticlassNotebook:
    """notebooks/04_multiclass.ipynb executed once on its tiny 4-class example (tests/multiclass_fixtures.py):
    the notebook test asserts on it, the browser test runs the notebook again on its folders (read only!)."""
    return execute_multiclass(tmp_path_factory.mktemp("multiclass"))
