"""Explanation metrics of a run's explanations against random maps ("ours vs random").

On a small fixed sample of test images (:func:`~cvd_explorer.report.samples.metric_sample`):
pointing game and its energy variant where ground-truth masks exist, deletion and insertion
AUC, average drop and increase in confidence of Grad-CAM; deletion, insertion and average drop
of every pixel attribution; and the cascading randomisation check (Adebayo et al. 2018) of every
method, CAMs and pixel attributions alike, in one table: "which explanations depend on what the
model learned". Every number is shown beside the same metric computed on uniform random maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cvd_explorer.report import figures
from cvd_explorer.report.blocks import Block, Cell, Figure, Table, Text
from cvd_explorer.report.samples import load_batch, load_masks, metric_sample
from cvd_explorer.runs import Run

PER_CLASS = 4  # images per class in the metric sample
CURVE_STEPS = 10  # deletion/insertion increments
RANDOMIZATION_STEPS = 6  # groups randomised from the head down
STUDY_SIZE = 224  # the pointing game's 15 px tolerance is meant for 224 px images
CHEAP_OPTIONS: dict[str, dict[str, Any]] = {"integrated-gradients": {"steps": 32}, "smoothgrad": {"samples": 10}}
"""Settings of the costlier pixel methods in the report (each runs once per randomisation step)."""
CHANGED_BELOW = 0.5  # |median Spearman| after the full cascade under this: the maps changed with the weights


@dataclass
class MethodCascade:
    """One method's randomisation check: its label, family and the check's steps."""

    method: str
    label: str
    family: str
    steps: list[dict[str, Any]]

    def median_at(self, step: int) -> float:
        """Median Spearman with the trained maps after ``step`` groups (clamped to the last)."""
        return float(self.steps[min(step, len(self.steps) - 1)]["spearman_median"])


def _row(name: str, ours: float, random: float, better: str, fmt: str = "{:.3f}") -> list[Cell]:
    return [Cell(name), Cell(fmt.format(ours), ours), Cell(fmt.format(random), random), Cell(better)]


def metric_rows(run: Run, model: Any, layer: str) -> tuple[list[list[Cell]], list[dict[str, Any]], int, int]:
    """Compute every metric for ours and random maps.

    Returns:
        ``(rows, randomization_steps, n_images, n_masks)``: table rows (name, ours, random,
        which way is better), the randomisation check's steps, the sample size and how many of
        those images had a ground-truth mask.
    """
    from cvd_explorer.explain import compute_cams
    from cvd_explorer.explain import metrics as m

    classes = run.classes
    sample = metric_sample(run.predictions or [], classes, PER_CLASS)
    size = run.config.image_size
    x = load_batch([r["path"] for r in sample], size)
    ours = compute_cams(model, x, [layer], classes=classes)[layer]
    rand = m.random_maps(ours.shape, seed=0)
    rows: list[list[Cell]] = []
    masks, found = load_masks(run.data_root, [r["relpath"] for r in sample], size)
    if len(found):
        tol = max(1, round(15 * size / STUDY_SIZE))
        rows.append(_row(f"pointing game (hit rate, ±{tol} px)", m.pointing_game(ours[found], masks, tol),
                         m.pointing_game(rand[found], masks, tol), "higher"))
        rows.append(_row("energy pointing game (share of map on the animal)",
                         float(m.energy_pointing_game(ours[found], masks).mean()),
                         float(m.energy_pointing_game(rand[found], masks).mean()), "higher"))
    for name, fn, better in (("deletion AUC", m.deletion_auc, "lower"), ("insertion AUC", m.insertion_auc, "higher")):
        rows.append(_row(name, float(fn(model, x, ours, classes=classes, steps=CURVE_STEPS).mean()),
                         float(fn(model, x, rand, classes=classes, steps=CURVE_STEPS).mean()), better))
    rows.append(_row("average drop %", m.average_drop(model, x, ours, classes=classes),
                     m.average_drop(model, x, rand, classes=classes), "lower", "{:.1f}"))
    rows.append(_row("increase in confidence %", m.increase_in_confidence(model, x, ours, classes=classes),
                     m.increase_in_confidence(model, x, rand, classes=classes), "higher", "{:.1f}"))
    steps = m.randomization_check(model, x, layer, classes=classes, max_steps=RANDOMIZATION_STEPS)
    last = steps[-1]
    rows.append(_row(f"randomisation check: median Spearman after randomising down to {last['randomized']}",
                     last["spearman_median"], last["baseline_median"], "lower (toward random)"))
    return rows, steps, len(sample), len(found)


def _sample_images(run: Run) -> np.ndarray:
    sample = metric_sample(run.predictions or [], run.classes, PER_CLASS)
    return load_batch([r["path"] for r in sample], run.config.image_size)


def pixel_metric_rows(run: Run, model: Any, layer: str) -> list[list[Cell]]:
    """Deletion, insertion and average drop of every pixel attribution, and of random maps (last row)."""
    from cvd_explorer.explain import metrics as m
    from cvd_explorer.explain.registry import PIXEL_METHODS, method_spec

    classes = run.classes
    x = _sample_images(run)

    def row(name: str, maps: np.ndarray) -> list[Cell]:
        dele = float(m.deletion_auc(model, x, maps, classes=classes, steps=CURVE_STEPS).mean())
        ins = float(m.insertion_auc(model, x, maps, classes=classes, steps=CURVE_STEPS).mean())
        drop = m.average_drop(model, x, maps, classes=classes)
        return [Cell(name), Cell(f"{dele:.3f}", dele), Cell(f"{ins:.3f}", ins), Cell(f"{drop:.1f}", drop)]

    rows = []
    for method in PIXEL_METHODS:
        maps = m.explanation_maps(model, x, method, layer, classes=classes, **CHEAP_OPTIONS.get(method, {}))
        rows.append(row(method_spec(method).label, maps))
    rows.append(row("random maps", m.random_maps((len(x), *x.shape[1:3]), seed=0)))
    return rows


def method_cascades(run: Run, model: Any, layer: str) -> list[MethodCascade]:
    """The randomisation check of every registered method on the metric sample (CAMs at ``layer``)."""
    from cvd_explorer.explain import metrics as m
    from cvd_explorer.explain.registry import SPECS

    x = _sample_images(run)
    out = []
    for spec in SPECS:
        steps = m.randomization_check(model, x, layer, spec.name, classes=run.classes, max_steps=RANDOMIZATION_STEPS,
                                      options=CHEAP_OPTIONS.get(spec.name))
        out.append(MethodCascade(spec.name, spec.label, spec.family, steps))
    return out


def cascade_rows(cascades: list[MethodCascade]) -> tuple[list[str], list[list[Cell]]]:
    """Header and rows of the "which explanations depend on what the model learned" table."""
    steps = cascades[0].steps
    top = steps[min(2, len(steps) - 1)]["randomized"]
    header = ["method", "family", "after the head", f"down to {top}", f"down to {steps[-1]['randomized']}",
              "random maps", "verdict"]
    rows = []
    for c in cascades:
        head, top_block, last = c.median_at(1), c.median_at(2), c.median_at(len(c.steps) - 1)
        verdict = "changes: depends on the weights" if abs(last) < CHANGED_BELOW else "barely changes"
        base = float(c.steps[0]["baseline_median"])
        rows.append([Cell(c.label), Cell(c.family)] + [Cell(f"{v:.2f}", v) for v in (head, top_block, last, base)]
                    + [Cell(verdict)])
    return header, rows


def metrics_blocks(run: Run, model: Any, slug: str, layer: str) -> list[Block]:
    """The metrics tables (ours vs random), a note on masks, the randomisation-check figure of
    Grad-CAM and the table and figure of every method's randomisation check."""
    rows, steps, n, n_masks = metric_rows(run, model, layer)
    blocks: list[Block] = [
        Table(
            f"{slug}-metrics", f"Explanation metrics of Grad-CAM at {layer}: ours vs random",
            ["metric", "Grad-CAM", "random maps", "better"], rows,
            f"On a fixed sample of {n} test images ({PER_CLASS} per class, first by path, right or wrong), "
            "explaining the predicted class. Each metric is also computed on uniform random maps: an "
            "explanation is only informative where it beats that column. Deletion/insertion: area under the "
            f"probability curve as pixels are blurred away / restored in the map's order ({CURVE_STEPS} steps).",
        )
    ]
    if n_masks == 0:
        blocks.append(Text(f"No ground-truth masks under {run.data_root / '_masks'}: the pointing games are "
                           "left out (the synthetic data sets have them).", "note", f"{slug}-metrics-nomasks"))
    elif n_masks < n:
        blocks.append(Text(f"The pointing games use the {n_masks} of {n} images that have a mask.", "note"))
    blocks.append(Figure(
        f"{slug}-randomization", f"Randomisation check at {layer}",
        "Weights are re-drawn group by group from the head down (on a copy of the model) and Grad-CAM recomputed. "
        "Look for the line falling toward the dashed random-map level: maps that stay correlated with the "
        "trained ones do not depend on what the model learned (Adebayo et al. 2018).",
        figures.randomization(steps, f"{run.name}: Spearman of Grad-CAM at {layer} with the trained model's maps"),
    ))
    blocks.append(Table(
        f"{slug}-pixel-metrics", "Explanation metrics of the pixel attributions: ours vs random",
        ["method", "deletion AUC (lower is better)", "insertion AUC (higher is better)",
         "average drop % (lower is better)"], pixel_metric_rows(run, model, layer),
        f"The same {n} images and target as above; maps at the input size (max of absolute values over the colour "
        f"channels). Guided Grad-CAM uses Grad-CAM at {layer}; integrated gradients run "
        f"{CHEAP_OPTIONS['integrated-gradients']['steps']} steps from a black baseline, SmoothGrad "
        f"{CHEAP_OPTIONS['smoothgrad']['samples']} noisy copies. The last row scores uniform random maps.",
    ))
    cascades = method_cascades(run, model, layer)
    header, table = cascade_rows(cascades)
    blocks.append(Table(
        f"{slug}-randomization-methods", "Which explanations depend on what the model learned",
        header, table,
        "The randomisation check of every method (Adebayo et al. 2018): weights re-drawn group by group from the "
        f"head down on a copy of the model; the median Spearman rank correlation of each method's maps ({n} images; "
        f"CAMs at {layer}, pixel methods at the input size) with the trained model's. A method whose maps stay "
        f"correlated (|median| ≥ {CHANGED_BELOW} after the whole cascade shown) does not explain what the model "
        "learned; the paper found guided backprop barely changes while Grad-CAM does. These are this run's "
        "measurements, on a small sample.",
    ))
    blocks.append(Figure(
        f"{slug}-randomization-methods-figure", "Randomisation check of every method",
        "Median Spearman with the trained maps as the cascade goes down; CAMs solid, pixel attributions dashed. "
        "Look for the lines that stay high: those maps barely change when the weights are re-drawn, so they do "
        "not show what the model learned (guided backprop in Adebayo et al. 2018).",
        figures.randomization_methods([(c.label, c.family == "pixel", c.steps) for c in cascades],
                                      f"{run.name}: every method, partly randomised model vs trained"),
    ))
    return blocks

