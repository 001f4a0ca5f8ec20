"""A cleaned manifest from triage verdicts: the loop from the atlas back to the next training.

The Atlas panel's verdicts (``RUN/atlas/verdicts.csv``, or its export) say per image whose fault a
doubtful prediction was. ``cvd-explorer split DATA --exclude VERDICTS.csv`` applies them to the
data folder's manifest:

* ``not a cat or dog``: the image is left out;
* ``label wrong``: the image gets the other class (its split and duplicate group stay);
* ``model wrong``: nothing changes (a hard case the model must learn).

The images themselves are never touched. The result is written beside the manifest
(``manifest.cleaned.csv`` by default) with what changed recorded in its sidecar, so a training
started with ``--manifest`` on it keeps it as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cvd_explorer.data.split import Manifest, ManifestRow
from cvd_explorer.errors import DataError
from cvd_explorer.verdicts import LABEL_WRONG, MODEL_WRONG, NOT_AN_ANIMAL, Verdict

CLEANED_NAME = "manifest.cleaned.csv"


@dataclass(frozen=True)
class CleanReport:
    """What :func:`clean_manifest` changed.

    Attributes:
        removed: paths left out (``not a cat or dog``).
        relabelled: ``(path, old label, new label)``.
        kept: paths marked ``model wrong`` (unchanged).
        unknown: verdict paths that the manifest does not list (ignored).
    """

    removed: tuple[str, ...]
    relabelled: tuple[tuple[str, str, str], ...]
    kept: tuple[str, ...]
    unknown: tuple[str, ...]

    def describe(self) -> str:
        """One line for a terminal."""
        text = (f"left out {len(self.removed)} image(s) (not a cat or dog), relabelled {len(self.relabelled)} "
                f"(label wrong), kept {len(self.kept)} as they are (model wrong)")
        if self.unknown:
            text += f"; {len(self.unknown)} verdict(s) name images the manifest does not list (ignored)"
        return text


def clean_manifest(
    manifest: Manifest, verdicts: Mapping[str, Verdict], source: str = ""
) -> tuple[Manifest, CleanReport]:
    """The manifest with the verdicts applied (see the module docstring); ``manifest`` is not changed.

    Args:
        manifest: the data folder's manifest.
        verdicts: ``{path: Verdict}`` (:func:`cvd_explorer.verdicts.read_verdicts`).
        source: name of the verdicts file, recorded in the sidecar.

    Raises:
        DataError: a class would be left without any image, or a "label wrong" verdict on a manifest of
            more than two classes (which class the image belongs to is not recorded).
    """
    classes = manifest.classes
    other = {classes[0]: classes[-1], classes[-1]: classes[0]}
    rows: list[ManifestRow] = []
    removed: list[str] = []
    relabelled: list[tuple[str, str, str]] = []
    kept: list[str] = []
    listed = {row.path for row in manifest.rows}
    for row in manifest.rows:
        given = verdicts.get(row.path)
        verdict = given.verdict if given is not None else None
        if verdict == NOT_AN_ANIMAL:
            removed.append(row.path)
            continue
        if verdict == LABEL_WRONG:
            if len(classes) > 2:
                raise DataError(f"{source or 'the verdicts'}: {row.path} is marked {LABEL_WRONG!r}, but the manifest "
                                f"has {len(classes)} classes and the verdict does not say which one is right; "
                                f"mark it {NOT_AN_ANIMAL!r} to leave it out, or fix its label in the manifest")
            relabelled.append((row.path, row.label, other[row.label]))
            row = ManifestRow(row.path, other[row.label], row.split, row.group)
        elif verdict == MODEL_WRONG:
            kept.append(row.path)
        rows.append(row)
    for split in ("train", "val", "test"):
        labels = {r.label for r in rows if r.split == split}
        if any(r.split == split for r in manifest.rows) and labels != set(classes):
            raise DataError(f"the verdicts leave the {split} split without one of the classes; check them")
    report = CleanReport(tuple(removed), tuple(relabelled), tuple(kept),
                         tuple(sorted(p for p in verdicts if p not in listed)))
    cleaned: dict[str, Any] = {
        "from": manifest.path.name if manifest.path is not None else None,
        "from_sha256": manifest.sha256,
        "verdicts": source,
        "removed": list(removed),
        "relabelled": [{"path": p, "from": a, "to": b} for p, a, b in relabelled],
    }
    out = Manifest(rows, manifest.seed, manifest.classes, manifest.layout, root=manifest.root, cleaned=cleaned)
    return out, report
