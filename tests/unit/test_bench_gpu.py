"""bench/gpu.py: without a GPU one JSON line and exit 0 at once; its sections run (tiny, on the CPU)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH / "gpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_a_gpu_prints_one_json_line_and_exits_0(tmp_path: Path) -> None:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(BENCH / "gpu.py"), "--folder", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert answer["gpu"] is False and answer["reason"]
    assert seconds < 60  # "a few seconds" (a generous bound: the machine is shared); nothing was generated
    assert not any(tmp_path.iterdir())


def test_no_gpu_from_tensorflow_says_so() -> None:
    import tensorflow as tf

    answer = load_bench().no_gpu(tf)
    if tf.config.list_physical_devices("GPU"):
        assert answer is None
    else:
        assert answer is not None and answer["gpu"] is False and answer["tensorflow"] == tf.__version__


def test_sections_run_on_a_tiny_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU sections themselves, at 32 px with resnet-mini on the CPU: the JSON they add (without XLA,
    whose compilation takes minutes on a CPU)."""
    gpu = load_bench()
    monkeypatch.setattr(gpu, "XLA", False)
    monkeypatch.setattr(gpu, "SIZE", 32)
    monkeypatch.setattr(gpu, "TRAIN_BATCH", 4)
    monkeypatch.setattr(gpu, "EXPLAIN_BATCH", 2)
    from _common import synthetic_manifest

    from cvd_explorer.models import build

    manifest = synthetic_manifest(tmp_path / "data", 16, 40)
    now = time.perf_counter()
    train = gpu.train_section("resnet-mini", manifest, now)
    assert train["rounds"] == 1 and train["batch"] == 4 and train["mixed_precision"] and not train["xla"]
    assert train["images_per_s_memory"] > 0 and train["images_per_s_pipeline"] > 0
    assert train["pipeline_vs_memory"] > 0 and isinstance(train["input_bound"], bool)
    model = build("resnet-mini", 32)
    explain = gpu.explain_section(model, now)
    assert explain["all_layers_vs_floor"] > 0 and explain["rounds"] == 1
    atlas = gpu.atlas_section(model, now)
    assert atlas["images_per_s"] > 0
    report = gpu.Report(now)
    report.data["train"] = train
    report.emit(timed_out=False)
    report.emit(timed_out=True)  # printed once only
