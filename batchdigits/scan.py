"""A scan: discover the images, read each one's digit, write report.html, results.csv, results.json."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from batchdigits import __version__
from batchdigits.atomic import write_atomically
from batchdigits.files.discover import FoundFile, SkippedFile, display_path, find_images
from batchdigits.errors import BatchDigitsError, ExitCode, LockedError, OutputFolderError
from batchdigits.files.labels import item_label, read_labels_file
from batchdigits.ledger import UNFINISHED_SIZE, Entry, Ledger, Stamp, open_ledger, path_key
from batchdigits.recognition.model import LoadedModel, ModelCard, unpickle_model, verify_model
from batchdigits.recognition.reading import best_reading, classify
from batchdigits.output.results import ItemResult, RunCounts, Summary, recognized_item, results_csv, results_json, summarise
from batchdigits.recognition.runner import PAGES_PER_TASK, FileJob, ProcessedFile, iter_processed

# Measured on the dev sets (docs/model.md, "Confidence and review"): below this, a person should look.
DEFAULT_REVIEW_BELOW = 0.94
LOCK_NAME = ".batchdigits.lock"
CLASSIFY_BATCH = 256  # glyphs classified together: one predict_proba call amortises its overhead
DOCUMENTS_AT_ONCE = 16  # long documents whose first pages are held while their other pages are read


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
    full: bool = False
    labels_file: Path | None = None  # CSV of path,text: known answers for the report's accuracy
    digits: int | None = None  # the digit count every image should hold (None: whatever it holds)
    cluster: str | None = None  # a Dask scheduler's address, or local:N, to read the files on (None: here)


@dataclass(frozen=True)
class ScanOutcome:
    """What a scan produced and what its exit status should be."""

    report_path: Path
    summary: Summary
    run: RunCounts
    exit_code: ExitCode
    notes: tuple[str, ...] = ()  # warnings for stderr (e.g. a damaged state file was rebuilt)


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


def model_summary(card: ModelCard) -> dict:
    """The model block of results.json."""
    return {"name": card.name, "sha256": card.sha256, "trained_on": card.trained_on, "sklearn": card.sklearn}


@dataclass(frozen=True)
class RunPlan:
    """What a run must read: files to read (with the hash already known, if any), and the rest."""

    to_read: list[tuple[FoundFile, str | None]]
    unchanged: int
    young: int


def plan_run(found: list[FoundFile], stamps: dict[bytes, Stamp], model_sha256: str, *,
             full: bool, min_age: float, now: float) -> RunPlan:
    """Decide per file: unchanged since the ledger saw it, too young to read yet, or to be read."""
    newest_allowed = (now - min_age) * 1e9 if min_age > 0 else float("inf")
    to_read, unchanged, young = [], 0, 0
    for item in found:
        stamp = None if full else stamps.get(path_key(item.path))
        if stamp is not None and stamp.model != model_sha256:
            stamp = None  # read by another model: decode again
        if stamp is not None and (stamp.size, stamp.mtime_ns) == (item.size, item.mtime_ns):
            unchanged += 1
        elif item.mtime_ns > newest_allowed:
            young += 1  # perhaps still being written: a later run reads it
        else:
            to_read.append((item, None if stamp is None else stamp.sha256))
    return RunPlan(to_read=to_read, unchanged=unchanged, young=young)


@dataclass
class ReadCounts:
    """What reading the planned files did: decoded, same content as before, to retry, failed."""

    decoded: int = 0
    same: int = 0
    retry: int = 0
    failed: int = 0


def read_and_record(
    to_read: list[tuple[FoundFile, str | None]],
    load_model_once: Callable[[], LoadedModel],
    ledger: Ledger,
    *,
    model_sha256: str,
    jobs: int,
    processed_at: str,
    progress: Callable[[int], None],
    reader: Callable[..., Iterator[tuple[int, ProcessedFile]]] = iter_processed,
) -> ReadCounts:
    """Read, decode and classify files, committing results to the ledger batch by batch.

    `load_model_once` is called when the first glyphs need classifying (and may be called again).
    `reader` has runner.iter_processed's signature (a cluster's reader yields results in any
    order, already classified).
    """
    counts = ReadCounts()
    glyphs: list[tuple[bytes, ProcessedFile]] = []
    others: list[Entry] = []
    restamps: list[tuple[bytes, int, int]] = []
    documents: list[tuple[bytes, FoundFile, ProcessedFile]] = []  # waiting for their other pages
    unfinished: set[bytes] = set()  # documents whose first pages are recorded: later pages add to them
    seals: list[tuple[bytes, Stamp]] = []  # documents whose last pages are in this batch
    forgets: list[bytes] = []  # documents that changed while their pages were read

    def commit() -> None:
        entries = list(others)
        unclassified = [processed for _, processed in glyphs if not processed.classified]
        if unclassified:
            model = load_model_once()
            classify([processed.candidates for processed in unclassified],
                     [processed.candidate_inputs for processed in unclassified], model.probabilities, model.one_digit_of)
        if glyphs:
            entries.extend(_entry(key, processed, model_sha256, processed.candidates) for key, processed in glyphs)
        ledger.record(entries, processed_at, adding_to=unfinished)
        unfinished.update(entry.key for entry in entries if entry.stamp.size == UNFINISHED_SIZE)
        ledger.seal(seals)
        ledger.forget(forgets)
        unfinished.difference_update([key for key, _ in seals] + forgets)
        ledger.restamp(restamps)
        for pending in (glyphs, others, restamps, seals, forgets):
            pending.clear()

    def keep(key: bytes, processed: ProcessedFile, *, whole: bool = True) -> int:
        """Hold a file's results (every page of a document, or with `whole` False some of its
        pages, stamped UNFINISHED_SIZE) for the next commit; the number of failed pages."""
        failed = 0
        for page in processed.pages or (processed,):
            if whole:
                page = replace(page, sha256=processed.sha256, size=processed.size, mtime_ns=processed.mtime_ns)
            else:
                page = replace(page, sha256="", size=UNFINISHED_SIZE, mtime_ns=UNFINISHED_SIZE)
            failed += page.outcome == "failed"
            if page.outcome == "glyph":
                glyphs.append((key, page))
            else:
                others.append(_entry(key, page, model_sha256, None))
        counts.failed += failed
        return failed

    def finish_documents() -> None:
        """Read the other pages of the documents held, spread over the workers, recording them as
        they come (memory stays bounded however long a document is); seal each when it is whole."""
        later = [(number, FileJob(item.absolute, first.sha256, known_version=(first.size, first.mtime_ns),
                                  pages=tuple(range(start, min(start + PAGES_PER_TASK, first.page_count)))))
                 for number, (_, item, first) in enumerate(documents)
                 for start in range(len(first.pages), first.page_count, PAGES_PER_TASK)]
        remaining = Counter(number for number, _ in later)
        failed = [keep(key, first, whole=False) for key, _, first in documents]
        changed = set()
        for index, processed in reader([job for _, job in later], jobs=jobs, per_task=1, inline_below=2):
            number = later[index][0]
            key, _, first = documents[number]
            remaining[number] -= 1
            if number in changed:
                continue
            if processed.outcome != "pages":  # it changed while it was read: a later run reads it whole
                changed.add(number)
                forgets.append(key)
                counts.decoded -= 1
                counts.retry += 1
                counts.failed -= failed[number]
                continue
            failed[number] += keep(key, processed, whole=False)
            if remaining[number] == 0:
                seals.append((key, Stamp(first.size, first.mtime_ns, first.sha256, model_sha256)))
            if len(glyphs) + len(others) >= CLASSIFY_BATCH:
                commit()
        documents.clear()
        commit()

    work = [FileJob(item.absolute, known) for item, known in to_read]
    for done, (index, processed) in enumerate(reader(work, jobs=jobs), 1):
        key = path_key(to_read[index][0].path)
        if processed.outcome == "retry":
            counts.retry += 1
        elif processed.outcome == "same":
            counts.same += 1
            restamps.append((key, processed.size, processed.mtime_ns))
        else:
            counts.decoded += 1
            if processed.outcome == "pages" and processed.page_count > len(processed.pages):
                documents.append((key, to_read[index][0], processed))
            else:
                keep(key, processed)
        if len(documents) >= DOCUMENTS_AT_ONCE:
            finish_documents()
        if len(glyphs) + len(others) + len(restamps) >= CLASSIFY_BATCH:
            commit()
        progress(done)
    finish_documents()
    return counts


def _entry(key: bytes, processed: ProcessedFile, model_sha256: str, candidates: np.ndarray | None) -> Entry:
    """A ledger entry for a file just read, with its classified candidates (None: no digit or failed)."""
    return Entry(
        key=key,
        stamp=Stamp(processed.size, processed.mtime_ns, processed.sha256 or "", model_sha256),
        status=processed.outcome,
        candidates=candidates,
        image_size=processed.image_size,
        reason=processed.reason,
        thumbnail=processed.thumbnail,
        page=processed.page,
    )


def current_items(found: list[FoundFile], entries: dict[bytes, Entry], model_sha256: str,
                  review_below: float, digits: int | None = None,
                  labels: dict[str, str] | None = None) -> list[ItemResult]:
    """The result of every current file the ledger holds (read by this model), in `found` order:
    its digits read from the stored candidates (`digits` of them, if given), and its known text."""
    items = []
    for item in found:
        path = display_path(item.path)
        for entry in entries.get(path_key(item.path), ()):
            if entry.stamp.model != model_sha256:
                continue
            label = item_label(path, labels, entry.page)
            reading = best_reading(entry.candidates, digits) if entry.status == "glyph" else None
            if reading is not None:
                result = recognized_item(path, reading, review_below, entry.thumbnail, entry.image_size)
            elif entry.status == "glyph":
                result = ItemResult(path=path, status="no_digit", reason="no digit found", thumbnail=entry.thumbnail)
            else:
                result = ItemResult(path=path, status=entry.status, reason=entry.reason, thumbnail=entry.thumbnail)
            items.append(replace(result, label=label, page=entry.page))
    return items


def report_fingerprint(options: ScanOptions, model_sha256: str, found: list[FoundFile],
                       stamps: dict[bytes, Stamp], labels: dict | None, skipped: list = ()) -> str:
    """A digest of everything report.html and results.csv show; equal digests mean equal reports.

    A file's result follows from its content and the model, so its stamp's hash stands for it.
    """
    known = sorted((repr(key), text) for key, text in (labels or {}).items())
    settings = (f"{__version__}|{model_sha256}|{options.review_below}|{options.digits}|"
                f"{report_title(options)}|{known}|{skipped}")
    digest = hashlib.sha256(settings.encode())
    for item in found:
        key = path_key(item.path)
        stamp = stamps.get(key)
        if stamp is not None and stamp.model == model_sha256:
            digest.update(key + b"\0" + stamp.sha256.encode() + b"\0")
    return digest.hexdigest()


def scan(
    options: ScanOptions,
    *,
    on_start: Callable[[int], None] = lambda total: None,
    progress: Callable[[int], None] = lambda done: None,
) -> ScanOutcome:
    """Run one scan as the command-line contract describes, and write the three outputs.

    The model is unpickled only when there is something to read, and report.html and
    results.csv are rewritten only when what they show changed: a run with nothing new
    costs a directory listing, a table scan and results.json.
    """
    started = now_utc()
    labels = read_labels_file(options.labels_file) if options.labels_file is not None else None
    if options.cluster is not None:  # a malformed address, or no Dask, is said before anything is read
        from batchdigits.recognition.cluster import parse_cluster

        parse_cluster(options.cluster)
    passed: list[SkippedFile] = []
    found = find_images(options.input_dir, recursive=options.recursive, exclude=options.out_dir, skipped=passed)
    skipped = [(display_path(item.path), item.reason) for item in passed]
    prepare_output(options.input_dir, options.out_dir)
    with output_lock(options.out_dir):
        card, payload = verify_model(options.model_path)
        notes = []
        with _open_ledger(options.out_dir) as ledger:
            if ledger.recovered_from is not None:
                notes.append(f"the state file was damaged; moved it to {ledger.recovered_from.name} "
                             "and read every file again")
            stamps = ledger.stamps()
            current = {path_key(item.path) for item in found}
            ledger.forget(key for key in stamps if key not in current)
            plan = plan_run(found, stamps, card.sha256, full=options.full,
                            min_age=options.min_age, now=time.time())
            on_start(len(plan.to_read))
            counts = ReadCounts()
            if plan.to_read:
                # Unpickled from the bytes verified above, so a model file replaced meanwhile cannot
                # slip in; only when the first glyphs need it (0.1 s: plain arrays, no scikit-learn).
                load_model_once = functools.cache(lambda: unpickle_model(options.model_path, card, payload))
                with _file_reader(options, card, payload) as reader:
                    counts = read_and_record(plan.to_read, load_model_once, ledger, model_sha256=card.sha256,
                                             jobs=options.jobs, processed_at=started, progress=progress,
                                             reader=reader)
                stamps = ledger.stamps()
            fingerprint = report_fingerprint(options, card.sha256, found, stamps, labels, skipped)
            unchanged_report = ledger.get_meta("report") == fingerprint and all(
                (options.out_dir / name).exists() for name in ("report.html", "results.csv"))
            entries = ledger.entries(thumbnails=not unchanged_report)
            items = current_items(found, entries, card.sha256, options.review_below, options.digits, labels)
            summary = summarise(items, len(skipped))
            run = RunCounts(started=started, processed=counts.decoded, unchanged=plan.unchanged + counts.same,
                            pending=plan.young + counts.retry, failed=counts.failed)
            report_path = write_outputs(options, items, summary, run, model_summary(card),
                                        report=not unchanged_report, skipped=skipped)
            ledger.set_meta("report", fingerprint)
    exit_code = ExitCode.FILES_FAILED if counts.failed else ExitCode.OK
    return ScanOutcome(report_path=report_path, summary=summary, run=run, exit_code=exit_code,
                       notes=tuple(notes))


@contextmanager
def _file_reader(options: ScanOptions, card: ModelCard, payload: bytes) -> Iterator[Callable]:
    """runner.iter_processed, or with --cluster the reader that runs it on the cluster's workers."""
    if options.cluster is None:
        yield iter_processed
        return
    from batchdigits.recognition.cluster import cluster_reader, parse_cluster

    with cluster_reader(parse_cluster(options.cluster), card, payload, options.input_dir) as reader:
        yield reader


