"""Known answers for a scan: from folders named 0..9, or from a labels file, to measure the report's accuracy."""

from __future__ import annotations

import csv
from pathlib import Path

from batchdigits.errors import BatchDigitsError, ExitCode


class LabelsFileError(BatchDigitsError):
    """The --labels file cannot be read or has a line that is not `path,digit` (exit 2)."""

    exit_code = ExitCode.USAGE


def folder_label(path: str) -> int | None:
    """The digit a file is filed under: the innermost of its folders named 0..9 (`path` relative,
    POSIX separators), else None. `scan`'s report and `evaluate`/`train --extra` share this rule."""
    for folder in reversed(path.split("/")[:-1]):
        if len(folder) == 1 and folder in "0123456789":
            return int(folder)
    return None


def read_labels_file(path: Path) -> dict[str, int]:
    """A CSV of `path,digit` lines (paths as results.json shows them; a header line is allowed)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsFileError(f"cannot read labels file {path}: {exc}") from None
    labels: dict[str, int] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2 or row[1].strip() not in tuple("0123456789"):
            if number == 1 and len(row) == 2:
                continue  # a header such as "path,digit"
            raise LabelsFileError(f"labels file {path}, line {number}: expected `path,digit` with a digit 0-9")
        labels[row[0].strip()] = int(row[1].strip())
    return labels


def item_labels(paths: list[str], labels_file: dict[str, int] | None) -> list[int | None]:
    """The known digit of each path: the labels file first, then a 0..9 folder; None if unknown."""
    mapping = labels_file or {}
    return [mapping.get(path, folder_label(path)) for path in paths]
