"""What an Explorer explores and how: :class:`ExplorerOptions`, and the session it opens."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from cvd_explorer.explore.session import Session


@dataclass(frozen=True)
class ExplorerOptions:
    """The Explorer's settings besides its run (each is also a keyword argument of ``Explorer``).

    Attributes:
        model: a Keras model (RGB 0-255 in; P(positive) out for two classes, K probabilities for K > 2)
            when there is no run.
        images: uint8 or float ``(N, S, S, 3)`` RGB 0-255, with ``model``.
        labels: per image a class name or index 0..K-1 (two classes: 1 = ``classes[1]``), with ``model``.
        paths: per image a path or name, with ``model``.
        classes: the K class names in the model's output order (two: ``(negative, positive)``), with ``model``.
        data_root: image folder of a run copied from another machine.
        background: compute explanations on a worker thread (False: synchronously, for tests).
        cache_size: samples whose explanations are kept.
        per_page: thumbnails per gallery page.
    """

    model: Any = None
    images: Any = None
    labels: Sequence[Any] | None = None
    paths: Sequence[str | os.PathLike[str]] | None = None
    classes: tuple[str, ...] = ("cat", "dog")
    data_root: str | os.PathLike[str] | None = None
    background: bool = True
    cache_size: int = 8
    per_page: int = 12

    @classmethod
    def of(cls, options: ExplorerOptions | None, keywords: dict[str, Any]) -> ExplorerOptions:
        """``options`` (default: the defaults) with the ``keywords`` given to ``Explorer`` on top.

        Raises:
            TypeError: a keyword that is not an option, named.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(keywords) - names)
        if unknown:
            raise TypeError(f"Explorer() got an unexpected keyword argument {unknown[0]!r} "
                            f"(options: {', '.join(sorted(names))})")
        base = options or cls()
        values = {f.name: keywords.get(f.name, getattr(base, f.name)) for f in fields(cls)}
        values["classes"] = tuple(str(c) for c in values["classes"])
        values["cache_size"] = int(values["cache_size"])
        return cls(**values)


def open_session(run_or_path: Any, options: ExplorerOptions) -> tuple[Session, Any]:
    """The Explorer's :class:`Session` and its :class:`~cvd_explorer.runs.Run` (None for arrays).

    Raises:
        ValueError: both a run and a model, or neither a run nor model and images.
    """
    o = options
    if run_or_path is not None and o.model is not None:
        raise ValueError("pass either a run or model= and images=, not both")
    if run_or_path is None:
        if o.model is None or o.images is None:
            raise ValueError("nothing to explore: pass a run directory, or model= and images=")
        return Session.from_arrays(o.model, o.images, o.labels, o.paths, o.classes, cache_size=o.cache_size), None
    from cvd_explorer.runs.run import Run

    run = run_or_path if isinstance(run_or_path, Run) else Run(run_or_path, data_root=o.data_root)
    return Session.from_run(run, cache_size=o.cache_size), run
