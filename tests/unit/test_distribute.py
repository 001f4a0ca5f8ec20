"""Distribution: MirroredStrategy over two logical CPUs matches one device; multi-worker is refused.

Tolerance: with the same global batch and a model without BatchNormalization (whose per-replica
statistics legitimately differ), two replicas compute the same mean loss and gradients as one
device up to float32 summation order: losses after 3 SGD steps agree to 1e-5 absolute.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from .run_fixtures import REPO, TINY, cli_env, run_cli

pytestmark = pytest.mark.slow

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from cvd_explorer.config import TrainConfig
    from cvd_explorer.runs import train

    def losses(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = keras.Sequential([
                keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
            model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "binary_crossentropy")
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 1, (24, 16, 16, 3)).astype("float32")
        y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
        out = []
        for _ in range(3):
            out.append(model.fit(ds, epochs=1, verbose=0, shuffle=False).history["loss"][0])
        return out

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    result = {"single": losses(tf.distribute.get_strategy()), "mirrored": losses(mirrored),
              "replicas": mirrored.num_replicas_in_sync}
    config = TrainConfig.from_json(sys.argv[3])
    run = train(config, sys.argv[1], sys.argv[2], progress=False, strategy=mirrored)
    result["state"] = run.state
    print("RESULT " + json.dumps(result))
    """
)


@pytest.mark.timeout(300)
def test_mirrored_two_logical_cpus(tiny_data, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(tiny_data), str(out), TINY.replace(epochs=1).to_json()],
        cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=280,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[-1][7:])
    assert result["replicas"] == 2
    assert result["mirrored"] == pytest.approx(result["single"], abs=1e-5)
    assert result["state"] == "finished"
    meta = json.loads((out / "config.json").read_text())
    assert meta["distribution"] == {
        "strategy": "MirroredStrategy", "replicas": 2, "per_replica_batch": 4, "global_batch": 8,
    }
    assert meta["device"] == "2x CPU"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MULTI_WORKER_REPRO = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf, keras
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype("float32"))).batch(16).repeat()
    try:
        model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)
        print("RESULT fit worked")
    except Exception as exc:
        print("RESULT", type(exc).__name__, str(exc).splitlines()[-1][-120:])
    """
)


@pytest.mark.timeout(300)
def test_keras3_multi_worker_fit_fails_upstream(tmp_path):
    """Minimal reproduction of keras-team/keras#20585: two local workers, TF_CONFIG, model.fit.

    If this starts to print "fit worked", Keras fixed it: lift the refusal in runs/distribute.py.
    """
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    procs = []
    for index in range(2):
        env = dict(cli_env(), TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen([sys.executable, "-c", MULTI_WORKER_REPRO], env=env, cwd=tmp_path,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    results = [line for out in outputs for line in out.splitlines() if line.startswith("RESULT")]
    assert len(results) == 2, outputs
    for line in results:
        assert "PerReplica" in line and "ValueError" in line, line


def test_train_refuses_tf_config_with_several_workers(tiny_data, tmp_path):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    env = dict(cli_env(), TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    out = tmp_path / "run"
    result = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--arch", "resnet-mini", env=env)
    assert result.returncode == 2
    assert "error: multi-worker training" in result.stderr and "keras-team/keras/issues/20585" in result.stderr
    assert not out.exists()


def test_describe_default_strategy():
    import tensorflow as tf

    from cvd_explorer.runs.distribute import choose_strategy, describe

    os.environ.pop("TF_CONFIG", None)
    d = describe(choose_strategy(), 20)
    assert (d.strategy, d.replicas, d.per_replica_batch, d.global_batch, d.is_chief) == ("default", 1, 20, 20, True)
    assert d.to_json() == {"strategy": "default", "replicas": 1, "per_replica_batch": 20, "global_batch": 20}
    assert tf.distribute.get_strategy().num_replicas_in_sync == 1
