"""The HTML report: a view-model built from results, rendered by jinja templates (autoescaped)."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from batchdigits import __version__
from batchdigits.evaluate import NONE_COLUMN, confusion_counts
from batchdigits.resources import asset_dir
from batchdigits.results import ItemResult, RunCounts, Summary

CHART_HEIGHT = 60  # px, the tallest bar of the per-digit chart
# Rows per page: measured, 5,000 rows open in about a second in Chromium; past this the report
# splits into report.html, report-2.html, ... each with the whole summary and links to the others.
PAGE_ROWS = 5000


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
    truth: int | None = None  # the known digit (labelled folder or --labels), if any
    wrong: bool = False  # known digit, and the result is not that digit


@dataclass(frozen=True)
class MatrixCell:
    """One cell of the confusion matrix; `predicted` is "0".."9" or "none" (no digit or failed)."""

    truth: int
    predicted: str
    count: int
    diagonal: bool
    shade: float  # 0..1, the cell's share of its row, for the background


@dataclass(frozen=True)
class Accuracy:
    """How the results compare with the known digits."""

    labelled: int
    correct: int
    percent: float
    matrix: list[list[MatrixCell]]


@dataclass(frozen=True)
class PageLink:
    """A page of a report split past PAGE_ROWS rows."""

    number: int
    href: str
    first: int  # 1-based row numbers on that page
    last: int
    current: bool


@dataclass(frozen=True)
class DigitBar:
    """A bar of the per-digit SVG chart."""

    digit: int
    count: int
    x: int
    height: int

    @property
    def label(self) -> str:
        """The count as it fits above a bar: 1667 -> "1.7k", 25000 -> "25k"."""
        if self.count < 1000:
            return str(self.count)
        thousands = self.count / 1000
        return f"{thousands:.1f}k" if thousands < 10 else f"{round(thousands)}k"


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
    accuracy: Accuracy | None = None
    pages: list[PageLink] = field(default_factory=list)  # empty when the report is one page
    total_rows: int = 0


def image_data_uri(data: bytes) -> str:
    """PNG or JPEG bytes as a data: URI (thumbnails are re-encoded by Pillow, never the user's bytes)."""
    kind = "png" if data.startswith(b"\x89PNG") else "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


def glyph_png(glyph: tuple[int, ...]) -> bytes:
    """(64,) values in 0..16 -> an 8x8 grayscale PNG, ink dark (the canonical glyph)."""
    from PIL import Image

    cells = np.asarray(glyph, dtype=np.float64).reshape(8, 8)
    pixels = (255 - np.clip(cells, 0, 16) * 255 / 16).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, format="PNG")
    return buffer.getvalue()


def alternatives_text(item: ItemResult) -> str:
    """e.g. "7 (93%) · 1 (4%) · 9 (1%)"."""
    return " · ".join(f"{digit} ({round(p * 100)}%)" for digit, p in item.alternatives)


def item_rows(items: list[ItemResult], truths: list[int | None] | None = None) -> list[ItemRow]:
    """Rows for the report table, in the order given (scans give natural name order)."""
    rows = []
    for index, item in enumerate(items):
        truth = truths[index] if truths else None
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
                thumbnail_uri=image_data_uri(item.thumbnail) if item.thumbnail else None,
                glyph_uri=image_data_uri(glyph_png(item.glyph)) if item.glyph else None,
                truth=truth,
                wrong=truth is not None and item.digit != truth,
            )
        )
    return rows


def accuracy(items: list[ItemResult], truths: list[int | None]) -> Accuracy | None:
    """Accuracy and a 10 x 11 confusion matrix (digits, then "none") over the items with a known digit."""
    known = [(truth, -1 if item.digit is None else item.digit) for item, truth in zip(items, truths) if truth is not None]
    if not known:
        return None
    counts = confusion_counts(*np.array(known, dtype=int).T)
    labelled = len(known)
    correct = int(np.trace(counts[:, :NONE_COLUMN]))
    matrix = [
        [MatrixCell(truth=t, predicted="none" if p == NONE_COLUMN else str(p), count=int(counts[t, p]),
                    diagonal=t == p, shade=round(float(counts[t, p]) / max(1, counts[t].sum()), 2))
         for p in range(NONE_COLUMN + 1)]
        for t in range(10)
    ]
    return Accuracy(labelled=labelled, correct=correct, percent=round(100 * correct / labelled, 1), matrix=matrix)


def digit_bars(summary: Summary) -> list[DigitBar]:
    """Bars for counts per digit, scaled to CHART_HEIGHT."""
    peak = max([*summary.by_digit.values(), 1])
    return [
        DigitBar(digit=d, count=summary.by_digit.get(str(d), 0), x=d * 22,
                 height=round(summary.by_digit.get(str(d), 0) * CHART_HEIGHT / peak))
        for d in range(10)
    ]


def build_views(items: list[ItemResult], summary: Summary, run: RunCounts, model: dict,
                review_below: float, title: str, truths: list[int | None] | None = None,
                page_rows: int = PAGE_ROWS) -> list[ReportView]:
    """The report's view-models: one per page of at most `page_rows` rows (one page for most scans)."""
    from markupsafe import Markup

    # Our own script, not data: it goes in verbatim and the CSP admits exactly this text.
    script = Markup((asset_dir("templates") / "report.js").read_text(encoding="utf-8"))
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    rows = item_rows(items, truths)
    whole = ReportView(
        title=title,
        tool_version=__version__,
        generated=run.started,
        model=model,
        review_below_percent=round(review_below * 100),
        summary=summary,
        run=run,
        bars=digit_bars(summary),
        rows=rows,
        script=script,
        script_hash=f"sha256-{digest}",
        accuracy=accuracy(items, truths) if truths else None,
        total_rows=len(rows),
    )
    if len(rows) <= page_rows:
        return [whole]
    starts = range(0, len(rows), page_rows)
    links = [(number, page_name(number), start + 1, min(start + page_rows, len(rows)))
             for number, start in enumerate(starts, 1)]
    return [
        replace(whole, rows=rows[start : start + page_rows],
                pages=[PageLink(n, href, first, last, n == number) for n, href, first, last in links])
        for number, start in enumerate(starts, 1)
    ]


def page_name(number: int) -> str:
    """File name of a report page: report.html, then report-2.html, report-3.html, ..."""
    return "report.html" if number == 1 else f"report-{number}.html"


def build_view(items: list[ItemResult], summary: Summary, run: RunCounts, model: dict,
               review_below: float, title: str, truths: list[int | None] | None = None) -> ReportView:
    """The report's view-model as a single page."""
    return build_views(items, summary, run, model, review_below, title, truths, page_rows=max(1, len(items)))[0]


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
