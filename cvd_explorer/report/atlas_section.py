"""The report's "Atlas" section: per run with a current atlas, the embedding as a static figure, the
depth curves, the top suspected label errors with thumbnails, the underperforming slices (when the atlas
has them) and the duplicates table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cvd_explorer.report.blocks import Block, Cell, Figure, Section, Table, Text

if TYPE_CHECKING:
    from cvd_explorer.atlas.result import AtlasData
    from cvd_explorer.explore.atlas_view import AtlasPoint
    from cvd_explorer.runs import Run

TOP_SUSPECTS = 12
PER_ROW = 6


def atlas_sections(runs: Sequence[Run], slugs: Sequence[str]) -> list[Section]:
    """One "Atlas" section with a subsection per run (a note for a run without a current atlas)."""
    from cvd_explorer.atlas import find_atlas

    subsections = []
    for run, slug in zip(runs, slugs, strict=True):
        atlas = find_atlas(run)
        title = f"Atlas: run {run.name}"
        if atlas is None:
            subsections.append(Section(f"atlas-{slug}", title, [], [Text(
                f"No current atlas for this run: compute it with `cvd-explorer atlas {run.path}`.", "empty")]))
            continue
        subsections.append(Section(f"atlas-{slug}", title, [], run_blocks(run, atlas, slug)))
    return [Section("atlas-section", "Atlas: every test image at once", [], [Text(
        "Each point is one image of the test split, placed by a UMAP embedding of the features the model's head "
        "sees; the depth curves measure, per conv layer, how the maps of correct and misclassified images differ "
        "(mean with 95% interval); the suspects are cleanlab's suspected label errors.")], subsections)]


def run_blocks(run: Run, atlas: AtlasData, slug: str) -> list[Block]:
    """Figures and tables of one run's atlas."""
    from cvd_explorer.atlas.curves import CURVE_TITLES
    from cvd_explorer.explore import atlas_view as av
    from cvd_explorer.explore.atlas_figures import depth_png, embedding_png
    from cvd_explorer.report.slices_section import slice_blocks

    classes = list(run.classes)
    points = av.atlas_points(atlas.rows, lambda p: str(run.image_path(p)))
    wrong = sum(not p.correct for p in points)
    blocks: list[Block] = [Figure(
        f"atlas-embedding-{slug}", "Embedding of the test split",
        f"{len(points)} images, {wrong} misclassified (dark, outlined); circles: suspected label errors.",
        embedding_png(points, classes))]
    depth = atlas.depth
    for curve in ("agreement_with_last", "mass_in_mask"):
        series = av.depth_series(depth, curve)
        if series:
            blocks.append(Figure(
                f"atlas-depth-{curve.replace('_', '-')}-{slug}", f"Depth curve: {CURVE_TITLES[curve]}",
                "Per conv layer, input to output: mean and 95% interval for correct and misclassified images.",
                depth_png(series, list(depth.layers), title=CURVE_TITLES[curve], classes=classes)))
    blocks.extend(suspect_blocks(run, points, slug))
    blocks.extend(slice_blocks(atlas.summary, atlas.folder, run.image_path,
                               {p.path: (p.prediction, p.correct) for p in points}, slug))
    blocks.append(duplicates_table(points, slug))
    blocks.extend(Text(str(note), "note") for note in atlas.summary.get("notes", []))
    return blocks


def suspect_blocks(run: Run, points: Sequence[AtlasPoint], slug: str) -> list[Block]:
    """The most suspicious labels (cleanlab) as thumbnails, most suspicious first."""
    from cvd_explorer.explore import atlas_view as av
    from cvd_explorer.report import figures

    suspects = av.triage(points, "suspected label error", "label-issue score")[:TOP_SUSPECTS]
    if not suspects:
        return [Text("cleanlab suspects no label of this split.", "empty", f"atlas-suspects-{slug}")]
    from cvd_explorer.data.loader import load_image

    cells = []
    for p in suspects:
        try:
            picture = load_image(p.key, size=(96, 96))
        except Exception:  # a moved or broken image: a grey tile, the table still names it
            import numpy as np

            picture = np.full((96, 96, 3), 200, np.uint8)
        cells.append((picture, f"{p.name}\nlabel {p.label}, model {p.prediction} ({p.confidence:.0%})\n"
                               f"score {p.label_score:.3f}"))
    rows = [cells[i : i + PER_ROW] for i in range(0, len(cells), PER_ROW)]
    return [Figure(f"atlas-suspects-{slug}", "Top suspected label errors",
                   "cleanlab's label-quality score, lowest (most suspicious) first: check these labels first.",
                   figures.image_panels(rows))]


def duplicates_table(points: Sequence[AtlasPoint], slug: str) -> Table:
    """Duplicate groups among the split's images (from the atlas rows' ``group``); "copy in another split"
    is the rows' own ``copy_elsewhere`` flag, so the caption's count is the CLI's leakage count."""
    groups: dict[str, list[AtlasPoint]] = {}
    for p in points:
        if p.group:
            groups.setdefault(p.group, []).append(p)
    rows = [[Cell(group), Cell(str(len(members)), len(members)), Cell(", ".join(m.path for m in members)),
             Cell("yes" if any(m.copy_elsewhere for m in members) else "no")]
            for group, members in sorted(groups.items())]
    leaked = sum(p.copy_elsewhere for p in points)
    caption = ("No duplicate groups among these images (or the manifest predates the duplicate scan)." if not rows
               else "Groups of exact or near copies; 'yes': the group also has images in another split (leakage): "
                    f"{leaked} image(s) of this split.")
    return Table(f"atlas-duplicates-{slug}", "Duplicates", ["group", "images", "paths", "copy in another split"],
                 rows, caption)
