"""The HTML report: a view-model built from results, rendered by jinja templates (autoescaped)."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from batchdigits import __version__
from batchdigits.resources import asset_dir
from batchdigits.results import ItemResult, RunCounts, Summary

CHART_HEIGHT = 60  # px, the tallest bar of the per-digit chart


@dataclass(frozen=True)
class ItemRow:
    """One table row, every value ready for the template to print."""

    index: int
    path: str
    status: str
    digit: int | None
    confidence: float | None
    confidence_percent: int | None
    alternatives_text: str
    review: bool
    reason: str | None
    thumbnail_uri: str | None
    glyph_uri: str | None


@dataclass(frozen=True)
class DigitBar:
    """A bar of the per-digit SVG chart."""

    digit: int
    count: int
    x: int
    height: int


@dataclass(frozen=True)
class ReportView:
    """Everything report.html shows."""

    title: str
    tool_version: str
    generated: str
    model: dict
    review_below_percent: int
    summary: Summary
    run: RunCounts
    bars: list[DigitBar]
    rows: list[ItemRow]
    script: str
    script_hash: str


def png_data_uri(png: bytes) -> str:
    """PNG bytes as a data: URI (thumbnails are re-encoded by Pillow, never the user's bytes)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def glyph_png(glyph: tuple[int, ...]) -> bytes:
    """(64,) values in 0..16 -> an 8x8 grayscale PNG, ink dark, as the model saw it."""
    from PIL import Image

    cells = np.asarray(glyph, dtype=np.float64).reshape(8, 8)
    pixels = (255 - np.clip(cells, 0, 16) * 255 / 16).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, format="PNG")
    return buffer.getvalue()


def alternatives_text(item: ItemResult) -> str:
    """e.g. "7 (93%) · 1 (4%) · 9 (1%)"."""
    return " · ".join(f"{digit} ({round(p * 100)}%)" for digit, p in item.alternatives)


def item_rows(items: list[ItemResult]) -> list[ItemRow]:
    """Rows for the report table, in the order given (scans give natural name order)."""
    rows = []
    for index, item in enumerate(items):
        rows.append(
            ItemRow(
                index=index,
                path=item.path,
                status=item.status,
                digit=item.digit,
                confidence=item.confidence,
                confidence_percent=None if item.confidence is None else round(item.confidence * 100),
                alternatives_text=alternatives_text(item),
                review=item.review,
                reason=item.reason,
                thumbnail_uri=png_data_uri(item.thumbnail_png) if item.thumbnail_png else None,
                glyph_uri=png_data_uri(glyph_png(item.glyph)) if item.glyph else None,
            )
        )
    return rows


def digit_bars(summary: Summary) -> list[DigitBar]:
    """Bars for counts per digit, scaled to CHART_HEIGHT."""
    peak = max([*summary.by_digit.values(), 1])
    return [
        DigitBar(digit=d, count=summary.by_digit.get(str(d), 0), x=d * 22,
                 height=round(summary.by_digit.get(str(d), 0) * CHART_HEIGHT / peak))
        for d in range(10)
    ]


def build_view(items: list[ItemResult], summary: Summary, run: RunCounts, model: dict,
               review_below: float, title: str) -> ReportView:
    """The report's view-model."""
    from markupsafe import Markup

    # Our own script, not data: it goes in verbatim and the CSP admits exactly this text.
    script = Markup((asset_dir("templates") / "report.js").read_text(encoding="utf-8"))
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return ReportView(
        title=title,
        tool_version=__version__,
        generated=run.started,
        model=model,
        review_below_percent=round(review_below * 100),
        summary=summary,
        run=run,
        bars=digit_bars(summary),
        rows=item_rows(items),
        script=script,
        script_hash=f"sha256-{digest}",
    )


def render(template_name: str, **context: object) -> str:
    """Render a template from the bundled templates folder with autoescaping on."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(str(asset_dir("templates"))),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(template_name).render(**context)


def render_report(view: ReportView) -> str:
    """report.html for a view-model."""
    return render("report.html", view=view)


def report_uri(path: Path) -> str:
    """The report's location as a file:// URI, for the CLI's last line."""
    return path.resolve().as_uri()
