"""The HTML report: a view-model built from results, rendered by jinja templates (autoescaped)."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from batchdigits import __version__
from batchdigits.output.scores import NONE_COLUMN, TextScores, compact, confusion_counts, text_scores
from batchdigits.resources import asset_dir
from batchdigits.output.results import ItemResult, RunCounts, Summary

CHART_HEIGHT = 60  # px, the tallest bar of the per-digit chart
# Rows per page: measured, 5,000 rows open in about a second in Chromium; past this the report
# splits into report.html, report-2.html, ... each with the whole summary and links to the others.
PAGE_ROWS = 5000


@dataclass(frozen=True)
class DigitCell:
    """One digit of a number as the report shows it: the digit, its confidence, the 8x8 glyph the
    model saw, and its box over the picture as CSS percentages ("12.5%")."""

    digit: int
    confidence_percent: int
    low: bool  # below the review threshold
    glyph_uri: str
    left: str
    top: str
    width: str
    height: str


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
    wrong: bool = False  # known text, and the result is not that text
    text: str | None = None  # the digits read
    label: str | None = None  # the known text, if any
    review_reason: str | None = None
    digit_cells: tuple[DigitCell, ...] = ()  # for a picture of more than one digit
    page: int | None = None  # the page of a multi-page file


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
    """How the results compare with the known texts: `correct` of `labelled` read exactly; the
    confusion matrix over the images known to hold one digit (None if there are none); and for
    numbers, character accuracy and how often the digit count was right."""

    labelled: int
    correct: int
    percent: float
    matrix: list[list[MatrixCell]] | None
    text: TextScores | None = None
    characters_percent: float | None = None
    count_right_percent: float | None = None


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
    expected_digits: int | None = None
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason) of the files in the folder not read


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


def _percent(part: float, whole: float) -> str:
    """part / whole as a CSS percentage, kept within 0..100."""
    return f"{min(100.0, max(0.0, 100.0 * part / max(whole, 1))):.2f}%"


def digit_cells(item: ItemResult, review_below: float) -> tuple[DigitCell, ...]:
    """The per-digit cells of a picture of more than one digit (none for a lone digit)."""
    if len(item.digits) < 2 or item.image_size is None:
        return ()
    width, height = item.image_size
    return tuple(
        DigitCell(digit=read.digit, confidence_percent=round(read.confidence * 100),
                  low=read.confidence < review_below, glyph_uri=image_data_uri(glyph_png(read.glyph)),
                  left=_percent(read.box[0], width), top=_percent(read.box[1], height),
                  width=_percent(read.box[2], width), height=_percent(read.box[3], height))
        for read in item.digits
    )


def item_rows(items: list[ItemResult], review_below: float = 0.0) -> list[ItemRow]:
    """Rows for the report table, in the order given (scans give natural name order)."""
    rows = []
    for index, item in enumerate(items):
        label = item.label
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
                truth=int(label) if label is not None and len(label) == 1 else None,
                wrong=label is not None and compact(label) != compact(item.text),
                text=item.text,
                label=label,
                review_reason=item.review_reason,
                digit_cells=digit_cells(item, review_below),
                page=item.page,
            )
        )
    return rows


def accuracy(items: list[ItemResult]) -> Accuracy | None:
    """Exact-text accuracy over the items with a known text; a 10 x 11 confusion matrix (digits,
    then "none") over those known to hold one digit; character and count scores for numbers."""
    labelled = [item for item in items if item.label is not None]
    if not labelled:
        return None
    scores = text_scores([(item.label, item.text) for item in labelled])
    known = [(int(item.label), -1 if item.digit is None else item.digit) for item in labelled
             if len(compact(item.label)) == 1]
    matrix = None
    if known:
        counts = confusion_counts(*np.array(known, dtype=int).T)
        matrix = [
            [MatrixCell(truth=t, predicted="none" if p == NONE_COLUMN else str(p), count=int(counts[t, p]),
                        diagonal=t == p, shade=round(float(counts[t, p]) / max(1, counts[t].sum()), 2))
             for p in range(NONE_COLUMN + 1)]
            for t in range(10)
        ]
    numbers = any(len(compact(item.label)) > 1 for item in labelled)
    correct = round(scores.exact * len(labelled))
    return Accuracy(labelled=len(labelled), correct=correct, percent=round(100 * correct / len(labelled), 1),
                    matrix=matrix, text=scores if numbers else None,
                    characters_percent=round(100 * scores.characters, 1) if numbers else None,
                    count_right_percent=round(100 * scores.count_right, 1) if numbers else None)


def digit_bars(summary: Summary) -> list[DigitBar]:
    """Bars for counts per digit, scaled to CHART_HEIGHT."""
    peak = max([*summary.by_digit.values(), 1])
    return [
        DigitBar(digit=d, count=summary.by_digit.get(str(d), 0), x=d * 22,
                 height=round(summary.by_digit.get(str(d), 0) * CHART_HEIGHT / peak))
        for d in range(10)
    ]


def build_views(items: list[ItemResult], summary: Summary, run: RunCounts, model: dict,
                review_below: float, title: str, *, expected_digits: int | None = None,
                page_rows: int = PAGE_ROWS, skipped: list[tuple[str, str]] = ()) -> list[ReportView]:
    """The report's view-models: one per page of at most `page_rows` rows (one page for most scans)."""
    from markupsafe import Markup

    # Our own script, not data: it goes in verbatim and the CSP admits exactly this text.
    script = Markup((asset_dir("templates") / "report.js").read_text(encoding="utf-8"))
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    rows = item_rows(items, review_below)
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
        accuracy=accuracy(items),
        total_rows=len(rows),
        expected_digits=expected_digits,
        skipped=tuple(skipped),
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
               review_below: float, title: str, *, expected_digits: int | None = None) -> ReportView:
    """The report's view-model as a single page."""
    return build_views(items, summary, run, model, review_below, title, expected_digits=expected_digits,
                       page_rows=max(1, len(items)))[0]


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
