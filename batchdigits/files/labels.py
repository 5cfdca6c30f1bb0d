"""Known answers for a scan: from folders named with digits (`7/`, `90210/`), or from a labels
file of `path,text` lines, to measure the report's accuracy."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from batchdigits.errors import BatchDigitsError, ExitCode

MAX_LABEL_DIGITS = 1000  # a folder or label longer than this is not a number anyone scans
# results.csv (and the report's corrections.csv) put a ' before a cell starting with one of these,
# so that a spreadsheet does not run it as a formula; a labels file may name paths either way.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class LabelsFileError(BatchDigitsError):
    """The --labels file cannot be read or has a line that is not `path,text` (exit 2)."""

    exit_code = ExitCode.USAGE


def folder_label(path: str) -> int | None:
    """The digit a file is filed under: the innermost of its folders named 0..9 (`path` relative,
    POSIX separators), else None. Training folders (`train --extra`) use this rule."""
    for folder in reversed(path.split("/")[:-1]):
        if len(folder) == 1 and folder in "0123456789":
            return int(folder)
    return None


def folder_text(path: str) -> str | None:
    """The text a file is filed under: the innermost of its folders named with digits only
    (`7`, `90210`), else None. `scan`'s report and `evaluate` share this rule."""
    for folder in reversed(path.split("/")[:-1]):
        if is_digit_text(folder):
            return folder
    return None


def is_digit_text(text: str) -> bool:
    """True for a non-empty string of the ASCII digits 0-9 (spaces between lines allowed)."""
    compact = text.replace(" ", "")
    return 0 < len(compact) <= MAX_LABEL_DIGITS and all(c in "0123456789" for c in compact)


def spreadsheet_safe(text: str) -> str:
    """A CSV cell as results.csv writes it: a leading ' when a spreadsheet would run it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def path_spellings(cell: str) -> tuple[str, ...]:
    """The paths a labels file's cell may mean: itself, and without the ' that results.csv puts
    before a formula-like path."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell, cell[1:]
    return (cell,)


def read_labels_file(path: Path) -> dict[str | tuple[str, int], str]:
    """A CSV of `path,text` lines (paths as results.csv shows them; a header line is allowed),
    text the digits the image holds (e.g. 7 or 90210), and optionally a third column, the page
    of a multi-page file (`scan.pdf,90210,2`) -> {path: text, (path, page): text}."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsFileError(f"cannot read labels file {path}: {exc}") from None
    labels: dict[str | tuple[str, int], str] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or not "".join(row).strip():
            continue
        value = row[1].strip() if len(row) in (2, 3) else ""
        page = row[2].strip() if len(row) == 3 else ""  # empty: the whole file
        if len(row) not in (2, 3) or not is_digit_text(value) or (page and not (page.isdigit() and int(page) > 0)):
            if number == 1 and len(row) in (2, 3):
                continue  # a header such as "path,text"
            raise LabelsFileError(f"labels file {path}, line {number}: expected `path,text` (or `path,text,page`) "
                                  "with digits 0-9 as text")
        for spelling in path_spellings(row[0].strip()):
            labels[(spelling, int(page)) if page else spelling] = " ".join(value.split())
    return labels


def item_label(path: str, labels_file: dict | None, page: int | None = None) -> str | None:
    """The known text of a path (and page): the labels file first (its line for that page, then
    for the file), then a folder named with digits; None if unknown."""
    if labels_file:
        if page is not None and (path, page) in labels_file:
            return labels_file[(path, page)]
        if path in labels_file:
            return labels_file[path]
    return folder_text(path)


@dataclass(frozen=True)
class LabelledImage:
    """One line of a training labels file: the image (`path`, inside the images folder;
    `relative`, as the file names it), the digits it holds (`text`, e.g. "7" or "90210"), the
    file's line number, and the page (1-based) of a multi-page file, or None for the whole file."""

    path: Path
    relative: str
    text: str
    line: int
    page: int | None = None


def read_training_labels(labels: Path, images: Path) -> list[LabelledImage]:
    """A `path,text` CSV (as `corrections.csv` or `--labels`; a header line allowed; an optional
    third column, the page of a multi-page file) naming images inside `images` -> its lines in
    order. LabelsFileError, naming the line, for a path that is missing, not a regular file,
    outside `images` or named twice, for text that is not digits, and for a page that is not a
    whole number from 1."""
    try:
        content = labels.read_text(encoding="utf-8-sig")
        root = images.resolve(strict=True)
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsFileError(f"cannot read {getattr(exc, 'filename', None) or labels}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
    found: list[LabelledImage] = []
    seen: dict[Path, dict[int | None, int]] = {}  # file -> {page (None: the whole file): line}
    for number, row in enumerate(csv.reader(content.splitlines()), 1):
        if not row or not "".join(row).strip():
            continue
        where = f"labels file {labels}, line {number}"
        if len(row) not in (2, 3):
            raise LabelsFileError(f"{where}: expected `path,text` (or `path,text,page`)")
        relative, text = row[0].strip(), " ".join(row[1].split())
        page_cell = row[2].strip() if len(row) == 3 else ""
        if not is_digit_text(text):
            if number == 1 and not found:
                continue  # a header such as "path,text"
            raise LabelsFileError(f"{where}: the text {row[1].strip()!r} is not digits 0-9")
        if page_cell and not (page_cell.isdigit() and int(page_cell) > 0):
            raise LabelsFileError(f"{where}: the page {page_cell!r} is not a whole number from 1")
        page = int(page_cell) if page_cell else None
        spellings = [(root / spelling).resolve() for spelling in path_spellings(relative)]
        target = next((path for path in spellings if path.is_file()), spellings[0])
        if not target.is_relative_to(root):
            raise LabelsFileError(f"{where}: {relative} is outside {images}")
        if not target.is_file():
            raise LabelsFileError(f"{where}: {relative} is not a file in {images}")
        # A file's line covers all its pages, so it clashes with a line for any one of them.
        lines = seen.setdefault(target, {})
        clash = lines.get(page, lines.get(None)) if page is not None else min(lines.values(), default=None)
        if clash is not None:
            what = relative if page is None else f"page {page} of {relative}"
            raise LabelsFileError(f"{where}: {what} is already labelled on line {clash}")
        lines[page] = number
        found.append(LabelledImage(target, relative, text, number, page))
    if not found:
        raise LabelsFileError(f"labels file {labels} names no image")
    return found
