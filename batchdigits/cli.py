"""The command line: parse options, call one core function, turn errors into one line and an exit code.

Core modules are imported inside the commands so that `--help` and `--version` stay instant.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from batchdigits import __version__
from batchdigits.errors import BatchDigitsError, ExitCode

app = typer.Typer(
    name="batchdigits",
    help="Read the handwritten digit in every image of a folder and write an HTML report.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DEFAULT_OUT = Path("batchdigits-report")
DEFAULT_EVALUATION_OUT = Path("batchdigits-evaluation")


def fail(message: str, code: int) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    typer.echo(f"batchdigits: {message}", err=True)
    return typer.Exit(code=int(code))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"batchdigits {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Read the handwritten digit in every image of a folder and write an HTML report."""


def _run_core(action):
    """Call a core function; its known errors become one line on stderr and their exit code."""
    try:
        return action()
    except BatchDigitsError as exc:
        raise fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None
    except Exception as exc:
        if os.environ.get("BATCHDIGITS_DEBUG"):
            raise
        raise fail(
            f"internal error: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]} (set BATCHDIGITS_DEBUG=1 to see where)",
            ExitCode.FATAL,
        ) from None


InputDir = Annotated[Path, typer.Argument(metavar="INPUT_DIR", help="Folder of images; subfolders are read too.", show_default=False)]
OutOption = Annotated[Path, typer.Option("-o", "--out", help="Report folder (report.html, results.csv, results.json).")]
ModelOption = Annotated[Optional[Path], typer.Option("--model", help="Model file to use instead of the bundled one.")]
MinAgeOption = Annotated[float, typer.Option("--min-age", min=0, help="Leave files younger than this many seconds for a later run.")]
ReviewOption = Annotated[Optional[float], typer.Option("--review-below", min=0.0, max=1.0, help="Flag results whose confidence is below this (0..1) for review.  [default: 0.94]")]
JobsOption = Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help="Worker processes.  [default: one per core]")]
FullOption = Annotated[bool, typer.Option("--full", help="Decode every file again, even if unchanged.")]
NoRecursiveOption = Annotated[bool, typer.Option("--no-recursive", help="Read only the folder itself, not its subfolders.")]
QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing unless something is wrong (for cron).")]
DigitsOption = Annotated[Optional[int], typer.Option("--digits", min=1, max=1000, help="How many digits each image holds (e.g. 5 for ZIP codes): guides where the digits part, and flags images that hold another count.  [default: whatever each image holds]", show_default=False)]


def _scan_options(input_dir: Path, out: Path, model: Optional[Path], min_age: float, review_below: Optional[float],
                  jobs: Optional[int], full: bool, no_recursive: bool, labels: Optional[Path] = None,
                  digits: Optional[int] = None, cluster: Optional[str] = None):
    """ScanOptions from the command line, defaults filled in."""
    from batchdigits.resources import bundled_model_path
    from batchdigits.recognition.runner import default_jobs
    from batchdigits.scan import DEFAULT_REVIEW_BELOW, ScanOptions

    return ScanOptions(
        input_dir=input_dir,
        out_dir=out,
        model_path=model if model is not None else bundled_model_path(),
        min_age=min_age,
        review_below=DEFAULT_REVIEW_BELOW if review_below is None else review_below,
        jobs=jobs or default_jobs(),
        recursive=not no_recursive,
        full=full,
        labels_file=labels,
        digits=digits,
        cluster=cluster or None,
    )


def _tell(outcome, quiet: bool) -> None:
    """Warnings and failures on stderr; unless quiet, the counts and the report's URI on stdout."""
    summary, run = outcome.summary, outcome.run
    for note in outcome.notes:
        typer.echo(f"batchdigits: {note}", err=True)
    if run.failed:
        typer.echo(f"batchdigits: {run.failed} file(s) could not be read; see the report", err=True)
    if not quiet:
        typer.echo(
            f"{summary.files} files: {summary.recognized} recognized ({summary.review} to review), "
            f"{summary.no_digit} without a digit, {summary.failed} failed; "
            f"{run.processed} read now, {run.unchanged} unchanged"
            + (f", {run.pending} left for a later run" if run.pending else "")
            + (f"; {summary.skipped} not read (listed in the report and results.json)" if summary.skipped else "")
        )
        typer.echo(outcome.report_path.resolve().as_uri())


