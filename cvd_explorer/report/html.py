"""The report as one self-contained HTML page: inline CSS, figures embedded as data URIs.

The page opens offline and can be mailed as a single file; each figure also links to its PNG
beside the page (``figures/<id>.png``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from cvd_explorer.report.blocks import Block, Figure, Section, Table, Text

FIGURE_DIR = "figures"

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 1.5em; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.7em; margin-bottom: .2em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.6em; }
nav ul { columns: 2; padding-left: 1.2em; } nav a { color: #0b57d0; }
.badge { display: inline-block; font-size: .6em; vertical-align: middle; margin-left: .6em; padding: .15em .6em;
         border-radius: 1em; background: #fff3cd; color: #7a5800; border: 1px solid #e0c36a; font-weight: 600; }
table { border-collapse: collapse; margin: .5em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f4f6; }
.table-title { font-weight: 600; margin-top: 1.2em; }
.caption, figcaption { color: #444; font-size: .92em; max-width: 60em; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
figure .title { font-weight: 600; margin-bottom: .3em; }
p.warn { background: #fff3cd; border-left: 4px solid #e0a800; padding: .5em .8em; }
p.empty { background: #f3f4f6; border-left: 4px solid #999; padding: .5em .8em; font-style: italic; }
p.verdict { font-weight: 600; }
footer { margin-top: 3em; color: #777; font-size: .85em; }
"""


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _id(value: str | None) -> str:
    return f' id="{escape(value)}"' if value else ""


def render_text(block: Text) -> str:
    """A paragraph with the block's kind as CSS class."""
    return f'<p class="{escape(block.kind)}"{_id(block.id)}>{escape(block.text)}</p>'


def render_table(block: Table) -> str:
    """A table; number cells carry their exact value in ``data-value``."""
    head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
    body = []
    for row in block.rows:
        cells = []
        for i, cell in enumerate(row):
            tag = "th" if i == 0 else "td"
            value = f' data-value="{cell.value!r}"' if cell.value is not None else ""
            cells.append(f"<{tag}{value}>{escape(cell.text)}</{tag}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = f'<p class="caption">{escape(block.caption)}</p>' if block.caption else ""
    return (f'<div class="table"{_id(block.id)}><p class="table-title">{escape(block.title)}</p>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{caption}</div>")


def render_figure(block: Figure) -> str:
    """A figure: the embedded PNG, its title and caption, and a link to the PNG file."""
    link = f"{FIGURE_DIR}/{block.filename}"
    return (
        f'<figure{_id(block.id)}><div class="title">{escape(block.title)}</div>'
        f'<img src="{data_uri(block.png)}" alt="{escape(block.title)}" data-file="{escape(link)}">'
        f'<figcaption>{escape(block.caption)} <a href="{escape(link)}">PNG</a></figcaption></figure>'
    )


def render_block(block: Block) -> str:
    """Any block."""
    if isinstance(block, Figure):
        return render_figure(block)
    if isinstance(block, Table):
        return render_table(block)
    return render_text(block)


def render_section(section: Section, level: int = 2) -> str:
    """A section with its heading, badges, blocks and subsections."""
    badges = "".join(f'<span class="badge">{escape(b)}</span>' for b in section.badges)
    parts = [f'<section{_id(section.id)}><h{level}>{escape(section.title)}{badges}</h{level}>']
    parts += [render_block(b) for b in section.blocks]
    parts += [render_section(s, min(level + 1, 6)) for s in section.subsections]
    parts.append("</section>")
    return "\n".join(parts)


def render_page(title: str, intro: Sequence[Block], sections: Sequence[Section], footer: str) -> str:
    """The whole page.

    Args:
        title: page title and main heading.
        intro: blocks under the heading (before the table of contents).
        sections: the report's sections in order.
        footer: one line at the bottom (tool and version).
    """
    toc = "".join(f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in sections)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        *(render_block(b) for b in intro),
        f'<nav><ul>{toc}</ul></nav>',
        *(render_section(s) for s in sections),
        f"<footer>{escape(footer)}</footer>",
        "</body></html>",
    ])
