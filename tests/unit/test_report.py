"""The headless report: every figure listed, PNGs decode and are not blank, numbers match the runs."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from tests.unit.report_fixtures import other_split_copy


class Page(HTMLParser):
    """The parts of the report page the tests look at."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.figures: dict[str, dict[str, str]] = {}  # figure id -> img attributes
        self.tables: dict[str, list[list[tuple[str, str | None]]]] = {}  # id -> rows of (text, data-value)
        self.ids: dict[str, str] = {}  # id -> class of every element with an id
        self.text = ""
        self._figure: str | None = None
        self._table: str | None = None
        self._cell: list | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = a.get("class", "")
        if tag == "figure":
            self._figure = a["id"]
        elif tag == "img" and self._figure:
            self.figures[self._figure] = a
        elif tag == "div" and a.get("class") == "table":
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = ["", a.get("data-value")]

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append(tuple(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.text += data
        if self._cell is not None:
            self._cell[0] += data

    def values(self, table: str, row: str) -> list[float]:
        """The data-values of the row whose first cell is ``row``."""
        for cells in self.tables[table]:
            if cells and cells[0][0] == row:
                return [float(v) for _, v in cells[1:] if v is not None]
        raise KeyError(f"{table} has no row {row!r}")


def decode(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.fixture(scope="module")
def page(built_report) -> Page:
    return Page(built_report.page.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(built_report):
    from cvd_explorer.runs import Run

    return [Run(p) for p in built_report.runs]


def slug(run) -> str:
    return re.sub(r"[^a-z0-9]+", "-", run.name.lower()).strip("-")


@pytest.mark.slow
def test_every_expected_figure_is_listed(page, runs):
    from cvd_explorer.report.samples import pick

    for run in runs:
        s = slug(run)
        for name in ("curves", "feature-maps", "confusion", "randomization"):
            assert f"{s}-{name}" in page.figures, f"missing figure {s}-{name}"
        rows = run.predictions
        if any(pick(rows, label, True, 1) for label in run.classes):
            assert f"{s}-gradcam" in page.figures
        for label in run.classes:
            for ok, word in ((True, "right"), (False, "wrong")):
                key = f"{s}-depth-{label}-{word}"
                if pick(rows, label, ok, 1):
                    assert key in page.figures, f"missing depth strips {key}"
                    assert page.figures[key]["alt"].startswith("Grad-CAM across depth")
                else:  # an empty group says so in words, not with an empty figure
                    assert key not in page.figures and page.ids[key] == "empty"
        assert f"{s}-results" in page.ids and f"{s}-metrics" in page.ids
    assert "comparison-curves" in page.figures
    assert all(img["alt"] for img in page.figures.values())


@pytest.mark.slow
def test_every_png_decodes_is_not_blank_and_sits_beside_the_page(page, built_report):
    figure_dir = built_report.page.parent / "figures"
    assert {p.stem for p in figure_dir.glob("*.png")} == set(page.figures)
    for fid, img in page.figures.items():
        assert img["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(img["src"].split(",", 1)[1])
        assert png == (figure_dir / f"{fid}.png").read_bytes()
        pixels = decode(png)
        assert pixels.shape[0] > 50 and pixels.shape[1] > 50, fid
        assert pixels.std() > 0, f"{fid} is blank"
        assert img["data-file"] == f"figures/{fid}.png"


@pytest.mark.slow
def test_every_figure_has_a_caption(built_report):
    text = built_report.page.read_text(encoding="utf-8")
    figures = re.findall(r"<figure.*?</figure>", text, re.S)
    assert figures
    for fig in figures:
        caption = re.search(r"<figcaption>(.*?)</figcaption>", fig, re.S).group(1)
        assert len(caption) > 60 and "look" in caption.lower(), caption[:80]


@pytest.mark.slow
def test_results_tables_equal_the_summaries(page, runs):
    from cvd_explorer.report.tables import RESULT_ROWS
    from cvd_explorer.results import format_result

    for col, run in enumerate(runs):
        summary = run.summary
        for key, title, _ in RESULT_ROWS:
            assert page.values(f"{slug(run)}-results", title) == [pytest.approx(summary[key], abs=0)]
            assert page.values("comparison-results", title)[col] == pytest.approx(summary[key], abs=0)
            # the Compare panel's look: the same formatter
            row = next(cells for cells in page.tables[f"{slug(run)}-results"] if cells and cells[0][0] == title)
            assert row[1][0] == format_result(key, summary[key])


@pytest.mark.slow
def test_comparison_counts_equal_counts_from_predictions(page, runs):
    a, b = runs
    pa = {r["relpath"]: r["correct"] for r in a.predictions}
    pb = {r["relpath"]: r["correct"] for r in b.predictions}
    assert pa.keys() == pb.keys()  # same split: every test image is shared
    expected = {
        "both right": sum(pa[k] and pb[k] for k in pa),
        "both wrong": sum(not pa[k] and not pb[k] for k in pa),
        f"only {a.name} right": sum(pa[k] and not pb[k] for k in pa),
        f"only {b.name} right": sum(not pa[k] and pb[k] for k in pa),
    }
    key = f"compare-{slug(a)}-{slug(b)}"
    for row, count in expected.items():
        assert page.values(f"{key}-agreement", row) == [count]
    acc = page.values(f"{key}-accuracy", a.name)
    assert acc[0] == pytest.approx(np.mean(list(pa.values()))) and acc[1] <= acc[0] <= acc[2]
    assert page.ids[f"{key}-mcnemar"] == "verdict"
    assert "significant at 5%" in page.text
    assert f"{key}-shared" not in page.ids  # same manifests: no shared-images caveat


@pytest.mark.slow
def test_synthetic_label_and_reference_numbers(page, built_report):
    from cvd_explorer.report.tables import REFERENCE_TITLE

    assert "synthetic data" in page.text and page.ids["synthetic-note"] == "warn"
    assert REFERENCE_TITLE in page.text
    assert page.values("reference-study", "max train accuracy") == [0.96375, 0.9568]
    assert page.values("reference-study", "test loss") == [0.1692, 0.1951]
    cells = [text for text, _ in page.tables["reference-study"][1][1:]]
    assert cells == ["0.96375", "0.9568"]
    assert "93.80%" in page.text and "92.70%" in page.text


@pytest.mark.slow
def test_metrics_table_reads_ours_vs_random(page, runs):
    for run in runs:
        rows = page.tables[f"{slug(run)}-metrics"]
        assert [text for text, _ in rows[0]] == ["metric", "Grad-CAM", "random maps", "better"]
        names = [r[0][0] for r in rows[1:]]
        for prefix in ("pointing game", "energy pointing game", "deletion AUC", "insertion AUC", "average drop",
                       "increase in confidence", "randomisation check"):
            assert any(n.startswith(prefix) for n in names), f"{prefix} missing in {names}"
        for r in rows[1:]:
            assert r[1][1] is not None and r[2][1] is not None  # both columns are numbers


@pytest.mark.slow
def test_progress_counts_every_step(built_report):
    calls = built_report.progress
    total = calls[0][1]
    assert [c[0] for c in calls] == list(range(1, total + 1)) and all(c[1] == total for c in calls)
    labels = [c[2] for c in calls]
    assert any(label.startswith("Grad-CAM across depth: mini32") for label in labels)
    assert labels[-1] == "writing the page"


@pytest.mark.slow
def test_run_without_predictions_is_a_clear_error(report_runs, tmp_path):
    from cvd_explorer.errors import RunError
    from cvd_explorer.report import build_report

    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "manifest.csv", "history.csv"):
        (bare / name).write_bytes((report_runs[0] / name).read_bytes())
    with pytest.raises(RunError) as err:
        build_report([report_runs[0], bare], tmp_path / "out")
    message = str(err.value)
    assert str(bare) in message and f"cvd-explorer evaluate {bare}" in message and "\n" not in message
    assert not (tmp_path / "out").exists()  # checked before any work


@pytest.mark.slow
def test_cli_writes_the_report_and_compares_on_shared_images(report_runs, tmp_path, capsys):
    from cvd_explorer.cli import main
    from cvd_explorer.report.comparison import pair
    from cvd_explorer.runs import Run

    other = other_split_copy(report_runs[1], tmp_path / "other-split", keep=5)
    out = tmp_path / "report"
    status = main(["report", str(report_runs[0]), str(other), "--out", str(out), "--samples", "1", "--no-metrics"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"report written to {out / 'index.html'}" in captured.out
    assert re.search(r"^\[1/\d+\] training curves and results table: mini32", captured.err, re.M)
    assert (out / "index.html").is_file() and len(list((out / "figures").glob("*.png"))) >= 8
    cli_page = Page((out / "index.html").read_text(encoding="utf-8"))
    key = "compare-mini32-other-split"
    assert cli_page.ids[f"{key}-shared"] == "warn"
    assert "on the 5 test images they share only" in cli_page.text
    a, b = Run(report_runs[0]).predictions, Run(other).predictions
    p = pair(a, b, same_manifest=False)
    assert len(p.relpaths) == 5
    assert cli_page.values(f"{key}-agreement", "both right") == [int(np.sum(p.correct_a & p.correct_b))]
    assert "mini32-metrics" not in cli_page.ids  # --no-metrics


@pytest.mark.slow
def test_cli_names_the_run_without_predictions(report_runs, tmp_path, capsys):
    from cvd_explorer.cli import main

    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_bytes((report_runs[0] / "config.json").read_bytes())
    assert main(["report", str(bare), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: run {bare} has no test predictions (predictions.csv missing); " \
                      f"run `cvd-explorer evaluate {bare}` first"


@pytest.mark.parametrize("same", [True, False])
def test_pair_uses_shared_images_only(same):
    from cvd_explorer.report.comparison import pair

    rows_a = [{"relpath": f"img{i}", "correct": i % 2 == 0} for i in range(6)]
    rows_b = [{"relpath": f"img{i}", "correct": i < 3} for i in range(2, 8)]
    p = pair(rows_a, rows_b, same)
    assert p.relpaths == ["img2", "img3", "img4", "img5"] and p.only_in_a == 2 and p.only_in_b == 2
    assert p.counts() == {"both_right": 1, "both_wrong": 2, "only_a": 1, "only_b": 0}
    assert p.same_manifest is same


def test_report_sources_use_no_widgets_and_no_pyplot():
    package = Path(__file__).resolve().parents[2] / "cvd_explorer" / "report"
    for path in package.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(ipywidgets|IPython|matplotlib\.pyplot)", text, re.M), path.name
        assert "matplotlib.pyplot" not in text and "plt." not in text, path.name


@pytest.mark.parametrize(("arch", "size", "layer"), [
    ("resnet50", 32, "conv4_block6_out"),  # conv5 is 1x1 at 32 px
    ("resnet-mini", 32, "conv5_block1_out"),  # output stride 8: 4x4
])
def test_gradcam_layer_is_the_last_block_with_a_map_larger_than_one_pixel(arch, size, layer):
    from cvd_explorer.models import build
    from cvd_explorer.report.run_section import gradcam_layer

    assert gradcam_layer(build(arch, size)) == layer
