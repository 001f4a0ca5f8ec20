"""Recognise how a data folder is organised and which file belongs to which class.

Three layouts, tried in this order:

* ``petimages``: folders ``Cat`` and ``Dog`` (any case) in the root or in ``root/PetImages``
  (Microsoft's download).
* ``kaggle``: files named ``cat.<n>.<ext>`` / ``dog.<n>.<ext>`` (any case) anywhere below the root
  (Kaggle's ``train/``); other images (Kaggle's ``test1/1.jpg``) are unlabelled.
* ``split-folders``: folders already split by someone else, ``train/{cats,dogs}``,
  ``validation/{cats,dogs}`` (split names: train, training, val, valid, validation, test,
  testing); the class folders are merged across them and the tool makes its own split.
* ``folders``: exactly two sub-folders holding images, in the root or in a single wrapper folder;
  the folder names sorted are ``(negative, positive)``.

Files are candidates by name only (the content is checked by the scan): image extensions
(:data:`IMAGE_EXTENSIONS`) and files without an extension; everything else (``Thumbs.db``,
``.DS_Store``, ``*.txt``, dot-files, ...) is listed as ignored. Folders whose name starts with
``.`` or ``_`` (``.ipynb_checkpoints``, ``__MACOSX``, ``_masks``, ``_quarantine``) are skipped
entirely, and symlinked folders are not followed (no loops, never outside the root).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cvd_explorer.errors import DataError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".jpe", ".jfif", ".tif", ".tiff", ".webp"}
)
"""File name endings treated as candidate images (case-insensitive); so are names without one."""

EXPECTED = "expected train/cat.1.jpg (Kaggle), PetImages/Cat/1.jpg (Microsoft) or one folder per class"
SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "test", "testing"})
"""Folder names read as an existing split (lower case) by the ``split-folders`` layout."""
_KAGGLE_NAME = re.compile(r"^(cat|dog)\.\d+\.[^.]+$", re.IGNORECASE)


@dataclass
class Layout:
    """What :func:`detect_layout` found.

    Attributes:
        name: ``"kaggle"``, ``"petimages"``, ``"split-folders"`` or ``"folders"``.
        classes: ``(negative, positive)`` class names.
        labelled: ``(relative posix path, class name)`` pairs, sorted by path.
        unlabelled: Candidate images with no class, sorted.
        ignored: Files that are not images by name, sorted.
    """

    name: str
    classes: tuple[str, str]
    labelled: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def is_skipped_dir(name: str) -> bool:
    """Whether a folder of this name is skipped by the scan (hidden or ``_``-prefixed)."""
    return name.startswith((".", "_"))


def is_candidate(name: str) -> bool:
    """Whether a file of this name may be an image (by name only)."""
    if name.startswith("."):
        return False
    suffix = PurePosixPath(name).suffix.lower()
    return suffix == "" or suffix in IMAGE_EXTENSIONS


def walk_files(root: Path) -> tuple[list[str], list[str]]:
    """All files below ``root`` as ``(candidates, ignored)`` relative posix paths, sorted."""
    candidates: list[str] = []
    ignored: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(
            d for d in dirnames if not is_skipped_dir(d) and not os.path.islink(os.path.join(dirpath, d))
        )
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            (candidates if is_candidate(name) else ignored).append(rel)
    return sorted(candidates), sorted(ignored)


def _child_dirs(base: Path) -> dict[str, str]:
    """Non-skipped, non-symlinked sub-folders of ``base``: lower-case name -> real name."""
    try:
        entries = list(os.scandir(base))
    except OSError:
        return {}
    return {
        e.name.lower(): e.name
        for e in entries
        if e.is_dir(follow_symlinks=False) and not is_skipped_dir(e.name)
    }


def _petimages(root: Path, candidates: list[str]) -> Layout | None:
    for prefix in ("", "PetImages"):
        base = root
        if prefix:
            wrapper = _child_dirs(root).get(prefix.lower())
            if wrapper is None:
                continue
            base = root / wrapper
            prefix = wrapper + "/"
        children = _child_dirs(base)
        if "cat" in children and "dog" in children:
            folders = {f"{prefix}{children['cat']}/": "cat", f"{prefix}{children['dog']}/": "dog"}
            return _assign(("cat", "dog"), "petimages", candidates, folders)
    return None


def _kaggle(candidates: list[str]) -> Layout | None:
    labelled, unlabelled = [], []
    for rel in candidates:
        match = _KAGGLE_NAME.match(rel.rsplit("/", 1)[-1])
        if match:
            labelled.append((rel, match.group(1).lower()))
        else:
            unlabelled.append(rel)
    if not labelled:
        return None
    return Layout("kaggle", ("cat", "dog"), labelled, unlabelled)


def _image_dirs(candidates: list[str], prefix: str) -> tuple[list[str], bool]:
    """Names of sub-folders of ``prefix`` holding images, and whether files sit in it directly."""
    names: set[str] = set()
    direct = False
    for rel in candidates:
        if not rel.startswith(prefix):
            continue
        rest = rel[len(prefix):]
        if "/" in rest:
            names.add(rest.split("/", 1)[0])
        else:
            direct = True
    return sorted(names), direct


def _split_folders(candidates: list[str], prefix: str, names: list[str]) -> Layout | None:
    """``train/{a,b}`` + ``validation/{a,b}`` (+ ``test/...``) merged into classes a and b."""
    if len(names) < 2 or any(name.lower() not in SPLIT_NAMES for name in names):
        return None
    inner = {name: _image_dirs(candidates, f"{prefix}{name}/")[0] for name in names}
    class_sets = {tuple(classes) for classes in inner.values() if classes}
    if len(class_sets) != 1 or len(next(iter(class_sets))) != 2:
        return None
    classes = next(iter(class_sets))
    folders = {f"{prefix}{split}/{name}/": name for split, found in inner.items() for name in found}
    return _assign((classes[0], classes[1]), "split-folders", candidates, folders)


def _folders(root: Path, candidates: list[str]) -> Layout | None:
    prefix = ""
    names, direct = _image_dirs(candidates, prefix)
    if len(names) == 1 and not direct:
        prefix = names[0] + "/"
        names, _ = _image_dirs(candidates, prefix)
    presplit = _split_folders(candidates, prefix, names)
    if presplit is not None:
        return presplit
    if len(names) > 2:
        where = f"{root / prefix}" if prefix else f"{root}"
        raise DataError(
            f"{where}: found {len(names)} class folders ({', '.join(names)}); "
            "the tool is binary: keep exactly two class folders (move the others out, "
            "or rename them to start with '_' to skip them)"
        )
    if len(names) != 2:
        return None
    folders = {f"{prefix}{name}/": name for name in names}
    return _assign((names[0], names[1]), "folders", candidates, folders)


def _assign(classes: tuple[str, str], name: str, candidates: list[str], folders: dict[str, str]) -> Layout:
    labelled, unlabelled = [], []
    for rel in candidates:
        label = next((c for f, c in folders.items() if rel.startswith(f)), None)
        if label is None:
            unlabelled.append(rel)
        else:
            labelled.append((rel, label))
    return Layout(name, classes, labelled, unlabelled)


def detect_layout(root: str | os.PathLike[str]) -> Layout:
    """Find the layout of a data folder and label its candidate images.

    Args:
        root: The data folder.

    Returns:
        The :class:`Layout`, lists sorted by path, paths relative posix.

    Raises:
        DataError: ``root`` is missing or not a folder, holds more than two class folders, or
            holds no labelled image.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such folder; {EXPECTED}")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; {EXPECTED}")
    candidates, ignored = walk_files(root)
    layout = _petimages(root, candidates) or _kaggle(candidates) or _folders(root, candidates)
    if layout is None or not layout.labelled:
        found = f"{len(candidates)} image file(s) but none labelled" if candidates else "no image files"
        raise DataError(f"{root}: {found}; {EXPECTED}")
    layout.ignored = ignored
    return layout
