"""The atlas' K-class arithmetic (atlas/outcomes.py, atlas/labels.py) on hand-made logits and probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.atlas.labels import find_label_issues, issue_rows
from cvd_explorer.atlas.outcomes import class_probabilities, confusion, outcomes, predicted_of_logits
from cvd_explorer.atlas.schema import group_index, groups


def test_binary_outcomes_are_the_sigmoid_numbers_the_atlas_always_wrote():
    from cvd_explorer.runs.evaluate import binary_cross_entropy

    logits = np.array([-2.0, 0.0, 0.3, 4.0])
    labels = np.array([0, 1, 1, 0])
    said = outcomes(logits, labels)
    p = 1.0 / (1.0 + np.exp(-logits))
    np.testing.assert_array_equal(said.p, p)
    assert said.predicted.tolist() == [0, 0, 1, 1]  # p > 0.5, so a logit of exactly 0 is classes[0]
    assert said.correct.tolist() == [True, False, True, False]
    np.testing.assert_array_equal(said.loss, binary_cross_entropy(labels, p))
    np.testing.assert_allclose(said.probs, np.stack([1 - p, p], axis=1))
    assert predicted_of_logits(logits.astype(np.float32)).tolist() == said.predicted.tolist()


def test_k_class_outcomes_use_the_softmax_and_the_argmax():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0], [1.0, 3.0, 1.0]])
    labels = np.array([0, 1, 1])
    said = outcomes(logits, labels)
    e = np.exp(logits)
    probs = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(said.probs, probs)
    assert said.predicted.tolist() == [0, 2, 1] == predicted_of_logits(logits).tolist()
    assert said.correct.tolist() == [True, False, True]
    np.testing.assert_allclose(said.p, probs.max(axis=1))  # the predicted class's probability
    np.testing.assert_allclose(said.loss, -np.log(probs[[0, 1, 2], [0, 1, 1]]))


def test_the_softmax_does_not_overflow():
    probs = class_probabilities(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(probs, [[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, K\)"):
        class_probabilities(np.zeros((2, 2, 2)))


def test_confusion_rows_are_true_classes_and_columns_predictions():
    out = confusion(("a", "b", "c"), np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]))
    assert out == {"classes": ["a", "b", "c"], "matrix": [[1, 1, 0], [0, 1, 0], [1, 0, 2]]}


def test_mean_map_groups_for_ten_classes():
    classes = tuple(str(i) for i in range(10))
    found = groups(classes)
    assert len(found) == 20 and [g.index for g in found] == list(range(20))
    assert found[7].name == "3/misclassified"
    labels = np.array([3, 9, 0])
    assert group_index(labels, np.array([False, True, True])).tolist() == [7, 18, 0]


def test_cleanlab_with_k_classes_suggests_the_class_the_model_sees():
    rng = np.random.default_rng(0)
    k, per = 4, 60
    labels = np.repeat(np.arange(k), per)
    shown = labels.copy()
    flipped = np.array([5, 70, 130, 200, 230])
    shown[flipped] = (labels[flipped] + 1 + np.arange(5) % 3) % k
    probs = np.full((k * per, k), 0.02) + rng.uniform(0, 0.02, (k * per, k))
    probs[np.arange(k * per), shown] = 0.9
    probs /= probs.sum(axis=1, keepdims=True)
    issues = find_label_issues(labels, probs)
    assert set(flipped.tolist()) <= set(issues.suspects.tolist())
    assert len(issues.suspects) <= len(flipped) + 3
    rows = {r["path"]: r for r in issue_rows(issues, [f"i{j}" for j in range(k * per)], labels, "abcd")}
    for j in flipped:
        assert rows[f"i{j}"]["suggested"] == "abcd"[shown[j]] and rows[f"i{j}"]["label"] == "abcd"[labels[j]]


def test_binary_probabilities_give_cleanlab_the_same_answer_either_way():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 50)
    p = np.clip(np.where(labels == 1, 0.85, 0.15) + rng.normal(0, 0.1, 100), 0.01, 0.99)
    p[[3, 60]] = [0.97, 0.02]
    one = find_label_issues(labels, p)
    two = find_label_issues(labels, np.stack([1 - p, p], axis=1))
    assert one.suspects.tolist() == two.suspects.tolist() and {3, 60} <= set(one.suspects.tolist())
    np.testing.assert_allclose(one.scores, two.scores, atol=1e-6)