@app.command()
def scan(
    input_dir: InputDir,
    out: OutOption = DEFAULT_OUT,
    model: ModelOption = None,
    min_age: MinAgeOption = 0.0,
    review_below: ReviewOption = None,
    jobs: JobsOption = None,
    full: FullOption = False,
    no_recursive: NoRecursiveOption = False,
    digits: DigitsOption = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="CSV of path,text lines (text: the digits, e.g. 7 or 90210): known answers, to show accuracy (folders named with digits, like 7/ or 90210/, count too).", show_default=False)] = None,
    open_report: Annotated[bool, typer.Option("--open", help="Open the report in the web browser when done.")] = False,
    quiet: QuietOption = False,
    cluster: Annotated[Optional[str], typer.Option("--cluster", envvar="BATCHDIGITS_CLUSTER", metavar="ADDRESS", help="Read the files on a Dask cluster: its scheduler's address (tcp://host:8786), or local:N for N local worker processes. Needs pip install 'batchdigits[dask]'; the files must be at the same path on every worker.", show_default=False)] = None,
) -> None:
    """Read the digits in every image of INPUT_DIR (one digit or a number) and write the report.

    Only files that are new or changed since the last run into the same report folder are
    decoded. The last line printed is the report's file:// URI.
    """
    from batchdigits.scan import scan as run_scan

    if cluster and jobs is not None:
        raise fail("--jobs and --cluster do not go together: a cluster's workers are set where it is started", ExitCode.USAGE)
    options = _scan_options(input_dir, out, model, min_age, review_below, jobs, full, no_recursive, labels, digits,
                            cluster)
    progress = _Progress(enabled=not quiet and sys.stderr.isatty())
    with progress:
        outcome = _run_core(lambda: run_scan(options, on_start=progress.start, progress=progress.advance))
    _tell(outcome, quiet)
    if open_report:
        import webbrowser

        webbrowser.open(outcome.report_path.resolve().as_uri())
    raise typer.Exit(code=int(outcome.exit_code))


