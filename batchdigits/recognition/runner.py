"""The batch runner: files -> decoded pictures -> glyphs, in parallel worker processes, in order."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from batchdigits.errors import DecodeError

MAX_FILE_BYTES = 256 * 1024 * 1024  # no digit image is this big; refuse before reading it
FILES_PER_TASK = 16  # enough per task to hide process overhead, small enough to stream results
INLINE_BELOW = 48  # fewer files than this: starting worker processes costs more than it saves
PAGES_PER_TASK = 8  # pages of a document read by one task: a long PDF's pages spread over the workers


@dataclass(frozen=True)
class ProcessedFile:
    """One file after decoding and the glyph.

    `outcome` is "glyph" (`features` (64,) float64 in [0, 16], the canonical glyph, and
    `model_input` (glyph.MODEL_INPUT,) float64 >= 0, what the classifier reads, set when the
    picture was read as one digit; `candidates`, the reading.CANDIDATE table of its candidate
    digits, and `candidate_inputs` (K, MODEL_INPUT), their model inputs, set unless it was read
    with `whole_only`; `image_size` (width, height) as a viewer shows it), "no_digit",
    "failed" (reason set; the file's content cannot become a digit), "same" (its content hash is
    the one the caller already knows: nothing decoded), or "retry" (vanished or unreadable now:
    nothing is recorded, a later run tries again). `sha256`, `size` and `mtime_ns` describe the bytes read.
    """

    outcome: str
    features: np.ndarray | None = None
    model_input: np.ndarray | None = None
    candidates: np.ndarray | None = None
    candidate_inputs: np.ndarray | None = None
    image_size: tuple[int, int] | None = None
    thumbnail: bytes | None = None
    reason: str | None = None
    sha256: str | None = None
    size: int = 0
    mtime_ns: int = 0
    page: int | None = None  # 1-based page of a multi-page file this result is of
    pages: tuple[ProcessedFile, ...] = ()  # outcome "pages": results of some pages of a document ...
    page_count: int = 0  # ... which holds this many pages in all
    classified: bool = False  # `candidates` already hold the model's probabilities (read on a cluster worker)


@dataclass(frozen=True)
class FileJob:
    """A file to process, with the content hash of the version already read (None: decode anyway).
    With `pages` (0-based page indexes), those pages of a document whose hash is `known_sha256`
    and (size, mtime_ns) `known_version`."""

    path: Path
    known_sha256: str | None = None
    whole_only: bool = False  # read the picture as one digit (training folders), not as a number
    pages: tuple[int, ...] | None = None
    known_version: tuple[int, int] | None = None


def open_regular_file(path: Path) -> tuple[BinaryIO, os.stat_result]:
    """A regular file opened for reading (a buffered stream, the caller closes it) and its stat,
    without following a symlink or blocking on a FIFO; DecodeError if not regular or too large."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise DecodeError("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise DecodeError(f"too large: {info.st_size:,} bytes")
        return os.fdopen(descriptor, "rb", buffering=1 << 20), info
    except BaseException:
        os.close(descriptor)
        raise


def process_file(path: Path, known_sha256: str | None = None, whole_only: bool = False,
                 pages: tuple[int, ...] | None = None, known_version: tuple[int, int] | None = None) -> ProcessedFile:
    """Read one file, and unless its hash is `known_sha256`, decode it and find its digits
    (with `whole_only`, read it as one digit); with `pages`, read those pages of the document
    whose hash is `known_sha256` and (size, mtime_ns) `known_version` (outcome "retry" if it
    changed). Never raises."""
    try:
        stream, info = open_regular_file(path)
    except (FileNotFoundError, PermissionError):
        return ProcessedFile("retry", reason="the file vanished or cannot be read now")
    except DecodeError as exc:  # refused unread (too big, not a regular file): stamp it from lstat
        try:
            info = os.lstat(path)
        except OSError:
            return ProcessedFile("retry", reason="the file vanished or cannot be read now")
        return ProcessedFile("failed", reason=str(exc), sha256="", size=info.st_size, mtime_ns=info.st_mtime_ns)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a symlink after listing: never followed
            return ProcessedFile("retry", reason="a symbolic link, not followed")
        return ProcessedFile("retry", reason=f"cannot read the file now ({exc.strerror})")
    with stream:
        try:
            return _process_open(stream, info, known_sha256, whole_only, pages, known_version)
        except OSError as exc:  # an I/O error part-way: not the file's fault, a later run tries again
            return ProcessedFile("retry", reason=f"cannot read the file now ({exc.strerror or exc})")


