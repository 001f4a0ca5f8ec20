"""The scan against the implementation it replaced: the same verdicts and the same duplicate groups.

The reference below is the scan as it was before JPEGs were decoded reduced: every file decoded
fully with :func:`decode_image`, the thumbnail taken from that full decode, ``imagehash.phash``
on it, pixel digests for shared thumbnail keys, then the package's :func:`find_duplicates`.
"""

from __future__ import annotations

import hashlib
import io

import imagehash
import numpy as np
import pytest
from PIL import Image

from cvd_explorer.data.duplicates import CONFIRM_P99, NEAR_HAMMING, DuplicateGroup, find_duplicates, thumb_similarity
from cvd_explorer.data.fingerprint import REDUCED_SIDE, phash_of_thumb, pixel_digest
from cvd_explorer.data.layout import detect_layout
from cvd_explorer.data.loader import ImageLoadError, decode_image, decode_reduced
from cvd_explorer.data.scan import fingerprint_file, scan
from cvd_explorer.data.synthetic import generate, render_sample
from tests.unit.data_fixtures import bad_files, kaggle_tree, petimages_tree, save

Thumb = np.ndarray


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CVD_EXPLORER_CACHE", str(tmp_path_factory.mktemp("cache")))


def old_fingerprint(rgb: Image.Image) -> tuple[str, int, Thumb]:
    """``(thumb key, phash, thumb)`` exactly as the scan computed them before."""
    small = rgb.getchannel("G").resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=2.0)
    thumb = np.asarray(small, dtype=np.uint8).copy()
    bits = imagehash.phash(Image.fromarray(thumb, "L")).hash.ravel()
    phash = int.from_bytes(np.packbits(bits).tobytes(), "big")
    digest = hashlib.blake2b(digest_size=12)
    digest.update(repr((rgb.mode, rgb.size)).encode())
    digest.update(thumb.tobytes())
    return digest.hexdigest(), phash, thumb


def old_scan(root) -> tuple[dict[str, str | None], list[DuplicateGroup]]:
    """Verdicts (relative path -> reason, None when accepted) and groups of the former scan."""
    layout = detect_layout(root)
    labels = dict(layout.labelled)
    verdicts: dict[str, str | None] = {}
    decoded: dict[str, tuple[Image.Image, tuple[str, int, Thumb]]] = {}
    for rel in sorted([*labels, *layout.unlabelled]):
        try:
            rgb = decode_image(root / rel)
        except ImageLoadError as exc:
            verdicts[rel] = exc.reason
            continue
        verdicts[rel] = None
        if rel in labels:
            decoded[rel] = (rgb, old_fingerprint(rgb))
    sharing: dict[str, int] = {}
    for _, (key, _, _) in decoded.values():
        sharing[key] = sharing.get(key, 0) + 1
    prints = [(rel, pixel_digest(rgb) if sharing[key] > 1 else key, phash)
              for rel, (rgb, (key, phash, _)) in decoded.items()]
    return verdicts, find_duplicates(prints, lambda rel: decoded[rel][1][2])


def new_scan(root, workers: int = 1) -> tuple[dict[str, str | None], list[DuplicateGroup]]:
    result = scan(root, workers=workers, cache=False)
    verdicts: dict[str, str | None] = {r.path: r.reason for r in result.rejected}
    verdicts.update({p: None for p, _ in result.accepted})
    verdicts.update({p: None for p in result.unlabelled})
    return dict(sorted(verdicts.items())), result.duplicates


def assert_same(root, reduced_jpegs: bool, workers: int = 1) -> list[DuplicateGroup]:
    """Same verdicts, same groups (kind and paths); the same similarity, to 0.01 where JPEGs were reduced."""
    old_verdicts, old_groups = old_scan(root)
    verdicts, groups = new_scan(root, workers)
    assert verdicts == old_verdicts
    assert [(g.kind, g.paths) for g in groups] == [(g.kind, g.paths) for g in old_groups]
    for new, old in zip(groups, old_groups, strict=True):
        if reduced_jpegs:
            assert new.similarity == pytest.approx(old.similarity, abs=0.01), (new, old)
        else:
            assert new.similarity == old.similarity
    return groups


