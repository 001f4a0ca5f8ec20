"""The Explorer's pictures of one explained sample at one layer: the CAM overlay with its note, the
feature-map grid, the prediction table and the CAM across depth. Only composing cached arrays and
encoding PNGs happens here (the engine ran before)."""

from __future__ import annotations

import html
import os
from pathlib import Path

import ipywidgets as W
import numpy as np

from cvd_explorer.explore import views
from cvd_explorer.explore.session import SampleExplanation
from cvd_explorer.render import to_png
from cvd_explorer.widgets.explorer_html import titled


class ExplanationViews:
    """``cam_image``, ``cam_note``, ``feature_image``, ``prediction`` (the row :attr:`widget`) and
    ``strip_image`` (the depth strip, :attr:`strip`); ``export_folder``, ``export_button`` and
    ``export_result`` (the row :attr:`export_row`). ``last_cam`` / ``last_feature`` are the RGB
    arrays last drawn (uint8 ``(H, W, 3)``, for the export), None when cleared."""

    def __init__(self) -> None:
        self.cam_image = W.Image(format="png", width=256)
        self.cam_image.add_class("cvd-cam")
        self.cam_note = W.HTML("")
        self.cam_note.add_class("cvd-cam-note")
        self.feature_image = W.Image(format="png", width=320)
        self.feature_image.add_class("cvd-features")
        self.strip_image = W.Image(format="png")
        self.strip_image.add_class("cvd-strip")
        self.prediction = W.HTML("")
        self.prediction.add_class("cvd-prediction")
        self.last_cam: np.ndarray | None = None
        self.last_feature: np.ndarray | None = None
        self.widget = W.HBox(
            [
                titled("CAM overlay", W.VBox([self.cam_image, self.cam_note])),
                titled("feature maps", self.feature_image),
                titled("prediction", self.prediction),
            ],
            layout=W.Layout(grid_gap="12px"),
        )
        self.strip = titled("CAM across depth", self.strip_image)
        self.export_folder = W.Text(value="explorer-export", description="folder", layout=W.Layout(width="320px"))
        self.export_button = W.Button(description="export view", icon="save")
        self.export_result = W.HTML("")
        self.export_row = W.HBox([self.export_folder, self.export_button, self.export_result],
                                 layout=W.Layout(align_items="center"))

    def draw_cam(self, se: SampleExplanation, layer: str, opacity: float, display: np.ndarray | None) -> None:
        """The CAM overlay of ``layer`` on ``display`` (the image as shown) at ``opacity``."""
        self.last_cam = views.cam_view(se, layer, opacity, display)
        self.cam_image.value = to_png(self.last_cam)

    def draw_features(self, se: SampleExplanation, layer: str, top_k: int, order: str) -> None:
        """The ``top_k`` feature maps of ``layer`` in ``order``."""
        self.last_feature = views.feature_view(se, layer, top_k, order)
        self.feature_image.value = to_png(self.last_feature)

    def draw_notes(self, se: SampleExplanation, layer: str) -> None:
        """Say when ``layer`` has no positive evidence, and a pixel method's completeness gap."""
        note = views.evidence_note(se, layer)
        text = f"<span style='color:#9a5b00'>⚠ {html.escape(note)}</span>" if note else ""
        gap = views.pixel_note(se)
        if gap:
            text += f"<div class='cvd-completeness'>{html.escape(gap)}</div>"
        self.cam_note.value = text

    def draw_strip(self, se: SampleExplanation, n: int) -> None:
        """The CAM at ``n`` layers across depth."""
        self.strip_image.value = to_png(views.strip_view(se, n))

    def clear(self, keep_strip: bool = False) -> None:
        """Empty the pictures (the depth strip too unless ``keep_strip``)."""
        self.last_cam = self.last_feature = None
        self.cam_image.value = b""
        self.cam_note.value = ""
        self.feature_image.value = b""
        if not keep_strip:
            self.strip_image.value = b""

    def export(self, folder: str | os.PathLike[str] | None, se: SampleExplanation, layer: str,
               opacity: float) -> tuple[Path, Path]:
        """Write the pictures of ``layer`` as PNG and its arrays as ``.npz`` into ``folder`` (default:
        the folder field); returns the two paths."""
        cam = self.last_cam if self.last_cam is not None else views.cam_view(se, layer, opacity)
        feats = self.last_feature if self.last_feature is not None else views.feature_view(se, layer)
        png, npz = views.export(folder or self.export_folder.value, se, layer, views.side_by_side(cam, feats))
        written = " and ".join(f"<code>{html.escape(str(p))}</code>" for p in (png, npz))
        self.export_result.value = f"wrote {written}"
        return png, npz
