"""Cost of `cvd-explorer scan` (decode, verdicts, fingerprints, duplicate groups) against a bare decode.

Generates N photo-like JPEGs of 300 to 500 px a side (smooth colour fields, mid-frequency texture
and noise, quality 75 to 92; 2 % of them planted re-encoded or resized copies) in a temporary
folder, then times, in alternating rounds, a cold scan (no cache; 2 worker processes) and a bare
two-process Pillow decode of the same files (``Image.open(path).load()``). Prints one JSON object
with the median times and their ratio (target <= 1.6). Usage:
``python bench/scan.py [--n 5000] [--rounds 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import io
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402,F401  (quiet TensorFlow if anything imports it)

WORKERS = 2


def photo(rng: np.random.Generator) -> np.ndarray:
    """A (h, w, 3) uint8 photo-like image, h and w in 300..500."""
    h, w = (int(v) for v in rng.integers(300, 501, 2))
    low = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    mid = rng.normal(128, 25, (h // 8 + 1, w // 8 + 1, 3)).clip(0, 255).astype(np.uint8)
    texture = np.asarray(Image.fromarray(mid).resize((w, h), Image.Resampling.BILINEAR), np.float32) - 128
    noise = rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    out: np.ndarray = np.clip(np.asarray(low, np.float32) + texture + noise, 0, 255).astype(np.uint8)
    return out


def _jpeg(arr: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_folder(root: Path, n: int) -> int:
    """Write n JPEGs as root/train/{cat,dog}.<i>.jpg, 2 % of them copies; returns the copies."""
    rng = np.random.default_rng(0)
    (root / "train").mkdir(parents=True)
    copies = max(1, n // 50)
    originals: list[np.ndarray] = []
    for i in range(n - copies):
        arr = photo(rng)
        if len(originals) < copies:
            originals.append(arr)
        (root / "train" / f"{('cat', 'dog')[i % 2]}.{i}.jpg").write_bytes(_jpeg(arr, int(rng.integers(75, 93))))
    for k, arr in enumerate(originals):
        if k % 2:
            arr = np.asarray(Image.fromarray(arr).resize((arr.shape[1] // 2, arr.shape[0] // 2)))
        (root / "train" / f"{('cat', 'dog')[k % 2]}.{n + k}.jpg").write_bytes(_jpeg(arr, 60))
    return copies


def _bare_chunk(paths: list[str]) -> int:
    for path in paths:
        with Image.open(path) as im:
            im.load()
    return len(paths)


def bare_decode(paths: list[str]) -> float:
    """Seconds for a bare Pillow decode of every file in WORKERS forked processes."""
    start = time.perf_counter()
    size = 64
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    with cf.ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("fork")) as pool:
        assert sum(pool.map(_bare_chunk, chunks)) == len(paths)
    return time.perf_counter() - start


def cold_scan(root: Path) -> tuple[float, int]:
    """Seconds for a scan without cache (WORKERS processes), and the duplicate groups found."""
    from cvd_explorer.data.scan import scan

    start = time.perf_counter()
    result = scan(root, workers=WORKERS, cache=False)
    return time.perf_counter() - start, len(result.duplicates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="images (default 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="about 300 images, 2 rounds: a smoke test")
    args = parser.parse_args()
    n, rounds = (300, 2) if args.quick else (args.n, args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        root = Path(tmp) / "data"
        start = time.perf_counter()
        planted = make_folder(root, n)
        generated = time.perf_counter() - start
        paths = sorted(str(p) for p in (root / "train").iterdir())
        from cvd_explorer.data.fingerprint import phash_of_thumb

        phash_of_thumb(np.zeros((32, 32), np.uint8))  # scipy imported once, as the scan does
        bare, scanned, groups = [], [], 0
        for _ in range(rounds):
            bare.append(bare_decode(paths))
            seconds, groups = cold_scan(root)
            scanned.append(seconds)
    bare_s, scan_s = statistics.median(bare), statistics.median(scanned)
    print(json.dumps({
        "images": n, "planted_copies": planted, "duplicate_groups": groups, "workers": WORKERS,
        "cpus": os.cpu_count(), "rounds": rounds, "generate_s": round(generated, 1),
        "bare_decode_s": round(bare_s, 3), "scan_s": round(scan_s, 3), "ratio": round(scan_s / bare_s, 3),
        "target_ratio": 1.6, "bare_rounds_s": [round(t, 3) for t in bare],
        "scan_rounds_s": [round(t, 3) for t in scanned],
    }))


if __name__ == "__main__":
    main()