def _process_open(stream: BinaryIO, info: os.stat_result, known_sha256: str | None, whole_only: bool,
                  pages: tuple[int, ...] | None, known_version: tuple[int, int] | None) -> ProcessedFile:
    """process_file of a file open as `stream`, whose stat is `info`."""
    from batchdigits.files.documents import is_pdf_stream

    version = (info.st_size, info.st_mtime_ns)
    if pages is not None:  # more pages of a document an earlier task hashed: its stamp stands for the hash
        if version != known_version:
            return ProcessedFile("retry", reason="the file changed while its pages were read")
        return _unless_changed(stream, version, ProcessedFile(
            "pages", pages=read_pages(stream, pages, None), sha256=known_sha256, size=version[0], mtime_ns=version[1]))
    if not whole_only and is_pdf_stream(stream):
        # Hashed in chunks and rendered page by page from the file: a long PDF is never in memory whole.
        digest = hashlib.sha256()
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
        stamp = {"sha256": digest.hexdigest(), "size": version[0], "mtime_ns": version[1]}
        if stamp["sha256"] == known_sha256:
            return ProcessedFile("same", **stamp)
        return _unless_changed(stream, version, replace(process_stream(stream), **stamp))
    data = stream.read()
    stamp = {"sha256": hashlib.sha256(data).hexdigest(), "size": version[0], "mtime_ns": version[1]}
    if stamp["sha256"] == known_sha256:
        return ProcessedFile("same", **stamp)
    return replace(process_bytes(data, whole_only), **stamp)


def _unless_changed(stream: BinaryIO, version: tuple[int, int], processed: ProcessedFile) -> ProcessedFile:
    """`processed`, or "retry" if the file read from `stream` changed (size, mtime) while it was read."""
    info = os.fstat(stream.fileno())
    if (info.st_size, info.st_mtime_ns) != version:
        return ProcessedFile("retry", reason="the file changed while it was read")
    return processed


def process_bytes(data: bytes, whole_only: bool = False) -> ProcessedFile:
    """Decode a file's bytes and find its candidate digits (with `whole_only`, its one glyph);
    never raises (bad bytes are a result, not a crash)."""
    if not data:
        return ProcessedFile("failed", reason="empty file (0 bytes)")
    return process_stream(io.BytesIO(data), whole_only)


def process_stream(stream: BinaryIO, whole_only: bool = False) -> ProcessedFile:
    """process_bytes of a seekable binary stream (a file's bytes or the open file itself)."""
    # Imported here: a run with nothing to read never pays for Pillow, scipy and scikit-image.
    from batchdigits.files.decode import decode_image
    from batchdigits.files.documents import is_pdf_stream, page_count

    if not whole_only:
        try:
            count = page_count(stream)
        except DecodeError as exc:
            return ProcessedFile("failed", reason=str(exc))
        except Exception as exc:  # a reader's bug must not stop the run; report it on this file only
            return ProcessedFile("failed", reason=f"cannot read the document ({type(exc).__name__})")
        if count > 1 or is_pdf_stream(stream):
            first = tuple(range(min(count, PAGES_PER_TASK)))
            return ProcessedFile("pages", pages=read_pages(stream, first, count), page_count=count)
    return _read_guarded(lambda: decode_image(stream), whole_only)


def read_pages(stream: BinaryIO, indexes: tuple[int, ...], count: int | None) -> tuple[ProcessedFile, ...]:
    """The results of pages `indexes` (0-based) of a PDF or multi-page file (a seekable binary
    stream), each with its 1-based `page` (None when the document has one page: `count` 1)."""
    from batchdigits.files.decode import decode_image, decode_picture
    from batchdigits.files.documents import is_pdf_stream, pdf_pages

    def numbered(index: int, processed: ProcessedFile) -> ProcessedFile:
        return replace(processed, page=None if count == 1 else index + 1)

    results = []
    if is_pdf_stream(stream):
        try:
            for index, picture in pdf_pages(stream, indexes):
                if isinstance(picture, DecodeError):
                    results.append(numbered(index, ProcessedFile("failed", reason=str(picture))))
                else:
                    results.append(numbered(index, _read_guarded(lambda: decode_picture(picture))))
        except DecodeError as exc:  # the document itself (it was read a moment ago)
            results = [numbered(index, ProcessedFile("failed", reason=str(exc))) for index in indexes]
        return tuple(results)
    return tuple(numbered(index, _read_guarded(lambda: decode_image(stream, frame=index))) for index in indexes)


def _read_guarded(decode, whole_only: bool = False) -> ProcessedFile:
    """read_decoded of what `decode()` gives, a failed result with the reason if it raises."""
    try:
        decoded = decode()
    except DecodeError as exc:
        return ProcessedFile("failed", reason=str(exc))
    except Exception as exc:  # a decoder bug must not stop the run; report it on this file only
        return ProcessedFile("failed", reason=f"cannot decode ({type(exc).__name__})")
    return read_decoded(decoded, whole_only)


