"""The epoch loop behind :func:`cvd_explorer.runs.train`: model, data streams, per-epoch commit."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.fileio import remove_strays, write_with
from cvd_explorer.runs import files, probes
from cvd_explorer.runs.callbacks import Pace, Progress, RunCallback
from cvd_explorer.runs.folder import (
    HistoryRow,
    export_best,
    is_missing,
    log,
    parse_float,
    read_history,
    read_model_info,
    write_history,
    write_last_state,
)
from cvd_explorer.runs.setup import RunSetup
from cvd_explorer.runs.status import StatusWriter, StopSignal


def fit_epochs(
    setup: RunSetup, strategy: Any, global_batch: int, stop: StopSignal, status: StatusWriter, show: Progress
) -> None:
    """Train epochs ``setup.completed + 1 .. config.epochs``, committing each one.

    The data of epoch e is the training stream from global batch ``(e - 1) * steps_per_epoch``;
    validation takes the next ``val_steps`` batches of an endless validation stream (or the whole
    split with ``val_steps="all"``), so a resumed run sees what an uninterrupted one would.
    """
    import keras

    from cvd_explorer.data.pipeline import DatasetOptions, make_dataset
    from cvd_explorer.models import build, compile_reference, learning_rate
    from cvd_explorer.runs.safe_load import load_model_file

    out, cfg, done = setup.out, setup.config, setup.completed
    history = read_history(out, upto=done)  # later rows are from an uncommitted epoch
    repair_last(out, done)
    probes.repair(out, done)  # probe files of epochs that were not committed
    write_history(out, history)
    tb = TensorBoardLog(out, history)
    previous_policy = keras.mixed_precision.global_policy()
    keras.utils.set_random_seed(cfg.seed)
    if cfg.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy.scope():
            if done:
                model = load_model_file(out / files.LAST_DIR / files.LAST_MODEL, compile=True)
                if cfg.lr_schedule != "constant":  # resumed with more epochs: the schedule spans the new length
                    model.optimizer.learning_rate = learning_rate(
                        cfg.lr, cfg.lr_schedule, cfg.epochs * cfg.steps_per_epoch, cfg.steps_per_epoch
                    )
            else:
                model = compile_reference(
                    build(cfg.arch, cfg.image_size, cfg.weights, classes=len(setup.manifest.classes)),
                    cfg.lr, cfg.momentum, cfg.lr_schedule, cfg.epochs * cfg.steps_per_epoch, cfg.steps_per_epoch,
                    label_smoothing=cfg.label_smoothing,
                )
            model.jit_compile = cfg.xla
        best = (setup.state or {}).get("best")
        info = read_model_info(out)
        if best and (info is None or info.get("epoch") != best["epoch"]):
            export_best(out, model, best["epoch"], best["val_accuracy"])  # killed before step 5
        if done >= cfg.epochs:
            return
        recorder = probes.ProbeRecorder.open(out, model, setup.meta, setup.data_root, cfg.image_size)
        if recorder is not None:
            log(out, f"probes: {len(recorder.images)} images x {len(recorder.spec.layers)} block outputs per epoch "
                f"in {files.PROBES_DIR}/")
            if done and not probes.epoch_file(out, done).is_file():  # only if deleted: written before each commit
                recorder.record(model, done)
        steps = cfg.steps_per_epoch
        # XLA cannot compile the warp (ImageProjectiveTransformV3): with --xla it stays in the pipeline
        on_device = cfg.augment and not cfg.xla
        train_ds = make_dataset(setup.manifest, "train", cfg.image_size, global_batch, DatasetOptions(
            data_root=setup.data_root, augment=cfg.augment, seed=cfg.seed, start_batch=done * steps,
            cache=cfg.cache_images, defer_warp=on_device,
        ))
        if on_device:
            warp_in_train_step(model, cfg.image_size)
        validate = _validator(setup, model, global_batch, lambda: callback)

        def commit(epoch: int, logs: dict[str, float], train_seconds: float, epoch_seconds: float) -> None:
            nonlocal best
            row: HistoryRow = {
                "epoch": epoch, "loss": parse_float(logs.get("loss")), "accuracy": parse_float(logs.get("accuracy")),
                "val_loss": parse_float(logs.get("val_loss")), "val_accuracy": parse_float(logs.get("val_accuracy")),
                "lr": float(np.asarray(keras.ops.convert_to_numpy(model.optimizer.learning_rate))),
                "seconds": round(epoch_seconds, 3),
                "images_per_s": round(steps * global_batch / train_seconds, 2) if train_seconds > 0 else math.nan,
            }
            if recorder is not None:  # before the commit: every committed epoch has its probe file
                recorder.record(model, epoch)
            pending = out / files.LAST_DIR / f"epoch-{epoch:06d}.keras"
            write_with(pending, model.save)
            history.append(row)
            write_history(out, history)
            val_acc = row["val_accuracy"]
            improved = not math.isnan(val_acc) and (best is None or val_acc > best["val_accuracy"])
            if improved:
                best = {"epoch": epoch, "val_accuracy": val_acc}
            write_last_state(out, {"epoch": epoch, "best": best})
            os.replace(pending, out / files.LAST_DIR / files.LAST_MODEL)
            if improved:
                export_best(out, model, epoch, val_acc)
            tb.write(row)
            rate = 0.0 if math.isnan(row["images_per_s"]) else row["images_per_s"]
            text = (f"epoch {epoch}/{cfg.epochs}: loss {row['loss']:.4f} accuracy {row['accuracy']:.4f} "
                    f"val_loss {row['val_loss']:.4f} val_accuracy {row['val_accuracy']:.4f} "
                    f"{rate:.1f} img/s {row['seconds']:.1f}s{' *best*' if improved else ''}")
            log(out, text)
            show.line(text)
            status.update(force=True, epoch=epoch, step=0, phase="train" if epoch < cfg.epochs else "test",
                          images_per_s=None if math.isnan(row["images_per_s"]) else row["images_per_s"],
                          eta_seconds=round((cfg.epochs - epoch) * epoch_seconds, 1))

        hint = history[-1]["seconds"] if history and not math.isnan(history[-1]["seconds"]) else None
        callback = RunCallback(stop, status, show, Pace(cfg.epochs, steps, global_batch, hint), validate, commit)
        model.fit(train_ds, epochs=cfg.epochs, initial_epoch=done, steps_per_epoch=steps, verbose=0,
                  shuffle=False, callbacks=[callback])
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        tb.close()


def warp_in_train_step(model: Any, image_size: int) -> None:
    """Make the augmentation's warp the first op of ``model``'s train step, on its device.

    The training stream then yields ``((images uint8 (B, S, S, 3), transforms float32 (B, 8)),
    labels)`` (:class:`cvd_explorer.data.pipeline.DatasetOptions` ``defer_warp``); the step warps
    the batch (:func:`cvd_explorer.data.augment.warp`) and trains on ``(warped, labels)`` as
    before. Only this model object's ``train_step`` changes: evaluation, prediction and the saved
    ``.keras`` files hold no augmentation.
    """
    import keras
    import tensorflow as tf

    from cvd_explorer.data.augment import warp

    train_step = model.train_step

    def warped_train_step(data: Any) -> Any:
        (images, transforms), labels = data
        return train_step((warp(tf.cast(images, tf.float32), transforms), labels))

    model.train_step = warped_train_step
    # Under a tf.distribute strategy, fit builds the model's metrics from the first batch as if
    # it were (x, y); build them here from what the step passes on.
    spec = (keras.KerasTensor((None, image_size, image_size, 3), "float32"), keras.KerasTensor((None,), "float32"))
    model._maybe_symbolic_build(data_batch=spec)


def test_epoch(setup: RunSetup, stop: StopSignal, status: StatusWriter) -> dict[str, Any]:
    """Evaluate the best checkpoint on the test split (predictions.csv, summary.json)."""
    import keras

    from cvd_explorer.runs.evaluate import evaluate_run

    class Watch(keras.callbacks.Callback):  # type: ignore[misc]  # keras is untyped (Any)
        def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
            status.update(step=batch + 1)
            stop.check()

    return evaluate_run(setup.out, data_root=setup.data_root, callbacks=[Watch()])


def _validator(
    setup: RunSetup, model: Any, global_batch: int, callback: Callable[[], Any]
) -> Callable[[int], dict[str, float]]:
    """``validate(epoch) -> {"val_loss", "val_accuracy"}`` over the run's validation data."""
    from cvd_explorer.data.pipeline import DatasetOptions, make_dataset

    cfg = setup.config
    root, seed, cache = setup.data_root, cfg.seed, cfg.cache_images
    steps: int | None
    if not isinstance(cfg.val_steps, int):  # "all"
        whole = make_dataset(setup.manifest, "val", cfg.image_size, global_batch,
                             DatasetOptions(repeat=False, data_root=root, seed=seed, cache=cache))
        source: Any = lambda: whole  # noqa: E731
        steps = None
    else:
        steps = val_steps = cfg.val_steps
        stream = iter(make_dataset(setup.manifest, "val", cfg.image_size, global_batch, DatasetOptions(
            repeat=True, start_batch=setup.completed * val_steps, data_root=root, seed=seed, cache=cache,
        )))

        def source() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for _ in range(val_steps):  # the next val_steps batches of the endless stream
                images, labels = next(stream)
                yield images.numpy(), labels.numpy()

    def validate(epoch: int) -> dict[str, float]:
        logs = setup_model_evaluate(model, source(), steps, callback())
        return {"val_loss": float(logs["loss"]), "val_accuracy": float(logs["accuracy"])}

    return validate