@app.command()
def watch(
    input_dir: InputDir,
    out: OutOption = DEFAULT_OUT,
    every: Annotated[float, typer.Option("--every", min=1, help="Seconds between scans.")] = 60.0,
    model: ModelOption = None,
    min_age: MinAgeOption = 0.0,
    review_below: ReviewOption = None,
    jobs: JobsOption = None,
    no_recursive: NoRecursiveOption = False,
    digits: DigitsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Scan INPUT_DIR again every --every seconds until interrupted (Ctrl-C or SIGTERM end it cleanly).

    A pass that finds the folder missing or the report folder busy says so and waits for the next.
    """
    import signal
    import time

    from batchdigits.errors import InputFolderError, LockedError
    from batchdigits.scan import scan as run_scan

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # systemd stops a service with SIGTERM
    options = _scan_options(input_dir, out, model, min_age, review_below, jobs, False, no_recursive, digits=digits)
    try:
        while True:
            try:
                outcome = run_scan(options)
                _tell(outcome, quiet or (outcome.run.processed == 0 and not outcome.notes))
            except (InputFolderError, LockedError) as exc:
                typer.echo(f"batchdigits: {exc}; trying again in {every:g} s", err=True)
            except BatchDigitsError as exc:
                raise fail(str(exc), exc.exit_code) from None
            time.sleep(every)
    except KeyboardInterrupt:
        if not quiet:
            typer.echo("batchdigits: stopped", err=True)
        raise typer.Exit(code=0) from None


@app.command()
def train(
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Model file to write (its card goes beside it as .json).  [default: the bundled model]")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for augmentation and the classifier.")] = 0,
    extra: Annotated[Optional[list[Path]], typer.Option("--extra", help="A labelled folder (subfolders 0..9) to train on as well; repeatable.")] = None,
    mnist: Annotated[Optional[Path], typer.Option("--mnist", help="A folder with MNIST's IDX training files (gzipped or not).")] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="A CSV of path,text lines (as corrections.csv) naming images under --images to train on as well.")] = None,
    images: Annotated[Optional[Path], typer.Option("--images", help="The folder the --labels paths are relative to.")] = None,
    jobs: JobsOption = None,
) -> None:
    """Build the model from load_digits, reproducibly for a seed.

    Extra labelled folders, MNIST files and a person's corrected images can be added to the training data.
    """
    from batchdigits.resources import bundled_model_path
    from batchdigits.recognition.runner import default_jobs
    from batchdigits.learning.trainer import train_model

    target = out if out is not None else bundled_model_path()
    for folder in [*(extra or []), *([mnist] if mnist else []), *([images] if images else [])]:
        if not folder.is_dir():
            raise fail(f"not a folder: {folder}", ExitCode.USAGE)
    if (labels is None) != (images is None):
        raise fail("--labels and --images go together: the CSV, and the folder its paths are in", ExitCode.USAGE)
    card = _run_core(
        lambda: train_model(
            target, seed=seed, extra=list(extra or []), mnist=mnist, labels=labels, images=images,
            jobs=jobs or default_jobs(),
            report=lambda message: typer.echo(message, err=True),
        )
    )
    typer.echo(f"load_digits split accuracy: {card.metrics['load_digits_split_accuracy']:.4f}")
    if labels is not None:
        typer.echo(f"user images trained on: {card.user_images} (labels sha256 {card.user_labels_sha256[:12]})")
    typer.echo(f"model written: {target} (sha256 {card.sha256[:12]}, card {target.with_suffix('.json')})")


@app.command()
def evaluate(
    labelled_dir: Annotated[Optional[Path], typer.Argument(metavar="LABELLED_DIR", help="Folder with subfolders 0..9 of images.  [default: load_digits' writer-disjoint split]", show_default=False)] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="Model file to evaluate instead of the bundled one.")] = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for evaluation.html and evaluation.json (comparison.html and .json with --compare).")] = DEFAULT_EVALUATION_OUT,
    review_below: Annotated[Optional[float], typer.Option("--review-below", min=0.0, max=1.0, help="Review threshold used for the unflagged error rate.  [default: 0.94]")] = None,
    jobs: JobsOption = None,
    compare: Annotated[bool, typer.Option("--compare", help="Train SVC, k-nearest neighbours and an MLP on the same glyphs and print one table (minutes).")] = False,
) -> None:
    """Measure the model: accuracy, per-digit F1, confusion, calibration.

    Without LABELLED_DIR, the training recipe is measured on load_digits' writer-disjoint split.
    With --compare, the model families are trained and measured side by side instead.
    """
    from batchdigits.resources import bundled_model_path
    from batchdigits.recognition.runner import default_jobs
    from batchdigits.scan import DEFAULT_REVIEW_BELOW

    settings = {"review_below": DEFAULT_REVIEW_BELOW if review_below is None else review_below,
                "jobs": jobs or default_jobs()}
    if compare:
        if model is not None:
            raise fail("--compare trains each family itself; it takes no --model", ExitCode.USAGE)
        from batchdigits.output.compare import compare_on_folder, compare_on_split, format_comparison, write_comparison

        _measure(labelled_dir, out, on_split=lambda: compare_on_split(**settings),
                 on_folder=lambda folder: compare_on_folder(folder, **settings),
                 write=write_comparison, as_text=format_comparison)
        return
    from batchdigits.output.evaluate import evaluate_folder, evaluate_split, format_text, write_evaluation

    model_path = model if model is not None else bundled_model_path()
    _measure(labelled_dir, out, on_split=lambda: evaluate_split(**settings),
             on_folder=lambda folder: evaluate_folder(folder, model_path, **settings),
             write=write_evaluation, as_text=format_text)


def _measure(labelled_dir: Optional[Path], out: Path, *, on_split, on_folder, write, as_text) -> None:
    """`evaluate`'s common path: measure on the split or the folder, write the pages into `out`,
    print the text table and the HTML page's URI."""

    def run():
        measured = on_split() if labelled_dir is None else on_folder(labelled_dir)
        return measured, write(measured, out)

    measured, html_path = _run_core(run)
    typer.echo(as_text(measured))
    typer.echo(html_path.resolve().as_uri())


class _Progress:
    """A rich progress bar on stderr while files are read, only when a person is watching."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None
        self._task = None

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def start(self, total: int) -> None:
        """Show the bar for `total` files."""
        if not self.enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        from rich.console import Console

        self._bar = Progress(TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             console=Console(stderr=True), transient=True)
        self._task = self._bar.add_task("scan", total=total)
        self._bar.start()

    def advance(self, done: int) -> None:
        """Move the bar to `done` files."""
        if self._bar is not None:
            self._bar.update(self._task, completed=done)


def main() -> None:
    """Entry point for `python -m batchdigits`."""
    app(prog_name="batchdigits")
