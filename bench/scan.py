"""Cost of `cvd-explorer scan` (decode, verdicts, fingerprints, duplicate groups) against a bare decode.

Generates N photo-like JPEGs of 300 to 500 px a side (smooth colour fields, mid-frequency texture
and noise, quality 75 to 92; 2 % of them planted re-encoded or resized copies) in a temporary
folder, then times, in alternating rounds (the order flips every round), two whole processes on
the same files with the same number of worker processes: a cold scan (``scan(root, workers=2,
cache=False)``: no scan cache) and a bare two-process Pillow decode (``Image.open(path).load()``).
Each process is timed from start to exit, interpreter start-up and imports included. Prints one
JSON object: per-round times and ratios, their medians (target ratio <= 1.2; ``ratio`` is the
median of the per-round wall-time ratios), the same for CPU time (user + system of each process
tree: steadier than wall time when other jobs share the machine), and how many planted copies
the scan grouped with their original. A third process per round, a bare decode reduced as the
scan reduces JPEGs (Pillow ``draft``: DCT scaling to 1/8), shows what the scan adds to its own decode
(``ratio_vs_reduced_decode``). Usage:
``python bench/scan.py [--n 5000] [--rounds 5] [--quick]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402,F401  (quiet TensorFlow if anything imports it)

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.2
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


def make_folder(root: Path, n: int) -> list[tuple[str, str]]:
    """Write n JPEGs as root/train/{cat,dog}.<i>.jpg, 2 % of them copies; returns (copy, original) paths."""
    rng = np.random.default_rng(0)
    (root / "train").mkdir(parents=True)
    copies = max(1, n // 50)
    originals: list[np.ndarray] = []
    for i in range(n - copies):
        arr = photo(rng)
        if len(originals) < copies:
            originals.append(arr)
        (root / "train" / f"{('cat', 'dog')[i % 2]}.{i}.jpg").write_bytes(_jpeg(arr, int(rng.integers(75, 93))))
    pairs = []
    for k, arr in enumerate(originals):
        if k % 2:
            arr = np.asarray(Image.fromarray(arr).resize((arr.shape[1] // 2, arr.shape[0] // 2)))
        label = ("cat", "dog")[k % 2]
        (root / "train" / f"{label}.{n + k}.jpg").write_bytes(_jpeg(arr, 60))
        pairs.append((f"train/{label}.{n + k}.jpg", f"train/{label}.{k}.jpg"))
    return pairs


# Both children import only what their side needs and use WORKERS forked processes.
BARE_CHILD = f"""
import concurrent.futures as cf, multiprocessing, os, sys
from PIL import Image
REDUCED = sys.argv[2:] == ["reduced"]
def decode(paths):
    for path in paths:
        with Image.open(path) as im:
            if REDUCED:  # what the scan's decode alone costs: DCT scaling, as decode_reduced(path, 32)
                im.draft(None, (32, 32))
            im.load()
    return len(paths)
folder = os.path.join(sys.argv[1], "train")
paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))
chunks = [paths[i : i + 64] for i in range(0, len(paths), 64)]
with cf.ProcessPoolExecutor({WORKERS}, mp_context=multiprocessing.get_context("fork")) as pool:
    assert sum(pool.map(decode, chunks)) == len(paths)
"""
SCAN_CHILD = f"""
import json, sys
from cvd_explorer.data.scan import scan
result = scan(sys.argv[1], workers={WORKERS}, cache=False)
print(json.dumps({{"accepted": len(result.accepted), "groups": [list(g.paths) for g in result.duplicates]}}))
"""


def timed(code: str, root: Path, env: dict[str, str], *extra: str) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, its worker processes included) of ``python -c code root``
    from start to exit, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, "-c", code, str(root), *extra]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="images (default 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="about 300 images, 2 rounds: a smoke test")
    args = parser.parse_args()
    n, rounds = (300, 2) if args.quick else (args.n, args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        root = Path(tmp) / "data"
        start = time.perf_counter()
        pairs = make_folder(root, n)
        generated = time.perf_counter() - start
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               "CVD_EXPLORER_CACHE": str(Path(tmp) / "cache")}
        bare, scanned, bare_cpu, scan_cpu, reduced, reduced_cpu, found = [], [], [], [], [], [], []
        for r in range(rounds):
            sides = ["bare", "scan", "reduced"] if r % 2 == 0 else ["reduced", "scan", "bare"]
            for side in sides:
                if side == "reduced":
                    seconds, cpu, _ = timed(BARE_CHILD, root, env, "reduced")
                    reduced.append(seconds)
                    reduced_cpu.append(cpu)
                    continue
                if side == "bare":
                    seconds, cpu, _ = timed(BARE_CHILD, root, env)
                    bare.append(seconds)
                    bare_cpu.append(cpu)
                    continue
                seconds, cpu, out = timed(SCAN_CHILD, root, env)
                scanned.append(seconds)
                scan_cpu.append(cpu)
                report = json.loads(out)
                assert report["accepted"] == n, report["accepted"]
                group_of = {p: i for i, g in enumerate(report["groups"]) for p in g}
                found.append(sum(1 for c, o in pairs if c in group_of and group_of[c] == group_of.get(o)))
    ratios = [s / b for s, b in zip(scanned, bare, strict=True)]
    cpu_ratios = [s / b for s, b in zip(scan_cpu, bare_cpu, strict=True)]
    bare_s, scan_s = statistics.median(bare), statistics.median(scanned)
    print(json.dumps({
        "images": n, "planted_copies": len(pairs), "planted_found": min(found), "workers": WORKERS,
        "cpus": os.cpu_count(), "rounds": rounds, "generate_s": round(generated, 1),
        "bare_decode_s": round(bare_s, 3), "scan_s": round(scan_s, 3),
        "ratio": round(statistics.median(ratios), 3), "ratio_of_medians": round(scan_s / bare_s, 3),
        "target_ratio": TARGET_RATIO, "bare_rounds_s": [round(t, 3) for t in bare],
        "scan_rounds_s": [round(t, 3) for t in scanned], "ratio_rounds": [round(x, 3) for x in ratios],
        "reduced_decode_s": round(statistics.median(reduced), 3),
        "ratio_vs_reduced_decode": round(statistics.median(s / d for s, d in zip(scanned, reduced, strict=True)), 3),
        "cpu_ratio_vs_reduced_decode": round(
            statistics.median(s / d for s, d in zip(scan_cpu, reduced_cpu, strict=True)), 3),
        "cpu_ratio": round(statistics.median(cpu_ratios), 3), "bare_cpu_rounds_s": [round(t, 3) for t in bare_cpu],
        "scan_cpu_rounds_s": [round(t, 3) for t in scan_cpu], "load_avg_1min": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
