"""Headless report: the reference study's figures for one or more runs, as an HTML page and PNGs.

``build_report(runs, out)`` writes ``out/index.html`` (self-contained: figures embedded as data
URIs, CSS inline) and every figure as ``out/figures/<id>.png``. No widgets, no pyplot state.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from cvd_explorer.errors import RunError
from cvd_explorer.report.blocks import ProgressFn, Section, Text
from cvd_explorer.report.progress import Steps, run_steps
from cvd_explorer.runs import Run

__all__ = ["build_report", "check_runs"]

RunLike = Run | str | os.PathLike[str]
TITLE = "Where does the CNN look? Cats vs dogs report"


def page_title(classes: Sequence[str]) -> str:
    """The page's title: the study's for cat vs dog, else the classes named (``K classes: a, b, ...``)."""
    if {c.lower().rstrip("s") for c in classes} == {"cat", "dog"}:
        return TITLE
    shown = ", ".join(classes[:6]) + (", ..." if len(classes) > 6 else "")
    return f"Where does the CNN look? {len(classes)} classes: {shown}"


def check_runs(runs: Sequence[RunLike]) -> list[Run]:
    """Open the runs and make sure each has test predictions and a summary.

    Raises:
        RunError: no run given, or a run without ``predictions.csv``/``summary.json`` (the
            message names the run and says to run ``cvd-explorer evaluate RUN``).
    """
    opened = [r if isinstance(r, Run) else Run(r) for r in runs]
    if not opened:
        raise RunError("no run given: pass at least one run directory")
    for run in opened:
        if run.predictions is None or run.summary is None:
            missing = "predictions.csv" if run.predictions is None else "summary.json"
            raise RunError(
                f"run {run.path} has no test predictions ({missing} missing); "
                f"run `cvd-explorer evaluate {run.path}` first"
            )
    return opened


def _slugs(runs: Sequence[Run]) -> list[str]:
    slugs: list[str] = []
    for run in runs:
        base = re.sub(r"[^a-z0-9]+", "-", run.name.lower()).strip("-") or "run"
        slug, k = base, 2
        while slug in slugs:
            slug, k = f"{base}-{k}", k + 1
        slugs.append(slug)
    return slugs


def _intro(runs: Sequence[Run]) -> list[Text]:
    from cvd_explorer.report.run_section import SYNTHETIC, is_synthetic

    names = ", ".join(r.name for r in runs)
    blocks = [Text(
        f"Figures of the reference study (ResNet50 vs ResNet101 on Cats-vs-Dogs) reproduced for {names}: training "
        "curves, the results table, feature maps across depth, Grad-CAM on sample images and across depth for "
        "right and wrong predictions, confusion matrices, per-class accuracy and explanation metrics against random "
        "maps."
    )]
    synthetic = [r.name for r in runs if is_synthetic(r)]
    if synthetic:
        blocks.append(Text(
            f"{', '.join(synthetic)}: results on {SYNTHETIC} (generated cartoon animals with known masks), not on the "
            "Kaggle photos; they show how the tool works, not how the study's models behave.", "warn", "synthetic-note",
        ))
    return blocks


def _write(out: Path, html: str, sections: Sequence[Section]) -> Path:
    from cvd_explorer.report.html import FIGURE_DIR

    figure_dir = out / FIGURE_DIR
    figure_dir.mkdir(parents=True, exist_ok=True)
    written = set()
    for section in sections:
        for fig in section.figures():
            (figure_dir / fig.filename).write_bytes(fig.png)
            written.add(fig.filename)
    for stale in figure_dir.glob("*.png"):  # figures of an earlier report in the same folder
        if stale.name not in written:
            stale.unlink()
    page = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(page)
    return page


def build_report(
    runs: Sequence[RunLike],
    out: str | os.PathLike[str],
    *,
    progress: ProgressFn | None = None,
    samples_per_cell: int = 2,
    metrics: bool = True,
) -> Path:
    """Write the report of ``runs`` into the folder ``out``.

    Args:
        runs: run directories or :class:`~cvd_explorer.runs.Run` objects (use ``Run(path,
            data_root=...)`` for a run whose images moved), each with test predictions.
        out: output folder (created); holds ``index.html`` and ``figures/*.png`` afterwards
            (PNGs of an earlier report there that this one does not write are removed).
        progress: ``progress(step, total, label)`` before each step (e.g.
            ``(3, 12, "Grad-CAM across depth: run (resnet-mini, 32 px)")``).
        samples_per_cell: images per class in the Grad-CAM samples and per group of the
            Grad-CAM-across-depth figures (cat right, cat wrong, dog right, dog wrong).
        metrics: compute the explanation metrics (about 10-30 s per small run on a CPU).

    Returns:
        Path of ``index.html``.

    Raises:
        RunError: a run has no predictions (run ``cvd-explorer evaluate RUN``), or no run given.
    """
    from cvd_explorer import __version__
    from cvd_explorer.report.atlas_section import atlas_sections
    from cvd_explorer.report.comparison import comparison_section
    from cvd_explorer.report.html import render_page
    from cvd_explorer.report.per_class import per_class_section
    from cvd_explorer.report.probes_section import probe_sections
    from cvd_explorer.report.run_section import RunReport, run_label
    from cvd_explorer.report.tables import reference_table

    opened = check_runs(runs)
    slugs = _slugs(opened)
    steps = Steps(len(opened) * run_steps(metrics) + (1 if len(opened) > 1 else 0) + 1, progress)
    sections = [
        RunReport(run, slug, samples_per_cell).build(steps, metrics) for run, slug in zip(opened, slugs, strict=True)
    ]
    sections.append(per_class_section(opened, [run_label(r) for r in opened]))
    sections += probe_sections(opened, slugs)  # runs with probes: where the model looked, epoch by epoch
    if len(opened) > 1:
        steps.next(f"comparison of {len(opened)} runs")
        sections.append(comparison_section(opened, slugs))
    sections.extend(atlas_sections(opened, slugs))
    sections.append(Section("reference-study-section", "The reference study's numbers", [], [reference_table()]))
    steps.next("writing the page")
    footer = f"Generated by cvd_explorer {__version__}."
    html = render_page(page_title(opened[0].classes), _intro(opened), sections, footer)
    return _write(Path(out).expanduser().absolute(), html, sections)