def _open_ledger(out_dir: Path) -> Ledger:
    """The output folder's ledger; a file system that refuses it is an output error."""
    try:
        return open_ledger(out_dir)
    except (OSError, sqlite3.Error) as exc:
        raise OutputFolderError(f"cannot keep the state file in {out_dir}: {exc}") from None


def report_title(options: ScanOptions) -> str:
    """The report's title: the input folder's name."""
    return f"Digits in {options.input_dir.resolve().name or options.input_dir}"


def write_outputs(options: ScanOptions, items: list[ItemResult], summary: Summary, run: RunCounts,
                  model: dict, *, report: bool = True, skipped: list[tuple[str, str]] = ()) -> Path:
    """Write results.json (and unless `report` is False, results.csv and the report pages) atomically."""
    out = options.out_dir
    try:
        write_atomically(out / "results.json", results_json(items, run, model, summary, skipped).encode("utf-8"))
        if report:
            from batchdigits.output.report import build_views, page_name, render_report  # jinja2 only when needed

            views = build_views(items, summary, run, model, options.review_below, report_title(options),
                                expected_digits=options.digits, skipped=skipped)
            write_atomically(out / "results.csv", results_csv(items).encode("utf-8"))
            # Later pages first, so that report.html never links to a page that is not there yet.
            for number, view in reversed(list(enumerate(views, 1))):
                write_atomically(out / page_name(number), render_report(view).encode("utf-8"))
            _remove_stale_pages(out, len(views))
    except OSError as exc:
        raise OutputFolderError(f"cannot write the report in {out}: {exc.strerror}") from None
    return out / "report.html"


def _remove_stale_pages(out: Path, pages: int) -> None:
    """Delete report-N.html pages left by an earlier, longer report."""
    for path in out.glob("report-*.html"):
        number = path.stem.removeprefix("report-")
        if number.isdigit() and int(number) > pages:
            path.unlink(missing_ok=True)
