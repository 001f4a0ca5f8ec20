"""One run's part of the report: the reference study's figures for that run.

Curves, the results table, feature maps across depth, Grad-CAM on sample cats and dogs, Grad-CAM
across depth for right and wrong images of each class, the confusion matrix and (optionally) the
explanation metrics.
"""

from __future__ import annotations

from typing import Any

from cvd_explorer.report import figures
from cvd_explorer.report.blocks import Block, Figure, Section, Text
from cvd_explorer.report.progress import Steps
from cvd_explorer.report.samples import Row, load_batch, load_display, pick
from cvd_explorer.report.tables import results_table
from cvd_explorer.runs import Run
from cvd_explorer.runs.imported_meta import no_history_note

FEATURE_LAYERS = 5  # conv layers shown in the feature-map figure, evenly spaced over depth
STRIP_LAYERS = 8  # conv layers per depth strip
PER_ROW = 8  # images per row of the Grad-CAM samples (K classes give many)
SYNTHETIC = "synthetic data"


def is_synthetic(run: Run) -> bool:
    """Whether the run was trained on the synthetic generator's data."""
    return bool((run.summary or {}).get("synthetic")) or (run.data_root / "synthetic.json").is_file()


def run_label(run: Run) -> str:
    """How the report names a run: ``folder (arch, N px)``."""
    cfg = run.config
    return f"{run.name} ({cfg.arch}, {cfg.image_size} px)"


def gradcam_layer(model: Any) -> str:
    """The layer single Grad-CAM maps are taken at: the last residual block output (the last conv
    layer for models without blocks), or the deepest one whose map is larger than 1×1 (a 1×1 map,
    e.g. resnet-mini at 32 px, is one constant value and localises nothing)."""
    from cvd_explorer.models import block_outputs, conv_layers, find_layer

    candidates = block_outputs(model) or conv_layers(model)
    for name in reversed(candidates):
        shape = find_layer(model, name)[0].output.shape
        if shape[1] is None or shape[1] > 1 or shape[2] > 1:
            return name
    return candidates[-1]


def run_curves(run: Run) -> figures.Curves:
    """A run's history as :class:`~cvd_explorer.report.figures.Curves`."""
    return figures.Curves(run.name, run.curve("epoch"), run.curve("accuracy"), run.curve("val_accuracy"),
                          run.curve("loss"), run.curve("val_loss"))


def _title(row: Row, run: Run, sep: str = "\n") -> str:
    """``name``, true → predicted class and a probability: P(positive) for two classes (the study's look),
    P(predicted class) for K > 2."""
    name = row["relpath"].rsplit("/", 1)[-1]
    which = run.positive if len(run.classes) == 2 else row["predicted"]
    return f"{name}{sep}{row['label']} → {row['predicted']}, P({which}) = {row['prob']:.2f}"


def _what(run: Run) -> str:
    """How the figures name the images: "cats and dogs" for the study's two classes, else "images"."""
    return "cats and dogs" if len(run.classes) == 2 else "images of each class"


