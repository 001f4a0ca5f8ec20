"""The TrainingPanel's form: the training's settings and folders, each with its validation message,
read into a :class:`~cvd_explorer.config.TrainConfig` by the config's own rules and the run folder's
(:func:`~cvd_explorer.runs.folder_check.check_run_folder`)."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as W

from cvd_explorer.config import ARCHITECTURES, TrainConfig
from cvd_explorer.errors import ConfigError, CvdError, RunError
from cvd_explorer.runs import files
from cvd_explorer.runs.folder import recorded_config, recorded_data_root
from cvd_explorer.runs.folder_check import check_run_folder
from cvd_explorer.runs.imported_meta import NO_HISTORY, is_imported_folder
from cvd_explorer.runs.probes import DEFAULT_PROBES, recorded_images

# form field -> TrainConfig field (the two folders are not config fields)
CONFIG_FIELDS = ("arch", "epochs", "image_size", "batch_size", "lr", "steps_per_epoch", "val_steps")
_MSG_STYLE = "color:#a40000;font-size:90%"


class TrainingForm:
    """The fields ``arch``, ``epochs``, ``image_size``, ``batch_size``, ``lr``, ``steps_per_epoch``,
    ``val_steps``, ``probes``, ``data_folder``, ``run_folder`` (by name in :attr:`fields`), their
    :attr:`messages` and the box of them all (:attr:`widget`).

    Args:
        base: the config the form starts from (and whose other settings it keeps).
        data: the data folder, or None.
        out: the run folder, or None.
    """

    def __init__(self, base: TrainConfig, data: str | os.PathLike[str] | None,
                 out: str | os.PathLike[str] | None) -> None:
        self.base = base
        self.mode = "new"
        wide = {"description_width": "120px"}
        self.arch = W.Dropdown(options=list(ARCHITECTURES), value=base.arch, description="architecture", style=wide)
        self.epochs = W.IntText(value=base.epochs, description="epochs", continuous_update=True, style=wide)
        self.image_size = W.IntText(value=base.image_size, description="image size (px)", continuous_update=True,
                                    style=wide)
        self.batch_size = W.IntText(value=base.batch_size, description="batch size", continuous_update=True,
                                    style=wide)
        self.lr = W.FloatText(value=base.lr, description="learning rate", continuous_update=True, style=wide)
        self.steps_per_epoch = W.IntText(value=base.steps_per_epoch, description="steps per epoch",
                                         continuous_update=True, style=wide)
        self.val_steps = W.Text(value=str(base.val_steps), description="val steps (N|all)", style=wide)
        self.probes = W.IntText(value=DEFAULT_PROBES, description="probes", style=wide,
                                tooltip="test images whose CAMs are saved after every epoch (0: none); a resumed "
                                        "run keeps its own")
        self.data_folder = W.Text(value=str(data or ""), description="data folder", placeholder="folder of images",
                                  style=wide, layout=W.Layout(width="520px"))
        self.run_folder = W.Text(value=str(out or ""), description="run folder", placeholder="where the run is written",
                                 style=wide, layout=W.Layout(width="520px"))
        self.fields: dict[str, W.ValueWidget] = {
            "arch": self.arch, "epochs": self.epochs, "image_size": self.image_size, "batch_size": self.batch_size,
            "lr": self.lr, "steps_per_epoch": self.steps_per_epoch, "val_steps": self.val_steps,
            "probes": self.probes, "data": self.data_folder, "out": self.run_folder,
        }
        self.messages: dict[str, W.HTML] = {name: W.HTML("") for name in self.fields}
        self.widget = W.VBox([W.HBox([widget, self.messages[name]]) for name, widget in self.fields.items()])

    @property
    def run_dir(self) -> Path | None:
        """The run folder (absolute), or None when empty."""
        text = self.run_folder.value.strip()
        return Path(text).expanduser().absolute() if text else None

    @property
    def data(self) -> str | None:
        """The data folder as typed, or None when empty."""
        return self.data_folder.value.strip() or None

    def read(self) -> tuple[TrainConfig | None, dict[str, str]]:
        """The form's config (None if invalid) and the messages of the invalid fields by name;
        sets :attr:`mode` ("new", or "resume" for the run found in the run folder)."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = {name: self.fields[name].value for name in CONFIG_FIELDS}
        text = str(values["val_steps"]).strip()
        values["val_steps"] = text if text == "all" else _int_or_text(text)
        for name in CONFIG_FIELDS:  # one field at a time, so each shows its own message
            try:
                self.base.replace(**{name: values[name]})
            except CvdError as exc:
                errors[name] = str(exc)
        config = None
        if not errors:
            try:
                config = self.base.replace(**values)
            except CvdError as exc:  # a rule between fields; its field (or the first one) shows it
                field = exc.field if isinstance(exc, ConfigError) else None
                errors[field if field in self.fields else "arch"] = str(exc)
        if self.probes.value < 0:
            errors["probes"] = "probes: give a whole number >= 0 (0: no probes)"
        errors.update(self._check_folders(config))
        return (config if not errors else None), errors

    def show(self, errors: dict[str, str]) -> None:
        """Write each field's message (empty when it is valid)."""
        for name, widget in self.messages.items():
            message = errors.get(name, "")
            widget.value = f'<span style="{_MSG_STYLE}">{html.escape(message)}</span>' if message else ""

    def set_disabled(self, disabled: bool) -> None:
        """Lock the fields while a training runs."""
        for widget in self.fields.values():
            widget.disabled = disabled

    def _check_folders(self, config: TrainConfig | None) -> dict[str, str]:
        """Messages for the data and run folders (:func:`check_run_folder`'s rules); sets :attr:`mode`.

        Start resumes the run found in the run folder, else starts one. A run that has finished
        its epochs is not started again: raise epochs to train longer.
        """
        self.mode = "new"
        out = self.run_dir
        if out is None:
            return {"out": "run folder: give a folder for the run"}
        decision = check_run_folder(out, config, data=self.data, resume=True)
        if decision.action == "refuse" and decision.field is None and config is None:
            # no valid config yet (its fields say why): check the folders as for the form's base config
            decision = check_run_folder(out, self.base, data=self.data, resume=True)
        if decision.action == "refuse":
            return {decision.field or "out": decision.reason}
        if decision.action == "resume":
            self.mode = "resume"
            if decision.meta is not None:
                self.probes.value = len(recorded_images(decision.meta))  # the run's own, fixed
            if decision.finished and config is not None:
                return {"epochs": f"epochs: the run finished its {decision.completed} epochs; raise epochs to "
                                  "train longer"}
        return {}


