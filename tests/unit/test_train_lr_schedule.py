"""The warmup-cosine learning-rate schedule: its values per epoch, and a resumed run continues it exactly."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cvd_explorer.runs import Run, train

from .run_fixtures import KILLABLE

pytestmark = pytest.mark.slow
SCHEDULED = KILLABLE.replace(lr=0.01, lr_schedule="warmup-cosine")  # 3 epochs of 6 steps


def expected_lr(epoch: int, lr: float, steps: int, epochs: int) -> float:
    """The rate after ``epoch`` epochs: warm-up over epoch 1 reaches ``lr``, then cosine decay to 0."""
    return lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) * steps / ((epochs - 1) * steps)))


def test_learning_rate_values():
    from cvd_explorer.models import learning_rate

    assert learning_rate(0.01) == 0.01
    schedule = learning_rate(0.01, "warmup-cosine", total_steps=100, warmup_steps=10)
    values = [float(schedule(step)) for step in (0, 5, 10, 55, 100, 150)]
    np.testing.assert_allclose(values, [0.0, 0.005, 0.01, 0.005, 0.0, 0.0], atol=1e-7)
    # warm-up never takes more than half of the run
    short = learning_rate(0.01, "warmup-cosine", total_steps=4, warmup_steps=10)
    np.testing.assert_allclose([float(short(s)) for s in (0, 1, 2, 4)], [0.0, 0.005, 0.01, 0.0], atol=1e-7)


@pytest.mark.timeout(300)
def test_resumed_run_continues_the_schedule(tiny_data, tmp_path):
    data = tiny_data
    reference = train(SCHEDULED, data, tmp_path / "reference", progress=False)
    lr = reference.curve("lr")
    cfg = SCHEDULED
    np.testing.assert_allclose(lr, [expected_lr(e, cfg.lr, cfg.steps_per_epoch, cfg.epochs) for e in (1, 2, 3)],
                               rtol=1e-5, atol=1e-9)

    # the same run stopped (STOP file) once epoch 1 is committed, then resumed
    out = tmp_path / "stopped"
    watcher = threading.Thread(target=_stop_after_epoch_1, args=(out,), daemon=True)
    watcher.start()
    stopped = train(SCHEDULED, data, out, progress=False)
    watcher.join(timeout=5)
    assert stopped.state == "stopped" and 1 <= len(stopped.history) < 3, stopped.history
    resumed = train(SCHEDULED, None, out, resume=True, progress=False)
    assert resumed.state == "finished" and [r["epoch"] for r in resumed.history] == [1, 2, 3]
    np.testing.assert_allclose(resumed.curve("lr"), lr, rtol=1e-6)
    for column in ("loss", "val_loss"):
        np.testing.assert_allclose(resumed.curve(column), reference.curve(column), rtol=1e-4, err_msg=column)

    # trained longer: the schedule is rebuilt for the new length (lr is no longer stuck at 0)
    longer = train(SCHEDULED.replace(epochs=5), None, tmp_path / "reference", resume=True, progress=False)
    np.testing.assert_allclose(longer.curve("lr")[3:], [expected_lr(e, cfg.lr, cfg.steps_per_epoch, 5) for e in (4, 5)],
                               rtol=1e-5, atol=1e-9)
    assert longer.curve("lr")[3] > 0


def _stop_after_epoch_1(out: Path, timeout: float = 120) -> None:
    """Create ``out/STOP`` as soon as epoch 1 is committed (``last/state.json`` written)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / "last" / "state.json").is_file():
            Run(out).request_stop()
            return
        time.sleep(0.005)