def _jpeg(arr: np.ndarray, quality: int = 90, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A photo-like (h, w, 3) uint8 image: smooth colour field, mid-frequency texture, noise."""
    low = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    mid = rng.normal(128, 25, (h // 8 + 1, w // 8 + 1, 3)).clip(0, 255).astype(np.uint8)
    texture = np.asarray(Image.fromarray(mid).resize((w, h), Image.Resampling.BILINEAR), np.float32) - 128
    noise = rng.normal(0, 6, (h, w, 3))
    return np.clip(np.asarray(low, np.float32) + texture + noise, 0, 255).astype(np.uint8)


def _copies(original: bytes) -> dict[str, bytes]:
    """Every kind of planted copy of one JPEG."""
    pixels = _decoded(original)
    h, w = pixels.shape[:2]
    half = np.asarray(Image.fromarray(pixels).resize((w // 2, h // 2), Image.Resampling.BILINEAR))
    return {
        "jpg": original,
        "png": _png(pixels),
        "q60.jpg": _jpeg(pixels, 60),
        "half.jpg": _jpeg(half, 85),
        "recompressed.jpg": _jpeg(_decoded(_jpeg(pixels, 85)), 80),
    }


def _oddities(folder, rng: np.random.Generator) -> None:
    """Large JPEGs of every kind the reduced decode treats differently, broken ones included."""
    base = photo(rng, 420, 380)
    data = _jpeg(base, 90)
    (folder / "cat.900.jpg").write_bytes(_jpeg(base, 90, progressive=True))
    (folder / "cat.901.jpg").write_bytes(_jpeg(np.asarray(Image.fromarray(base).convert("L").convert("RGB")), 90))
    grey = io.BytesIO()
    Image.fromarray(base).convert("L").save(grey, "JPEG", quality=90)
    (folder / "cat.902.jpg").write_bytes(grey.getvalue())
    cmyk = io.BytesIO()
    Image.fromarray(base).convert("CMYK").save(cmyk, "JPEG", quality=90)
    (folder / "cat.903.jpg").write_bytes(cmyk.getvalue())
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: decoded fully
    rotated = io.BytesIO()
    Image.fromarray(photo(rng, 400, 300)).save(rotated, "JPEG", quality=90, exif=exif)
    (folder / "dog.904.jpg").write_bytes(rotated.getvalue())
    (folder / "dog.905.jpg").write_bytes(data[: len(data) // 3])
    (folder / "dog.906.jpg").write_bytes(data[:-2])  # no EOI marker
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    (folder / "dog.907.jpg").write_bytes(bytes(flipped))
    (folder / "dog.908.jpg").write_bytes(data[:600])  # header only
    other = _jpeg(photo(rng, 330, 470), 85)
    (folder / "dog.909.jpg").write_bytes(other)
    (folder / "dog.910.png").write_bytes(_png(_decoded(other)))  # same pixels, decoded fully


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return make_photos(tmp_path_factory.mktemp("photos"))


def make_photos(root):
    """Photo-like JPEGs of 300-500 px and the 160 and 400 px synthetic scenes of test_scan, each with
    planted copies of every kind, look-alikes (same scene, other animal), and broken or odd JPEGs."""
    folder = root / "train"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(24):
        label = ("cat", "dog")[i % 2]
        if i < 8:
            h, w = (int(v) for v in rng.integers(300, 501, 2))
            original = _jpeg(photo(rng, h, w), int(rng.integers(75, 93)))
        else:
            original = _jpeg(render_sample([5, i], label, 160 if i < 16 else 400)[0], 92)
            if i % 4 == 0:
                twin = render_sample([5, i], ("dog", "cat")[i % 2], 160 if i < 16 else 400)[0]
                (folder / f"{('dog', 'cat')[i % 2]}.{500 + i}.jpg").write_bytes(_jpeg(twin, 92))
        (folder / f"{label}.{i}.jpg").write_bytes(original)
        if i % 3 == 0:
            for k, (kind, data) in enumerate(_copies(original).items()):
                (folder / f"{label}.{1000 + 10 * i + k}.{kind.split('.')[-1]}").write_bytes(data)
    _oddities(folder, rng)
    return root


def test_photos_same_verdicts_and_groups(photos):
    assert decode_reduced(photos / "train" / "dog.909.jpg", REDUCED_SIDE).scale == 8
    groups = assert_same(photos, reduced_jpegs=True)
    planted = [g for g in groups if len(g.paths) == 6]
    assert len(planted) == 8 and all(g.kind == "near" for g in planted)
    exact = {g.paths for g in groups if g.kind == "exact"}
    assert ("train/dog.909.jpg", "train/dog.910.png") in exact  # a reduced JPEG and a PNG of its pixels


def test_photos_in_worker_processes(photos):
    assert_same(photos, reduced_jpegs=True, workers=2)


def test_petimages_and_kaggle_fixtures(tmp_path):
    pet = tmp_path / "pet"
    petimages_tree(pet, n=3)
    bad_files(pet / "PetImages" / "Cat")
    save(pet / "PetImages" / "Dog" / "bmp.jpg", fmt="BMP")
    (pet / "PetImages" / "stray.jpg").write_bytes(b"")
    assert_same(pet, reduced_jpegs=False)
    kaggle = tmp_path / "kaggle"
    kaggle_tree(kaggle, n=3)
    bad_files(kaggle / "train")
    (kaggle / "test1" / "9.jpg").write_text("not an image")
    assert_same(kaggle, reduced_jpegs=False)


@pytest.mark.parametrize("size", [48, 256])
def test_synthetic_with_duplicates(tmp_path, size):
    generate(tmp_path, n=60, size=size, seed=1, duplicates=10)
    groups = assert_same(tmp_path, reduced_jpegs=size >= 64)
    assert len(groups) >= 8


def test_reduced_decode_fails_exactly_when_the_full_decode_does(tmp_path):
    data = _jpeg(photo(np.random.default_rng(4), 400, 360), 88)
    progressive = _jpeg(photo(np.random.default_rng(5), 360, 400), 88, progressive=True)
    broken = []
    for source in (data, progressive):
        broken += [source[:cut] for cut in np.linspace(200, len(source) - 1, 25).astype(int)]
        for at in np.linspace(200, len(source) - 3, 25).astype(int):
            damaged = bytearray(source)
            damaged[at] ^= 0x5A
            broken.append(bytes(damaged))
            damaged[at : at + 2] = b"\xff\xd9"  # an early end-of-image marker
            broken.append(bytes(damaged))
    outcomes = set()
    for n, blob in enumerate(broken):
        path = tmp_path / f"{n}.jpg"
        path.write_bytes(blob)
        try:
            full = decode_image(path)
            expected: tuple[str, ...] = ("ok", repr(full.size))
        except ImageLoadError as exc:
            expected = (exc.reason,)
        try:
            reduced = decode_reduced(path, REDUCED_SIDE)
            got: tuple[str, ...] = ("ok", repr(reduced.size))
            assert reduced.scale == 8
        except ImageLoadError as exc:
            got = (exc.reason,)
        assert got == expected, (n, len(blob))
        outcomes.add(expected[0])
    assert outcomes == {"ok", "corrupt"}


def test_phash_matches_imagehash():
    rng = np.random.default_rng(0)
    thumbs = [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(100)]
    thumbs += [np.asarray(Image.fromarray(photo(rng, 64, 64)).getchannel("G").resize((32, 32))) for _ in range(50)]
    quadrants = np.kron([[0, 255], [128, 0]], np.ones((16, 16))).astype(np.uint8)
    thumbs += [np.zeros((32, 32), np.uint8), np.full((32, 32), 200, np.uint8), quadrants]
    for thumb in thumbs:
        bits = imagehash.phash(Image.fromarray(thumb, "L")).hash.ravel()
        assert phash_of_thumb(thumb) == int.from_bytes(np.packbits(bits).tobytes(), "big")


def test_photos_second_scan_from_cache(photos):
    first = scan(photos)
    again = scan(photos)
    assert again.decoded == 0 and again.duplicates == first.duplicates
    assert ("train/dog.909.jpg", "train/dog.910.png") in {g.paths for g in again.duplicates if g.kind == "exact"}


@pytest.mark.parametrize("size", [128, 400])
def test_confirmation_margin_on_reduced_decodes(tmp_path, size):
    """test_scan's margins of the confirmation threshold, on thumbnails of files decoded as the scan does."""

    def fp(data: bytes, name: str):
        (tmp_path / name).write_bytes(data)
        return fingerprint_file(tmp_path / name)

    copies, lookalikes, distance = [], [], []
    for s in range(12):
        data = _jpeg(render_sample([9, s], "cat", size)[0], 92)
        original, a = _decoded(data), fp(data, "a.jpg")
        half = np.asarray(Image.fromarray(original).resize((size // 2, size // 2)))
        for variant in (_jpeg(original, 60), _jpeg(half, 85), _jpeg(_decoded(_jpeg(original, 85)), 80)):
            b = fp(variant, "b.jpg")
            copies.append(thumb_similarity(a.thumb, b.thumb)[0])
            distance.append(bin(a.phash ^ b.phash).count("1"))
        twin = fp(_jpeg(render_sample([9, s], "dog", size)[0], 92), "t.jpg")
        lookalikes.append(thumb_similarity(a.thumb, twin.thumb)[0])
    assert max(copies) <= CONFIRM_P99 - 8, copies
    assert min(lookalikes) >= CONFIRM_P99 + 10, lookalikes
    assert max(distance) <= NEAR_HAMMING - 2, distance