def read_decoded(decoded, whole_only: bool = False) -> ProcessedFile:
    """A decoded picture's candidate digits (with `whole_only`, its one glyph); never raises."""
    from batchdigits.recognition.glyph import glyph_from_image
    from batchdigits.recognition.reading import candidates

    try:
        if whole_only:
            glyph = glyph_from_image(decoded.rgb)
            table, inputs, reason = None, None, glyph.reason
        else:
            table, inputs, reason = candidates(decoded.rgb, decoded.upright_size)
    except Exception as exc:
        return ProcessedFile("failed", thumbnail=decoded.thumbnail,
                             reason=f"cannot find the digits ({type(exc).__name__})")
    if reason is not None:
        return ProcessedFile("no_digit", thumbnail=decoded.thumbnail, reason=reason)
    if whole_only:
        return ProcessedFile("glyph", features=glyph.features, model_input=glyph.model_input,
                             thumbnail=decoded.thumbnail, image_size=decoded.upright_size)
    whole = np.nonzero(table["whole"])[0]
    return ProcessedFile("glyph", candidates=table, candidate_inputs=inputs, thumbnail=decoded.thumbnail,
                         image_size=decoded.upright_size,
                         features=table["glyph"][whole[0]].astype(np.float64) if len(whole) else None,
                         model_input=inputs[whole[0]] if len(whole) else None)


# glibc's malloc hands every block above its mmap threshold back to the kernel when freed, and a
# glyph allocates and frees arrays of a few hundred KB per image: each costs fresh page faults.
# Dask's workers make it worse (MALLOC_TRIM_THRESHOLD_=65536 also pins the threshold at 128 KB).
# Measured 2026-12-08 on 200 drawings of 64-400 px: 5.4 s of CPU as glibc starts, 7.9 s in a Dask
# worker's setting, 4.1 s with these thresholds (peak memory 85-91 MB in all three).
MMAP_THRESHOLD = 4 * 2**20
TRIM_THRESHOLD = 16 * 2**20
_allocator_tuned = False


def tune_allocator() -> None:
    """Keep freed blocks of up to MMAP_THRESHOLD in this process's heap (glibc; elsewhere nothing)."""
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, TRIM_THRESHOLD)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: its own allocator's defaults
        pass


def process_many(jobs: Sequence[FileJob]) -> list[ProcessedFile]:
    """process_file over a list (one worker task)."""
    tune_allocator()
    return [process_file(job.path, job.known_sha256, job.whole_only, job.pages, job.known_version) for job in jobs]


def classify_processed(results: Sequence[ProcessedFile], model) -> list[ProcessedFile]:
    """The results with the candidates of every picture (and document page) classified by
    `model` (a LoadedModel) in one batch, marked `classified`, as a cluster worker returns them."""
    from batchdigits.recognition.reading import classify

    def unclassified(processed: ProcessedFile) -> bool:
        return processed.outcome == "glyph" and processed.candidates is not None

    pictures = [page for processed in results for page in (processed.pages or (processed,)) if unclassified(page)]
    classify([page.candidates for page in pictures], [page.candidate_inputs for page in pictures],
             model.probabilities, model.one_digit_of)

    def marked(processed: ProcessedFile) -> ProcessedFile:
        if processed.pages:
            return replace(processed, pages=tuple(marked(page) for page in processed.pages))
        # The inputs are spent: the client needs only the classified table.
        return replace(processed, classified=True, candidate_inputs=None) if unclassified(processed) else processed

    return [marked(processed) for processed in results]


def iter_processed(
    files: Sequence[Path | FileJob], *, jobs: int, per_task: int = FILES_PER_TASK, inline_below: int = INLINE_BELOW
) -> Iterator[tuple[int, ProcessedFile]]:
    """Yield (index into `files`, result) for every file, in order, using `jobs` processes
    (`per_task` files to a task; fewer than `inline_below` files are read in this process)."""
    work = [item if isinstance(item, FileJob) else FileJob(item) for item in files]
    if jobs == 1 or len(work) < inline_below:
        tune_allocator()
        for index, job in enumerate(work):
            yield index, process_file(job.path, job.known_sha256, job.whole_only, job.pages, job.known_version)
        return
    from joblib import Parallel, delayed

    starts = range(0, len(work), per_task)
    results = Parallel(n_jobs=jobs, return_as="generator")(
        delayed(process_many)(work[start : start + per_task]) for start in starts
    )
    for start, batch in zip(starts, results):
        for offset, processed in enumerate(batch):
            yield start + offset, processed
    _stop_idle_workers(jobs)


def _stop_idle_workers(jobs: int) -> None:
    """End joblib's reusable worker processes: idle, they would hold memory while the report renders."""
    from joblib.externals.loky import get_reusable_executor

    # Asking for the pool with its own size returns it as it is (another size would resize it first).
    get_reusable_executor(max_workers=jobs).shutdown(wait=True)


def labelled_features(folder: Path, *, jobs: int) -> tuple[np.ndarray, np.ndarray]:
    """A labelled folder (subfolders 0..9) through the scan path -> ((N,) labels, (N, MODEL_INPUT) model inputs).

    A row is NaN where no digit was found or the file failed.
    """
    from batchdigits.files.datasets import labelled_files
    from batchdigits.recognition.glyph import MODEL_INPUT

    files = labelled_files(folder)
    features = np.full((len(files), MODEL_INPUT), np.nan)
    work = [FileJob(item.absolute, whole_only=True) for item in files]
    for index, processed in iter_processed(work, jobs=jobs):
        if processed.model_input is not None:
            features[index] = processed.model_input
    return np.array([item.label for item in files], dtype=int), features


def default_jobs() -> int:
    """Worker processes to use by default: one per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
