"""Per-file results and the machine-readable outputs: results.json and results.csv."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from batchdigits import __version__
from batchdigits.files.labels import spreadsheet_safe
from batchdigits.recognition.reading import DigitRead, Reading

STATUSES = ("recognized", "no_digit", "failed")
ALTERNATIVES = 3
# results.json's schema: 2 added text, digits, review_reason, label and page to items; 3 reads
# pages (an item per page of a PDF or multi-page TIFF) and lists the files skipped (docs/results-schema.md).
SCHEMA_VERSION = 3


@dataclass(frozen=True)
class ItemResult:
    """What one file says. `text` is the digits read ("90210"; lines apart by a space) and
    `digits` each digit read (reading.DigitRead); `digit`, `alternatives` and `glyph` (the (64,)
    0..16 canonical glyph, the 8x8 counts of the pen drawing whose stroke directions the model
    read) are set when the picture holds one digit. `confidence` is the whole string's;
    `review_reason` says why a result is flagged; `label` is the text known to be right."""

    path: str
    status: str
    digit: int | None = None
    confidence: float | None = None
    review: bool = False
    alternatives: tuple[tuple[int, float], ...] = ()
    reason: str | None = None
    glyph: tuple[int, ...] | None = None
    thumbnail: bytes | None = None
    text: str | None = None
    digits: tuple[DigitRead, ...] = ()
    review_reason: str | None = None
    image_size: tuple[int, int] | None = None
    label: str | None = None
    page: int | None = None


@dataclass(frozen=True)
class RunCounts:
    """What this run did: files decoded, left unchanged, left for later (too young), failed."""

    started: str
    processed: int = 0
    unchanged: int = 0
    pending: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Summary:
    """Counts over every current result (a file, or a page of a multi-page file): `files` is
    their number, `review` a subset of `recognized`; `skipped` the files not read."""

    files: int
    recognized: int
    review: int
    no_digit: int
    failed: int
    by_digit: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # files in the folder that are not read (discover.SkippedFile)


def recognized_item(path: str, reading: Reading, review_below: float, thumbnail: bytes | None,
                    image_size: tuple[int, int] | None = None) -> ItemResult:
    """An item for a reading: its text and digits, the string's confidence, and whether (and why)
    a person should look: a digit below `review_below`, or a doubtful segmentation."""
    low = [number for number, digit in enumerate(reading.digits, 1) if digit.confidence < review_below]
    review_reason = reading.doubt
    if review_reason is None and low:
        if len(reading.digits) == 1:
            review_reason = f"confidence below {review_below:.0%}"
        else:
            review_reason = (f"digit {low[0]} of {len(reading.digits)} read with confidence below {review_below:.0%}"
                             if len(low) == 1 else f"{len(low)} of {len(reading.digits)} digits read with confidence below {review_below:.0%}")
    alone = reading.digits[0] if len(reading.digits) == 1 else None
    return ItemResult(
        path=path,
        status="recognized",
        digit=None if alone is None else alone.digit,
        confidence=reading.confidence,
        review=review_reason is not None,
        alternatives=() if alone is None else alone.alternatives,
        glyph=None if alone is None else alone.glyph,
        thumbnail=thumbnail,
        text=reading.text,
        digits=reading.digits,
        review_reason=review_reason,
        image_size=image_size,
    )


def summarise(items: list[ItemResult], skipped: int = 0) -> Summary:
    """Counts per status, how many need review, and how often each digit ("0".."9") was read
    (in every recognized text; for one-digit images, the images per digit)."""
    recognized = [item for item in items if item.status == "recognized"]
    by_digit = {str(d): 0 for d in range(10)}
    for item in recognized:
        for read in item.digits:
            by_digit[str(read.digit)] += 1
    return Summary(
        files=len(items),
        recognized=len(recognized),
        review=sum(1 for item in recognized if item.review),
        no_digit=sum(1 for item in items if item.status == "no_digit"),
        failed=sum(1 for item in items if item.status == "failed"),
        by_digit=by_digit,
        skipped=skipped,
    )


def item_record(item: ItemResult) -> dict:
    """An item as the results.json contract spells it."""
    return {
        "path": item.path,
        "status": item.status,
        "digit": item.digit,
        "confidence": item.confidence,
        "review": item.review,
        "alternatives": [{"digit": d, "p": p} for d, p in item.alternatives] if item.alternatives else None,
        "reason": item.reason,
        "text": item.text,
        "digits": [
            {"digit": read.digit, "confidence": read.confidence,
             "alternatives": [{"digit": d, "p": p} for d, p in read.alternatives],
             "box": list(read.box), "line": read.line + 1}
            for read in item.digits
        ] if item.status == "recognized" else None,
        "review_reason": item.review_reason,
        "label": item.label,
        "page": item.page,
    }


def results_json(items: list[ItemResult], run: RunCounts, model: dict, summary: Summary,
                 skipped: list[tuple[str, str]] = ()) -> str:
    """The results.json document (tool, model, run, summary, skipped: (path, reason) of the
    files not read, items), as text."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "batchdigits", "version": __version__},
        "model": model,
        "run": {
            "started": run.started,
            "processed": run.processed,
            "unchanged": run.unchanged,
            "pending": run.pending,
            "failed": run.failed,
        },
        "summary": {
            "files": summary.files,
            "recognized": summary.recognized,
            "review": summary.review,
            "no_digit": summary.no_digit,
            "failed": summary.failed,
            "by_digit": summary.by_digit,
            "skipped": summary.skipped,
        },
        "skipped": [{"path": path, "reason": reason} for path, reason in skipped],
    }
    # One item per line, each through the C encoder: indent= would use the slow pure-Python one.
    head = ",\n".join(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}" for key, value in document.items())
    lines = ",\n".join("  " + json.dumps(item_record(item), ensure_ascii=False) for item in items)
    return "{\n" + head + ',\n "items": [\n' + lines + ("\n" if lines else "") + " ]\n}\n"


def csv_safe(value: object) -> str:
    """A cell as text, with a leading ' when a spreadsheet would run it as a formula."""
    return spreadsheet_safe("" if value is None else str(value))


def results_csv(items: list[ItemResult]) -> str:
    """results.csv: one row per item, alternatives flattened, formula-like cells neutralised."""
    header = ["path", "status", "digit", "confidence", "review"]
    for rank in range(1, ALTERNATIVES + 1):
        header += [f"alt{rank}_digit", f"alt{rank}_p"]
    header += ["reason", "text", "review_reason", "label", "page"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for item in items:
        row = [item.path, item.status, item.digit, item.confidence, str(item.review).lower()]
        for rank in range(ALTERNATIVES):
            digit, p = item.alternatives[rank] if rank < len(item.alternatives) else (None, None)
            row += [digit, p]
        row += [item.reason, item.text, item.review_reason, item.label, item.page]
        writer.writerow([csv_safe(cell) for cell in row])
    return buffer.getvalue()
