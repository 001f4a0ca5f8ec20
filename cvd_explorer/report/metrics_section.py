"""Explanation metrics of a run's Grad-CAM against random maps ("ours vs random").

On a small fixed sample of test images (:func:`~cvd_explorer.report.samples.metric_sample`):
pointing game and its energy variant where ground-truth masks exist, deletion and insertion
AUC, average drop and increase in confidence, and the cascading randomisation check at the last
block. Every number is shown beside the same metric computed on uniform random maps.
"""

from __future__ import annotations

from typing import Any

from cvd_explorer.report import figures
from cvd_explorer.report.blocks import Block, Cell, Figure, Table, Text
from cvd_explorer.report.samples import load_batch, load_masks, metric_sample
from cvd_explorer.runs import Run

PER_CLASS = 4  # images per class in the metric sample
CURVE_STEPS = 10  # deletion/insertion increments
RANDOMIZATION_STEPS = 6  # groups randomised from the head down
STUDY_SIZE = 224  # the pointing game's 15 px tolerance is meant for 224 px images


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


def metrics_blocks(run: Run, model: Any, slug: str, layer: str) -> list[Block]:
    """The metrics table (ours vs random), a note on masks and the randomisation-check figure."""
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
    return blocks