class RunReport:
    """Builds one run's :class:`Section`, step by step.

    Args:
        run: a run with predictions.
        slug: unique prefix of this run's element ids.
        samples_per_cell: images per class in the Grad-CAM samples and per depth group.
    """

    def __init__(self, run: Run, slug: str, samples_per_cell: int = 2) -> None:
        self.run = run
        self.slug = slug
        self.n = max(1, int(samples_per_cell))
        self.rows: list[Row] = run.predictions or []
        self.size = run.config.image_size
        self.label = run_label(run)
        self._model = None

    @property
    def model(self) -> Any:
        """The run's best checkpoint, loaded once."""
        if self._model is None:
            self._model = self.run.load_model()
        return self._model

    def build(self, steps: Steps, metrics: bool = True) -> Section:
        """Every block of the run's section, announcing each step."""
        section = Section(f"run-{self.slug}", f"Run {self.label}", [SYNTHETIC] if is_synthetic(self.run) else [])
        steps.next(f"training curves and results table: {self.label}")
        section.blocks += self.curves_and_table()
        steps.next(f"feature maps across depth: {self.label}")
        section.blocks += self.feature_maps()
        steps.next(f"Grad-CAM on sample {_what(self.run)}: {self.label}")
        section.blocks += self.gradcam_samples()
        steps.next(f"Grad-CAM across depth: {self.label}")
        section.blocks += self.depth_groups()
        steps.next(f"confusion matrix: {self.label}")
        section.blocks += self.confusion()
        if metrics:
            from cvd_explorer.report.metrics_section import metrics_blocks

            steps.next(f"explanation metrics: {self.label}")
            section.blocks += metrics_blocks(self.run, self.model, self.slug, gradcam_layer(self.model))
        return section

    def curves_and_table(self) -> list[Block]:
        """Train/validation curves and the study's results table for this run."""
        r = self.run
        summary: dict[str, Any] = r.summary or {}
        note = f" Trained on {SYNTHETIC}." if is_synthetic(r) else ""
        untrained = no_history_note(r)  # an imported model: no curves to draw
        return [
            Text(untrained, id=f"{self.slug}-curves") if untrained else Figure(
                f"{self.slug}-curves", f"Training curves of {self.label}",
                "Accuracy (left) and loss (right) per epoch, train solid, validation dashed. Look for the gap "
                "between the two: validation falling behind train while train keeps improving means overfitting."
                + note,
                figures.training_curves([run_curves(r)]),
            ),
            results_table(
                f"{self.slug}-results", [self.label], [summary], f"Results of {self.label}",
                "The reference study's table for this run: best epoch values from history.csv, test values of "
                f"the best checkpoint on {summary.get('test_images', '?')} test images (summary.json)." + note,
            ),
        ]

    def _first_sample(self) -> Row:
        for label in self.run.classes:
            chosen = pick(self.rows, label, True, 1)
            if chosen:
                return chosen[0]
        return sorted(self.rows, key=lambda r: r["relpath"])[0]

    def feature_maps(self) -> list[Block]:
        """Feature-map grids of one test image at evenly spaced conv layers."""
        from cvd_explorer.explain import feature_maps
        from cvd_explorer.models import conv_layers
        from cvd_explorer.render import feature_grid, pick_evenly

        row = self._first_sample()
        layers = pick_evenly(conv_layers(self.model), FEATURE_LAYERS)
        acts = feature_maps(self.model, load_batch([row["path"]], self.size), layers)
        panels = [(load_display(row["path"]), _title(row, self.run))]
        for name in layers:
            maps = acts[name][0]
            h, w, c = maps.shape
            panels.append((feature_grid(maps, top_k=16, cell=48), f"{name}\n{h}×{w}, top 16 of {c} channels"))
        return [
            Figure(
                f"{self.slug}-feature-maps", f"Feature maps across depth, {self.label}",
                f"The input, then the 16 most active channels at {len(layers)} conv layers from shallow to deep "
                "(each channel scaled on its own, bright = strong). Look at how shallow layers keep edges and colours "
                "of the whole picture while deeper ones are coarser and more varied, each responding to fewer places.",
                figures.image_panels([panels]),
            )
        ]

    def gradcam_samples(self) -> list[Block]:
        """Grad-CAM at the last block for correctly predicted cats and dogs."""
        from cvd_explorer.explain import compute_cams
        from cvd_explorer.render import cam_overlay

        layer = gradcam_layer(self.model)
        chosen = {label: pick(self.rows, label, True, self.n) for label in self.run.classes}
        rows = [r for label in self.run.classes for r in chosen[label]]
        blocks: list[Block] = [
            Text(f"No correctly predicted {label} in the test split: nothing to show for it.", "empty",
                 f"{self.slug}-gradcam-none-{label}")
            for label in self.run.classes if not chosen[label]
        ]
        if not rows:
            return blocks
        cams = compute_cams(self.model, load_batch([r["path"] for r in rows], self.size), [layer],
                            classes=self.run.classes)[layer]
        pictures, overlays = [], []
        for row, cam in zip(rows, cams, strict=True):
            image = load_display(row["path"])
            pictures.append((image, _title(row, self.run)))
            overlays.append((cam_overlay(image, cam), f"Grad-CAM of {row['predicted']}\n{layer}"))
        grid = [part[i : i + PER_ROW] for i in range(0, len(pictures), PER_ROW) for part in (pictures, overlays)]
        blocks.append(Figure(
            f"{self.slug}-gradcam", f"Grad-CAM on correctly predicted {_what(self.run)}, {self.label}",
            f"Rows of test images the model got right (most confident first), each above its Grad-CAM of the "
            f"predicted class (named above each map; here also the true class) at {layer} (red = most important). "
            "Look whether the heat sits on the object (for the animals: face, ears, legs) or on the background.",
            figures.image_panels(grid),
        ))
        return blocks

    def depth_groups(self) -> list[Block]:
        """Depth strips for the four groups: each class, predicted right and wrong."""
        from cvd_explorer.explain import compute_cams
        from cvd_explorer.models import conv_layers
        from cvd_explorer.render import depth_strip, pick_evenly

        layers = pick_evenly(conv_layers(self.model), STRIP_LAYERS)
        groups = [(label, ok, pick(self.rows, label, ok, self.n)) for label in self.run.classes for ok in (True, False)]
        rows = [r for _, _, g in groups for r in g]
        x = load_batch([r["path"] for r in rows], self.size) if rows else None
        cams = compute_cams(self.model, x, layers, size="native", classes=self.run.classes) if rows else {}
        blocks: list[Block] = []
        start = 0
        for label, ok, group in groups:
            key = f"{self.slug}-depth-{label}-{'right' if ok else 'wrong'}"
            what = f"{label} predicted {'correctly' if ok else 'wrongly'}"
            if not group:
                blocks.append(Text(f"Grad-CAM across depth, {what}: no such image in the test split.", "empty", key))
                continue
            strips = []
            for i, row in enumerate(group, start):
                by_layer = {name: cams[name][i] for name in layers}
                strip = depth_strip(load_display(row["path"]), by_layer, n=STRIP_LAYERS)
                strips.append((strip, _title(row, self.run, ": ") + f" · Grad-CAM of {row['predicted']}"))
            start += len(group)
            explained = "the true class" if ok else "the wrong class it predicted"
            look = ("the maps should stay on the animal from shallow to deep" if ok else
                    "the study saw maps wander off the animal on wrong predictions: find the depth where it happens")
            blocks.append(Figure(
                key, f"Grad-CAM across depth, {what}, {self.label}",
                f"Each row is one test image ({what}{'' if ok else ', most confidently wrong first'}); "
                f"left to right Grad-CAM of the predicted class ({explained}, named in each row's title) at "
                f"{len(layers)} conv layers from shallow to deep. "
                f"Look: {look}.",
                figures.strips(strips),
            ))
        return blocks

    def confusion(self) -> list[Block]:
        """The per-class confusion matrix of the test predictions."""
        from cvd_explorer.stats import confusion_matrix

        classes = list(self.run.classes)
        matrix = confusion_matrix([r["label"] for r in self.rows], [r["predicted"] for r in self.rows], classes)
        return [Figure(
            f"{self.slug}-confusion", f"Confusion matrix, {self.label}",
            f"Counts of the {len(self.rows)} test images: rows the true class, columns the prediction. The diagonal "
            "is right; look at which off-diagonal cell is larger to see which class the model confuses more.",
            figures.confusion(matrix, classes, self.label),
        )]
