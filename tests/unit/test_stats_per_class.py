"""Per-class accuracy with Wilson intervals and the shared mistakes (cvd_explorer.stats), and the K x K
confusion figure of the report."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from cvd_explorer.stats import per_class_accuracy, shared_mistakes

Z95 = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    """The Wilson score interval written out (Wilson 1927), to check the library-backed one against."""
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    return centre - half, centre + half


def test_per_class_accuracy_is_each_class_recall_with_its_wilson_interval() -> None:
    labels = ["a"] * 10 + ["b"] * 4 + ["c"] * 6
    predicted = ["a"] * 7 + ["b"] * 3 + ["b"] * 4 + ["a"] * 6
    result = per_class_accuracy(labels, predicted, ["a", "b", "c", "d"])
    assert list(result) == ["a", "b", "c", "d"]
    for name, (k, n) in {"a": (7, 10), "b": (4, 4), "c": (0, 6)}.items():
        ci = result[name]
        assert ci is not None and ci.n == n and ci.value == pytest.approx(k / n)
        low, high = wilson(k, n)
        assert (ci.low, ci.high) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))
        assert ci.low <= ci.value <= ci.high
    assert result["d"] is None  # no image of that class


def test_per_class_accuracy_refuses_unknown_labels_and_unpaired_lists() -> None:
    with pytest.raises(ValueError, match="'z'"):
        per_class_accuracy(["a", "z"], ["a", "a"], ["a", "b"])
    with pytest.raises(ValueError, match="paired"):
        per_class_accuracy(["a", "b"], ["a"], ["a", "b"])


def test_shared_mistakes_split_by_the_wrong_class() -> None:
    labels = ["0", "1", "2", "3", "4", "5"]
    a = ["0", "2", "0", "1", "4", "0"]  # wrong on 1, 2, 3, 5
    b = ["1", "2", "1", "2", "3", "0"]  # wrong on 0, 1, 2, 3, 4, 5
    mistakes = shared_mistakes(a, b, labels)
    # both wrong: 1 (2 / 2 same), 2 (0 / 1 different), 3 (1 / 2 different), 5 (0 / 0 same)
    assert (mistakes.same, mistakes.different) == (2, 2)
    with pytest.raises(ValueError, match="same length"):
        shared_mistakes(a, b[:3], labels)


def test_confusion_figure_of_ten_classes_is_a_heatmap_of_the_counts() -> None:
    from PIL import Image

    from cvd_explorer.report.figures import confusion

    classes = [str(i) for i in range(10)]
    matrix = np.zeros((10, 10), np.int64)
    matrix[np.arange(10), np.arange(10)] = 5
    matrix[3, 7] = 9
    png = confusion(matrix, classes, "ten classes")
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert pixels.shape[0] > 400 and pixels.shape[1] > 400  # it grows with K (the binary one is 360 x 320)
    dark = (pixels[..., 2] > 80) & (pixels[..., 0] < 40)  # the darkest blue: the largest count's cell
    assert dark.sum() > 200
    with pytest.raises(ValueError, match=r"\(10, 10\)"):
        confusion(matrix[:3], classes, "wrong shape")
