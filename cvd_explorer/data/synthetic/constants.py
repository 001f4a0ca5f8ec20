"""Names, file names and the demo's settings of the synthetic generator."""

from __future__ import annotations

from typing import Any

GENERATOR_VERSION = 2  # 2: bigger animals, heads and ears; lighter clutter (learnable at 64 px)
LABELS = ("cat", "dog")
"""The two kinds of the binary output (``classes=2``), in class order."""
CASES = ("normal", "person", "both", "occluded")
HARD_CASES = ("person", "both", "occluded")
META_NAME = "synthetic.json"
TRUTH_NAME = "synth-truth.json"
"""Planted label flips and copies, at the data root: not an image, so the scan ignores it."""
MASK_DIR = "_masks"
JPEG_QUALITY = 92
COPY_KINDS = ("exact", "reencoded", "resized", "lossless", "recompressed")
"""How planted copies are written, in turn: the same bytes; JPEG quality 60; half the size (JPEG
85); PNG of the decoded pixels (the same pixels, another file); decoded and saved again at 80."""

# The demo: data and training settings with which resnet-mini learns this generator on 2 CPU
# cores (tests/unit/test_synthetic_learnable.py). Measured (generator v2, 2 shared cores):
# test accuracy 0.972 (9 of 320 wrong: 8 normal, 1 occluded) after 151 s of training (2,752 steps),
# whole test 249 s with generation; animals removed: accuracy 0.48, mean P(dog) gap +0.03;
# 8x8 patch-shuffled: accuracy 0.49. Tried: no augmentation memorizes (val ~0.55); lr 0.02 for
# 1,720 steps 0.92; batch 64 lr 0.1 for 1,155 steps 0.73 (validation swings while BN settles).
DEMO_DATA: dict[str, Any] = {"n": 2000, "size": 128, "seed": 0}
# What the demo plants for the atlas to find: 4% of the images drawn as the other class than their
# name says (label errors), and 40 copies (exact, re-encoded, resized), the truth in synth-truth.json.
DEMO_PLANTED: dict[str, Any] = {"label_noise": 0.04, "duplicates": 40}
DEMO_TRAIN: dict[str, Any] = {
    "arch": "resnet-mini",
    "image_size": 64,
    "batch_size": 32,
    "steps_per_epoch": 86,  # two passes over the 1,360 training images
    "val_steps": "all",
    "epochs": 32,
    "lr": 0.05,
    "momentum": 0.9,
    "augment": True,  # without it resnet-mini memorizes the 1,360 images (val ~55 %)
    "cache_images": True,
}
