"""Panels talk to the Explorer through its public linking interface only, and no widgets module
grows past 400 lines: static checks over the source (no widgets built)."""

from __future__ import annotations

import ast
from pathlib import Path

import cvd_explorer.widgets

WIDGETS = Path(cvd_explorer.widgets.__file__).parent
# what another panel may use of an Explorer: its linking methods, its selected sample, the callbacks
# it calls, and its root widget (to place it in a slot or a tab)
EXPLORER_PUBLIC = {"set_layer", "restrict", "set_badges", "sample", "on_select", "on_layer", "root"}


def _names_an_explorer(node: ast.expr) -> bool:
    """``explorer``, ``self.explorer``, ``self._explorer``, ``self._linked_explorer``, ``atlas.explorer``..."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name.lower().endswith("explorer")


def explorer_uses(source: str) -> list[tuple[int, str]]:
    """``(line, attribute)`` of every attribute read or written on an Explorer outside its public interface."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _names_an_explorer(node.value) and node.attr not in EXPLORER_PUBLIC:
            found.append((node.lineno, node.attr))
    return sorted(found)


def test_the_check_catches_a_panel_reaching_into_the_explorer() -> None:
    poking = ("self.explorer.layer_kind.value = 'conv'\nself._explorer.gallery.show_page(0)\n"
              "explorer.sort.value = 'selection'\n")
    assert explorer_uses(poking) == [(1, "layer_kind"), (2, "gallery"), (3, "sort")]
    allowed = "self.explorer.set_layer('x')\nexplorer.restrict(keys, order='selection')\nexplorer.sample = k\n"
    assert explorer_uses(allowed) == []


def test_atlas_and_compare_use_only_the_explorers_public_interface() -> None:
    modules = sorted([*WIDGETS.glob("atlas*.py"), *WIDGETS.glob("compare*.py")])
    assert {p.name for p in modules} >= {"atlas.py", "atlas_scatter.py", "atlas_depth.py", "compare.py"}
    bad = {p.name: uses for p in modules if (uses := explorer_uses(p.read_text()))}
    assert bad == {}, f"panel modules reaching into the Explorer's widgets: {bad}"


def test_atlas_views_do_not_touch_each_other() -> None:
    """A view module imports no other view module: views share the link, not widgets."""
    views = {p.stem for p in WIDGETS.glob("atlas_*.py")}
    for path in WIDGETS.glob("atlas_*.py"):
        imported = {node.module.rsplit(".", 1)[-1] for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module}
        assert not (imported & views) - {path.stem}, (path.name, imported & views)


def test_no_widgets_module_over_400_lines() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in WIDGETS.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}