def resolve_source(
    source: Any, data: str | os.PathLike[str] | None, out: str | os.PathLike[str] | None
) -> tuple[TrainConfig, Any, Any]:
    """(form config, data folder, run folder) from the TrainingPanel's arguments: a config, its dict, or
    a run folder (an existing run gives its recorded config and data folder).

    Raises:
        RunError: the folder holds a run whose config cannot be read.
        TypeError: ``source`` is none of these.
    """
    if source is None:
        return TrainConfig(), data, out
    if isinstance(source, TrainConfig):
        return source, data, out
    if isinstance(source, Mapping):
        return TrainConfig.from_dict(dict(source)), data, out
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source).expanduser().absolute()
        if is_imported_folder(folder):
            raise RunError(f"{folder} holds an {NO_HISTORY} (cvd-explorer import): there is no training to "
                           "watch or resume; open it with Explorer, Atlas or Compare")
        recorded = recorded_config(folder) if (folder / files.CONFIG).is_file() else None
        if (folder / files.CONFIG).is_file() and recorded is None:
            raise RunError(f"{folder} holds a run whose config.json cannot be read")
        if recorded is not None and data is None:
            root = recorded_data_root(folder)
            data = str(root) if root is not None else None
        return recorded or TrainConfig(), data, out if out is not None else folder
    raise TypeError(f"TrainingPanel takes a TrainConfig or a run directory, got {type(source).__name__}")


def _int_or_text(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text
