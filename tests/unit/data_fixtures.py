"""Helpers that generate tiny image files and data folders for the data tests."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def blocks(height: int = 16, width: int = 24) -> np.ndarray:
    """uint8 (H, W, 3) with four solid quadrants: red TL, green TR, blue BL, white BR."""
    arr = np.zeros((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    arr[:h, :w] = (255, 0, 0)
    arr[:h, w:] = (0, 255, 0)
    arr[h:, :w] = (0, 0, 255)
    arr[h:, w:] = (255, 255, 255)
    return arr


def save(path: Path, arr: np.ndarray | None = None, fmt: str | None = None, **kwargs) -> Path:
    """Save ``arr`` (default :func:`blocks`) to ``path`` with PIL, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(blocks() if arr is None else arr).save(path, format=fmt, **kwargs)
    return path


def distinct(index: int, height: int = 16, width: int = 24) -> np.ndarray:
    """uint8 (H, W, 3) random pixels, one image per ``index``: no two are copies of one another."""
    return np.random.default_rng([7, index]).integers(0, 256, (height, width, 3), dtype=np.uint8)


def noise_jpeg(path: Path, size: int = 48, seed: int = 0) -> Path:
    """A JPEG of random pixels (large enough that truncating it cuts scan data)."""
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return save(path, arr, "JPEG", quality=90)


def truncated_jpeg(path: Path) -> Path:
    """A JPEG cut in half."""
    noise_jpeg(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def random_bytes(path: Path, n: int = 500) -> Path:
    """Random bytes that start with no known image signature."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x01" + np.random.default_rng(1).bytes(n))
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny PNG whose IHDR claims ``width x height`` RGB pixels (decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def bad_files(folder: Path) -> dict[str, str]:
    """Write one file of every rejection kind into ``folder``; returns name -> reason."""
    (folder / "empty.jpg").parent.mkdir(parents=True, exist_ok=True)
    (folder / "empty.jpg").write_bytes(b"")
    truncated_jpeg(folder / "truncated.jpg")
    random_bytes(folder / "random.jpg")
    (folder / "text.png").write_text("this is not a picture\n")
    save(folder / "tiff.tif", fmt="TIFF")
    bomb_png(folder / "bomb.png")
    return {
        "empty.jpg": "empty",
        "truncated.jpg": "corrupt",
        "random.jpg": "not-image",
        "text.png": "not-image",
        "tiff.tif": "unsupported",
        "bomb.png": "too-large",
    }


def kaggle_tree(root: Path, n: int = 3) -> Path:
    """``root/train/{cat,dog}.<i>.jpg`` and ``root/test1/<i>.jpg`` (unlabelled), all different images."""
    for i in range(n):
        save(root / "train" / f"cat.{i}.jpg", distinct(3 * i))
        save(root / "train" / f"dog.{i}.jpg", distinct(3 * i + 1))
        save(root / "test1" / f"{i + 1}.jpg", distinct(3 * i + 2))
    return root


def petimages_tree(root: Path, n: int = 3) -> Path:
    """``root/PetImages/{Cat,Dog}/<i>.jpg`` (all different) plus ``Thumbs.db`` files."""
    for c, cls in enumerate(("Cat", "Dog")):
        for i in range(n):
            save(root / "PetImages" / cls / f"{i}.jpg", distinct(1000 + 2 * i + c))
        (root / "PetImages" / cls / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 thumbs")
    return root


def folders_tree(root: Path, names: tuple[str, ...] = ("cats", "dogs"), n: int = 3) -> Path:
    """One folder of ``n`` PNGs per class name, all different images."""
    for c, name in enumerate(names):
        for i in range(n):
            save(root / name / f"{i}.png", distinct(2000 + len(names) * i + c))
    return root
