"""A scan: discover the images, read each one's digit, write report.html, results.csv, results.json."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from batchdigits.atomic import write_atomically
from batchdigits.discover import FoundFile, display_path, find_images
from batchdigits.errors import BatchDigitsError, ExitCode, LockedError, OutputFolderError
from batchdigits.model import LoadedModel, load_model
from batchdigits.report import build_view, render_report
from batchdigits.results import ItemResult, RunCounts, Summary, recognized_item, results_csv, results_json, summarise
from batchdigits.runner import ProcessedFile, iter_processed

# Measured on the dev sets (README, "Confidence and review"): below this, a person should look.
DEFAULT_REVIEW_BELOW = 0.8
LOCK_NAME = ".batchdigits.lock"
CLASSIFY_BATCH = 256  # glyphs classified together: one predict_proba call amortises its overhead


class UsageError(BatchDigitsError):
    """The command line asks for something that cannot be done (exit 2)."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class ScanOptions:
    """What to scan and how; see `batchdigits scan --help` for each option."""

    input_dir: Path
    out_dir: Path
    model_path: Path
    min_age: float = 0.0
    review_below: float = DEFAULT_REVIEW_BELOW
    jobs: int = 1
    recursive: bool = True


@dataclass(frozen=True)
class ScanOutcome:
    """What a scan produced and what its exit status should be."""

    report_path: Path
    summary: Summary
    run: RunCounts
    exit_code: ExitCode


def now_utc() -> str:
    """The current time as ISO 8601 UTC with a Z, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive flock on the output folder's lock file; LockedError at once if taken."""
    path = out_dir / LOCK_NAME
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise OutputFolderError(f"cannot write in output folder {out_dir}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"another batchdigits run is using {out_dir}; try again when it ends") from None
        yield
    finally:
        os.close(descriptor)  # closing drops the lock; the kernel also drops it if we die


def prepare_output(input_dir: Path, out_dir: Path) -> None:
    """Refuse an output folder inside the input folder; create it; check it is writable."""
    resolved_in, resolved_out = input_dir.resolve(), out_dir.resolve()
    if resolved_out == resolved_in or resolved_in in resolved_out.parents:
        raise UsageError(
            f"the output folder {out_dir} is inside the input folder {input_dir}; "
            "batchdigits never writes there: choose another with -o"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputFolderError(f"cannot write in output folder {out_dir}: permission denied")


def model_summary(model: LoadedModel) -> dict:
    """The model block of results.json."""
    card = model.card
    return {"name": card.name, "sha256": card.sha256, "trained_on": card.trained_on, "sklearn": card.sklearn}


def split_by_age(found: list[FoundFile], min_age: float, now: float) -> tuple[list[FoundFile], int]:
    """(files old enough to be finished, how many are younger than `min_age` seconds)."""
    if min_age <= 0:
        return found, 0
    newest_allowed = (now - min_age) * 1e9
    ready = [item for item in found if item.mtime_ns <= newest_allowed]
    return ready, len(found) - len(ready)


def classify_all(
    files: list[FoundFile],
    model: LoadedModel,
    *,
    jobs: int,
    review_below: float,
    progress: Callable[[int], None],
) -> tuple[list[ItemResult], int]:
    """Decode, glyph and classify every file (in order); returns (items, files to retry later)."""
    items: list[ItemResult | None] = [None] * len(files)
    waiting: list[tuple[int, str, ProcessedFile]] = []
    retry = 0

    def flush() -> None:
        if not waiting:
            return
        features = np.array([processed.features for _, _, processed in waiting])
        for (index, path, processed), probabilities in zip(waiting, model.probabilities(features)):
            items[index] = recognized_item(path, processed.features, probabilities, review_below,
                                           processed.thumbnail_png)
        waiting.clear()

    for done, (index, processed) in enumerate(iter_processed([item.absolute for item in files], jobs=jobs), 1):
        path = display_path(files[index].path)
        if processed.outcome == "glyph":
            waiting.append((index, path, processed))
            if len(waiting) >= CLASSIFY_BATCH:
                flush()
        elif processed.outcome == "retry":
            retry += 1
        else:
            items[index] = ItemResult(path=path, status=processed.outcome, reason=processed.reason,
                                      thumbnail_png=processed.thumbnail_png)
        progress(done)
    flush()
    return [item for item in items if item is not None], retry


def scan(
    options: ScanOptions,
    *,
    on_start: Callable[[int], None] = lambda total: None,
    progress: Callable[[int], None] = lambda done: None,
) -> ScanOutcome:
    """Run one scan as the command-line contract describes, and write the three outputs."""
    started = now_utc()
    found = find_images(options.input_dir, recursive=options.recursive, exclude=options.out_dir)
    prepare_output(options.input_dir, options.out_dir)
    with output_lock(options.out_dir):
        model = load_model(options.model_path)
        ready, young = split_by_age(found, options.min_age, time.time())
        on_start(len(ready))
        items, retry = classify_all(
            ready, model, jobs=options.jobs, review_below=options.review_below, progress=progress
        )
        summary = summarise(items)
        failed = summary.failed
        run = RunCounts(started=started, processed=len(ready) - retry, unchanged=0,
                        pending=young + retry, failed=failed)
        report_path = write_outputs(options, items, summary, run, model_summary(model))
    exit_code = ExitCode.FILES_FAILED if failed else ExitCode.OK
    return ScanOutcome(report_path=report_path, summary=summary, run=run, exit_code=exit_code)


def write_outputs(options: ScanOptions, items: list[ItemResult], summary: Summary, run: RunCounts,
                  model: dict) -> Path:
    """Write results.json, results.csv and report.html atomically; returns the report's path."""
    out = options.out_dir
    title = f"Digits in {options.input_dir.resolve().name or options.input_dir}"
    view = build_view(items, summary, run, model, options.review_below, title)
    try:
        write_atomically(out / "results.json", results_json(items, run, model, summary).encode("utf-8"))
        write_atomically(out / "results.csv", results_csv(items).encode("utf-8"))
        write_atomically(out / "report.html", render_report(view).encode("utf-8"))
    except OSError as exc:
        raise OutputFolderError(f"cannot write the report in {out}: {exc.strerror}") from None
    return out / "report.html"
