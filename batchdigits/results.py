"""Per-file results and the machine-readable outputs: results.json and results.csv."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import numpy as np

from batchdigits import __version__

STATUSES = ("recognized", "no_digit", "failed")
ALTERNATIVES = 3
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ItemResult:
    """What one file says. `glyph` is the (64,) 0..16 canonical glyph, the 8x8 counts of the pen
    drawing whose stroke directions the model read (None without a digit)."""

    path: str
    status: str
    digit: int | None = None
    confidence: float | None = None
    review: bool = False
    alternatives: tuple[tuple[int, float], ...] = ()
    reason: str | None = None
    glyph: tuple[int, ...] | None = None
    thumbnail: bytes | None = None


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
    """Counts over every current file; `review` is a subset of `recognized`."""

    files: int
    recognized: int
    review: int
    no_digit: int
    failed: int
    by_digit: dict[str, int] = field(default_factory=dict)


def recognized_item(path: str, glyph: np.ndarray, probabilities: np.ndarray, review_below: float,
                    thumbnail: bytes | None) -> ItemResult:
    """An item for a glyph and its (10,) probabilities: top digit, confidence, top alternatives."""
    values = [float(p) for p in probabilities]
    order = sorted(range(len(values)), key=lambda digit: -values[digit])[:ALTERNATIVES]  # stable
    confidence = round(values[order[0]], 4)
    return ItemResult(
        path=path,
        status="recognized",
        digit=order[0],
        confidence=confidence,
        review=confidence < review_below,
        alternatives=tuple((digit, round(values[digit], 4)) for digit in order),
        glyph=tuple(np.rint(glyph).astype(int).tolist()),
        thumbnail=thumbnail,
    )


def summarise(items: list[ItemResult]) -> Summary:
    """Counts per status, how many need review, and recognized counts per digit ("0".."9")."""
    recognized = [item for item in items if item.status == "recognized"]
    by_digit = {str(d): sum(1 for item in recognized if item.digit == d) for d in range(10)}
    return Summary(
        files=len(items),
        recognized=len(recognized),
        review=sum(1 for item in recognized if item.review),
        no_digit=sum(1 for item in items if item.status == "no_digit"),
        failed=sum(1 for item in items if item.status == "failed"),
        by_digit=by_digit,
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
    }


def results_json(items: list[ItemResult], run: RunCounts, model: dict, summary: Summary) -> str:
    """The results.json document (tool, model, run, summary, items), as text."""
    document = {
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
        },
    }
    # One item per line, each through the C encoder: indent= would use the slow pure-Python one.
    head = ",\n".join(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}" for key, value in document.items())
    lines = ",\n".join("  " + json.dumps(item_record(item), ensure_ascii=False) for item in items)
    return "{\n" + head + ',\n "items": [\n' + lines + ("\n" if lines else "") + " ]\n}\n"


def csv_safe(value: object) -> str:
    """A cell as text, with a leading ' when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def results_csv(items: list[ItemResult]) -> str:
    """results.csv: one row per item, alternatives flattened, formula-like cells neutralised."""
    header = ["path", "status", "digit", "confidence", "review"]
    for rank in range(1, ALTERNATIVES + 1):
        header += [f"alt{rank}_digit", f"alt{rank}_p"]
    header.append("reason")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for item in items:
        row = [item.path, item.status, item.digit, item.confidence, str(item.review).lower()]
        for rank in range(ALTERNATIVES):
            digit, p = item.alternatives[rank] if rank < len(item.alternatives) else (None, None)
            row += [digit, p]
        row.append(item.reason)
        writer.writerow([csv_safe(cell) for cell in row])
    return buffer.getvalue()
