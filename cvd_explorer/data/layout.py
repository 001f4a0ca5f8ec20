"""Recognise how a data folder is organised and which file belongs to which class.

Layouts, tried in this order:

* ``petimages``: folders ``Cat`` and ``Dog`` (any case) and no other, in the root or in ``root/PetImages``
  (Microsoft's download). Binary.
* ``oxford-pet``: the Oxford-IIIT Pet data set, ``images/<Breed_Name>_<n>.jpg`` (with
  ``annotations/`` beside it, or alone), in the root or in a single wrapper folder. The class is the file
  name without its trailing ``_<n>``: 37 breeds, capitalised ones cats (``Abyssinian``), lower-case
  ones dogs (``american_bulldog``). ``classes="species"`` collapses them to ``("cat", "dog")``
  (dog positive, the reference study's task); the default ``"breeds"`` keeps the breeds. The
  trimaps under ``annotations/`` are masks, not samples: they are listed as ignored (read them
  with :mod:`cvd_explorer.data.masks`).
* ``kaggle``: files named ``cat.<n>.<ext>`` / ``dog.<n>.<ext>`` (any case) anywhere below the root
  (Kaggle's ``train/``); other images (Kaggle's ``test1/1.jpg``) are unlabelled. Binary. Not when every
  image is named after its own folder and some are neither cats nor dogs (``cat/cat.1.jpg``,
  ``fox/fox.1.jpg``: ``synth --classes N``): that is the ``folders`` layout.
* ``split-folders``: folders already split by someone else, ``train/{cats,dogs,...}``,
  ``validation/{cats,dogs,...}`` (split names: train, training, val, valid, validation, test,
  testing); the class folders are merged across them and the tool makes its own split.
* ``folders``: K >= 2 sub-folders holding images, one per class, in the root or in a single
  wrapper folder.

Class order: the class names sorted as strings (Python's ``sorted``), which is the index order of
the manifest and the model. Names are never read as numbers: folders ``0`` ... ``10`` give the
classes ``"0", "1", "10", "2", ...`` (``"10"`` sorts before ``"2"``); upper case sorts before lower
case. With two classes the first is the negative, the second the positive one.

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

EXPECTED = (
    "expected train/cat.1.jpg (Kaggle), PetImages/Cat/1.jpg (Microsoft), images/Abyssinian_1.jpg "
    "(Oxford-IIIT Pet) or one folder per class"
)
SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "test", "testing"})
"""Folder names read as an existing split (lower case) by the ``split-folders`` layout."""
_KAGGLE_NAME = re.compile(r"^(cat|dog)\.\d+\.[^.]+$", re.IGNORECASE)
_OXFORD_NAME = re.compile(r"^(?P<breed>[^/]+?)_\d+(?:\.[^./]+)?$")
OXFORD_CLASSES = ("breeds", "species")
"""Values of ``classes`` for the Oxford-IIIT Pet layout (the first is the default)."""


@dataclass
class Layout:
    """What :func:`detect_layout` found.

    Attributes:
        name: ``"kaggle"``, ``"petimages"``, ``"oxford-pet"``, ``"split-folders"`` or ``"folders"``.
        classes: K >= 2 class names in index order (sorted; with two, ``(negative, positive)``).
        labelled: ``(relative posix path, class name)`` pairs, sorted by path.
        unlabelled: Candidate images with no class, sorted.
        ignored: Files that are not images by name (and the Oxford trimaps), sorted.
        class_mode: ``"breeds"`` or ``"species"`` for the ``oxford-pet`` layout, else None.
    """

    name: str
    classes: tuple[str, ...]
    labelled: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    class_mode: str | None = None


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
        # Exactly Cat and Dog: a third class folder beside them (bird/, cat/, dog/) is a K-class `folders` tree.
        if set(children) == {"cat", "dog"}:
            folders = {f"{prefix}{children['cat']}/": "cat", f"{prefix}{children['dog']}/": "dog"}
            return _assign(("cat", "dog"), "petimages", candidates, folders)
    return None


def _oxford_base(root: Path) -> tuple[str, str] | None:
    """The ``images/`` and ``annotations/`` prefixes of an Oxford-IIIT Pet tree, else None.

    They sit in the root or in its single sub-folder; ``images/`` beside ``annotations/``, or
    alone (the images download without the annotations).
    """
    base, children = "", _child_dirs(root)
    if "images" not in children and len(children) == 1:
        base = next(iter(children.values())) + "/"
        children = _child_dirs(root / base)
    if "images" not in children or not ("annotations" in children or len(children) == 1):
        return None
    return f"{base}{children['images']}/", f"{base}{children.get('annotations', 'annotations')}/"


def oxford_class(name: str, classes: str = "breeds") -> str | None:
    """The class of an Oxford-IIIT Pet file name (``Abyssinian_12.jpg`` -> ``"Abyssinian"``), or None.

    With ``classes="species"``: ``"cat"`` for a capitalised breed, ``"dog"`` for a lower-case one.
    """
    match = _OXFORD_NAME.match(name)
    if match is None:
        return None
    breed = match["breed"]
    if classes == "species":
        return "cat" if breed[0].isupper() else "dog"
    return breed


def _oxford(root: Path, candidates: list[str], classes: str) -> Layout | None:
    found = _oxford_base(root)
    if found is None:
        return None
    images, annotations = found
    labelled, unlabelled, ignored = [], [], []
    for rel in candidates:
        rest = rel[len(images):] if rel.startswith(images) else ""
        if "/" in rest:  # class folders inside images/: not this layout
            return None
        label = oxford_class(rest, classes) if rest else None
        if label is not None:
            labelled.append((rel, label))
        elif rel.startswith(annotations):
            ignored.append(rel)
        else:
            unlabelled.append(rel)
    names = tuple(sorted({c for _, c in labelled}))
    if len(names) < 2:
        return None
    return Layout("oxford-pet", names, labelled, unlabelled, ignored, class_mode=classes)


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
    if unlabelled and all(_in_own_class_folder(rel) for rel in candidates):
        return None  # cat/cat.1.jpg beside fox/fox.1.jpg: a folder per class (as `synth --classes N` writes)
    return Layout("kaggle", ("cat", "dog"), labelled, unlabelled)


def _in_own_class_folder(rel: str) -> bool:
    """Whether ``rel`` is ``.../<name>/<name>.<n>.<ext>`` (the file named after its folder)."""
    path = PurePosixPath(rel)
    stem, _, rest = path.name.partition(".")
    return stem.lower() == path.parent.name.lower() != "" and rest.split(".", 1)[0].isdigit()


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


def _split_folders(root: Path, candidates: list[str], prefix: str, names: list[str]) -> Layout | None:
    """``train/{a,b,...}`` + ``validation/{a,b,...}`` (+ ``test/...``) merged into classes a, b, ..."""
    if len(names) < 2 or any(name.lower() not in SPLIT_NAMES for name in names):
        return None
    inner = {name: _image_dirs(candidates, f"{prefix}{name}/")[0] for name in names}
    class_sets = {tuple(classes) for classes in inner.values() if classes}
    if len(class_sets) != 1:
        return None
    classes = next(iter(class_sets))
    if len(classes) == 1:
        raise DataError(
            f"{root / prefix}: the split folders ({', '.join(names)}) hold the single class folder "
            f"{classes[0]!r}; a classifier needs at least two class folders; {EXPECTED}"
        )
    folders = {f"{prefix}{split}/{name}/": name for split, found in inner.items() for name in found}
    return _assign(classes, "split-folders", candidates, folders)


def _folders(root: Path, candidates: list[str]) -> Layout | None:
    prefix = ""
    names, direct = _image_dirs(candidates, prefix)
    if len(names) == 1 and not direct:
        prefix = names[0] + "/"
        names, direct = _image_dirs(candidates, prefix)
        if not names and direct:  # a single folder of images: one class
            names = [prefix[:-1]]
            prefix = ""
    presplit = _split_folders(root, candidates, prefix, names)
    if presplit is not None:
        return presplit
    if len(names) == 1:
        where = f"{root / prefix}" if prefix else f"{root}"
        raise DataError(
            f"{where}: found a single class folder {names[0]!r}; a classifier needs at least two "
            f"class folders; {EXPECTED}"
        )
    if len(names) < 2:
        return None
    folders = {f"{prefix}{name}/": name for name in names}
    return _assign(tuple(names), "folders", candidates, folders)


def _assign(classes: tuple[str, ...], name: str, candidates: list[str], folders: dict[str, str]) -> Layout:
    labelled, unlabelled = [], []
    for rel in candidates:
        label = next((c for f, c in folders.items() if rel.startswith(f)), None)
        if label is None:
            unlabelled.append(rel)
        else:
            labelled.append((rel, label))
    return Layout(name, classes, labelled, unlabelled)


def detect_layout(root: str | os.PathLike[str], *, classes: str | None = None) -> Layout:
    """Find the layout of a data folder and label its candidate images.

    Args:
        root: The data folder.
        classes: For the Oxford-IIIT Pet layout, ``"breeds"`` (37 classes, the default when None)
            or ``"species"`` (cat, dog); any other layout refuses a value other than None.

    Returns:
        The :class:`Layout`, lists sorted by path, paths relative posix.

    Raises:
        DataError: ``root`` is missing or not a folder, holds a single class folder or no
            labelled image, or ``classes`` does not apply to its layout.
    """
    root = Path(root)
    if classes is not None and classes not in OXFORD_CLASSES:
        raise DataError(f"classes={classes!r}: expected one of {', '.join(OXFORD_CLASSES)} (Oxford-IIIT Pet)")
    if not root.exists():
        raise DataError(f"{root}: no such folder; {EXPECTED}")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; {EXPECTED}")
    candidates, ignored = walk_files(root)
    layout = (
        _petimages(root, candidates) or _oxford(root, candidates, classes or OXFORD_CLASSES[0])
        or _kaggle(candidates) or _folders(root, candidates)
    )
    if layout is None or not layout.labelled:
        found = f"{len(candidates)} image file(s) but none labelled" if candidates else "no image files"
        raise DataError(f"{root}: {found}; {EXPECTED}")
    if classes is not None and layout.class_mode is None:
        raise DataError(
            f"{root}: classes={classes!r} applies to the Oxford-IIIT Pet layout only (images/<Breed>_<n>.jpg "
            f"beside annotations/); this folder has the {layout.name} layout, whose classes are "
            f"{', '.join(layout.classes)}"
        )
    layout.ignored = sorted([*ignored, *layout.ignored])
    return layout