def setup_model_evaluate(model: Any, data: Any, steps: int | None, callback: Any) -> dict[str, float]:
    """``model.evaluate`` of a Keras model with the run's callback (stop checks, heartbeat)."""
    logs: dict[str, float] = model.evaluate(data, steps=steps, verbose=0, return_dict=True, callbacks=[callback])
    return logs


def repair_last(out: Path, completed: int) -> None:
    """Finish an interrupted checkpoint rename and remove checkpoints of uncommitted epochs."""
    last = out / files.LAST_DIR
    pending = last / f"epoch-{completed:06d}.keras"
    if completed and pending.is_file():
        os.replace(pending, last / files.LAST_MODEL)
    for stray in last.glob("*.keras"):
        if stray.name != files.LAST_MODEL:
            stray.unlink()
    remove_strays(last)
    remove_strays(out)


class TensorBoardLog:
    """Per-epoch scalars in ``tensorboard/train`` and ``tensorboard/validation``.

    The folder is rewritten from the history on every start, so a resumed run holds each epoch
    once (TensorBoard would otherwise show the re-run epoch twice).
    """

    def __init__(self, out: Path, history: list[HistoryRow]) -> None:
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        folder = out / files.TENSORBOARD
        # tf.summary.scalar lives in the tensorboard package, which TensorFlow no longer pulls in;
        # tf.summary.write with the "scalars" plugin tag writes the very same events.
        self._metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        ).SerializeToString()
        shutil.rmtree(folder, ignore_errors=True)
        self._tf = tf
        self.train = tf.summary.create_file_writer(str(folder / "train"))
        self.validation = tf.summary.create_file_writer(str(folder / "validation"))
        for row in history:
            self.write(row)

    def write(self, row: HistoryRow) -> None:
        """Log one history row at step ``epoch`` (missing values are left out)."""
        step = int(row["epoch"])
        with self.train.as_default():
            for key in ("loss", "accuracy", "lr", "images_per_s"):
                if not is_missing(row.get(key)):
                    self._scalar(f"epoch_{key}", row[key], step)
        with self.validation.as_default():
            for key in ("loss", "accuracy"):
                if not is_missing(row.get(f"val_{key}")):
                    self._scalar(f"epoch_{key}", row[f"val_{key}"], step)
        self.train.flush()
        self.validation.flush()

    def _scalar(self, tag: str, value: float, step: int) -> None:
        tf = self._tf
        tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step, metadata=self._metadata)

    def close(self) -> None:
        """Flush and close the event files."""
        self.train.close()
        self.validation.close()
