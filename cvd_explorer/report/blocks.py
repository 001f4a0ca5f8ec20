"""The report's building blocks: text, tables, figures and sections, rendered by :mod:`.html`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# progress(step, total, label): called before each step of the report, counted from 1.
ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text (escaped when rendered).

    Attributes:
        text: the paragraph.
        kind: CSS class: ``"note"`` (neutral), ``"warn"`` (a caveat), ``"empty"`` (a group with no
            images), ``"verdict"`` (a test's result in words).
        id: optional element id, so tests and links can find it.
    """

    text: str
    kind: str = "note"
    id: str | None = None


@dataclass(frozen=True)
class Cell:
    """A table cell: the text shown and, for numbers, the exact value (``data-value``)."""

    text: str
    value: float | int | None = None


@dataclass(frozen=True)
class Table:
    """A table with a title and a caption saying how to read it.

    Attributes:
        id: element id.
        title: shown above the table.
        header: column titles.
        rows: one list of cells per row; the first cell is the row's name.
        caption: shown under the table.
    """

    id: str
    title: str
    header: list[str]
    rows: list[list[Cell]]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    """A PNG figure.

    Attributes:
        id: element id and file stem (``figures/<id>.png``).
        title: short title; also the ``alt`` text of the image.
        caption: what to look at in the figure.
        png: the encoded image.
    """

    id: str
    title: str
    caption: str
    png: bytes

    @property
    def filename(self) -> str:
        """File name of the PNG beside the page."""
        return f"{self.id}.png"


Block = Text | Table | Figure


@dataclass
class Section:
    """A titled part of the page (one run, the comparison, the reference numbers).

    Attributes:
        id: element id (anchor of the table of contents).
        title: heading.
        badges: short labels shown beside the heading (e.g. "synthetic data").
        blocks: content in order; nested sections come after the blocks.
    """

    id: str
    title: str
    badges: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)

    def figures(self) -> list[Figure]:
        """Every figure of this section and its subsections, in page order."""
        found = [b for b in self.blocks if isinstance(b, Figure)]
        for sub in self.subsections:
            found.extend(sub.figures())
        return found
