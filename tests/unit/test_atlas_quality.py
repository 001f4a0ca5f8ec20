"""What the atlas must find, measured on a run trained like the demo (planted label errors and copies).

The fixture (:mod:`tests.unit.demo_fixture`) trains the demo's config on the demo's data: 2,000
synthetic images (4% drawn as the other class than their file name says, 40 planted copies) through
``cvd_explorer.runs.train``, cached. Thresholds, with margins, from the trainings listed in
:data:`MEASURED`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.demo_fixture import copy_run, demo_like_run, truth

pytestmark = pytest.mark.slow

MIN_FLIP_RECALL = 0.8  # planted flips of the test split among the suspects
MIN_SUSPECT_PRECISION = 0.5  # suspects that are planted flips
MIN_COPIES_FOUND = 0.95


@pytest.fixture(scope="module")
def demo_atlas(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from cvd_explorer.atlas import compute_atlas

    run = copy_run(demo_like_run(), tmp_path_factory.mktemp("demo-atlas") / "run")
    return run, compute_atlas(run)


@pytest.mark.timeout(1800)
def test_planted_label_errors_are_suspected(demo_atlas) -> None:  # type: ignore[no-untyped-def]
    run, atlas = demo_atlas
    flipped = {f["path"] for f in truth(run)["flipped"]}
    test_paths = {r.path for r in atlas.rows}
    planted = flipped & test_paths
    suspects = {e["path"] for e in atlas.summary["suspected_label_errors"]}
    assert len(planted) >= 5, "the demo data should put some flipped images in the test split"
    recall = len(planted & suspects) / len(planted)
    precision = len(planted & suspects) / max(1, len(suspects))
    print(f"\nflips in test {len(planted)}, suspects {len(suspects)}, recall {recall:.3f}, precision {precision:.3f}")
    assert recall >= MIN_FLIP_RECALL
    assert precision >= MIN_SUSPECT_PRECISION
    # the suggested label of a found flip is the drawn class
    shown = {f["path"]: f["shown"] for f in truth(run)["flipped"]}
    for entry in atlas.summary["suspected_label_errors"]:
        if entry["path"] in shown:
            assert entry["suggested"] == shown[entry["path"]]


def test_planted_copies_are_found_and_kept_in_one_split(demo_atlas) -> None:  # type: ignore[no-untyped-def]
    from cvd_explorer.data.scan import scan
    from cvd_explorer.runs import Run

    run, atlas = demo_atlas
    data = Path(Run(run).data_root)
    copies = truth(run)["copies"]
    groups = scan(data).duplicates
    group_of = {p: k for k, g in enumerate(groups) for p in g.paths}
    found = sum(1 for c in copies if c["path"] in group_of and group_of.get(c["copy_of"]) == group_of[c["path"]])
    print(f"\ncopies planted {len(copies)}, found {found}, groups {len(groups)}")
    assert found / len(copies) >= MIN_COPIES_FOUND
    # no group holds two different images: every member is the original or a planted copy of it
    original = {c["path"]: c["copy_of"] for c in copies}
    for g in groups:
        roots = {original.get(p, p) for p in g.paths}
        assert len(roots) == 1, g
    # the split kept each group together: nothing leaks
    assert atlas.summary["leakage"]["test_images_with_copy_elsewhere"] == 0


def test_depth_curves_show_the_studys_claim(demo_atlas) -> None:  # type: ignore[no-untyped-def]
    _, atlas = demo_atlas
    depth = atlas.summary["depth"]
    mass = depth["mass_in_mask"]
    print(f"\nmass in mask at {depth['layers'][-1]}: correct {mass['correct'][-1]:.3f} "
          f"misclassified {mass['misclassified'][-1]:.3f}; n {depth['n']['mass_in_mask']['misclassified'][-1]}")
    assert atlas.summary["misclassified"] >= 5
    assert mass["correct"][-1] > mass["misclassified"][-1]
    lo_correct = depth["intervals"]["mass_in_mask"]["correct"][-1][0]
    assert lo_correct > mass["misclassified"][-1]
