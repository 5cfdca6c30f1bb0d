"""Speed and memory of `batchdigits scan`, measured side by side with what cannot be avoided.

Run by hand (not collected by pytest):

    python tests/benchmarks/bench_scan.py [--files 10000] [--work DIR] [--keep]

It draws a mixed corpus itself (64 px PNG drawings, 400 px RGBA PNG drawings, 1080 px phone-photo
JPEGs, 3000 px grayscale scans), then prints, as ratios measured in one run on this machine:

- a whole `scan` process (default jobs) over a bare Pillow decode of the same files (one process);
- a re-run with nothing new over the same bare decode;
- `batchdigits --help` over `python -c "import typer"`;
- peak resident memory of the scan (the process and its workers, summed) for the corpus.

Targets (issue 7): scan/decode <= 2.0, re-run/decode <= 0.3, help/typer <= 1.5, peak <= 500 MB.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from drawing import digit_image  # noqa: E402

# (share of the corpus, name, how to draw one variant)
KINDS = [
    (0.4, "drawing-64.png"),
    (0.3, "drawing-400-rgba.png"),
    (0.2, "photo-1080.jpg"),
    (0.1, "scan-3000.png"),
]
VARIANTS = 12  # distinct drawings per kind; the rest of the corpus repeats them under other names


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def draw_variant(kind: str, index: int) -> bytes:
    """One image of `kind`, digit and pen chosen by `index`."""
    digit, rng = index % 10, np.random.default_rng(index)
    if kind == "drawing-64.png":
        return _encoded(digit_image(digit, size=64, width=2, seed=index), "PNG")
    if kind == "drawing-400-rgba.png":
        return _encoded(digit_image(digit, size=400, width=6, mode="RGBA", paper=(255, 255, 255, 0),
                                    ink=(10, 10, 10, 255), seed=index), "PNG")
    if kind == "photo-1080.jpg":
        photo = np.asarray(digit_image(digit, size=1080, width=28, ink=(40, 40, 60), paper=(225, 220, 205), seed=index),
                           dtype=np.float32)
        light = np.linspace(0.75, 1.1, 1080)[None, :, None]  # uneven light across the page
        photo = np.clip(photo * light + rng.normal(0, 6, photo.shape), 0, 255).astype(np.uint8)
        return _encoded(Image.fromarray(photo), "JPEG", quality=88)
    scan = np.asarray(digit_image(digit, size=3000, width=60, ink=(35, 35, 35), paper=(236, 236, 236),
                                  seed=index).convert("L")).copy()
    specks = rng.random(scan.shape) < 0.002  # dust on the scanner glass
    scan[specks] = rng.integers(60, 200, int(specks.sum()))
    return _encoded(Image.fromarray(scan), "PNG", compress_level=6)


def build_corpus(folder: Path, files: int) -> list[Path]:
    """Write `files` images of the four kinds in their shares, in subfolders of 1,000."""
    variants = {kind: [draw_variant(kind, index) for index in range(VARIANTS)] for _, kind in KINDS}
    paths = []
    counts = [round(share * files) for share, _ in KINDS]
    counts[0] += files - sum(counts)
    number = 0
    for (_, kind), count in zip(KINDS, counts):
        for index in range(count):
            stem, suffix = kind.rsplit(".", 1)
            path = folder / f"batch{number // 1000:03d}" / f"{stem}_{index}.{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(variants[kind][index % VARIANTS])
            paths.append(path)
            number += 1
    return paths


def bare_decode(paths: list[Path]) -> float:
    """Seconds to open and fully decode every file with Pillow, in this one process."""
    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.load()
    return time.perf_counter() - started


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def timed_run(command: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """(seconds, peak summed RSS in bytes, result) of a command, sampling memory every 50 ms."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return elapsed, peak, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def best_of(command: list[str], repeats: int) -> float:
    """The fastest of `repeats` runs of a short command, in seconds."""
    return min(timed_run(command)[0] for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=None, help="folder for the corpus and report (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the corpus and report afterwards")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-batchdigits-"))
    corpus, report = work / "corpus", work / "report"
    shutil.rmtree(report, ignore_errors=True)
    started = time.perf_counter()
    if corpus.is_dir() and sum(1 for _ in corpus.rglob("*.*")) == args.files:
        paths = sorted(path for path in corpus.rglob("*.*"))
        print(f"corpus: reusing {len(paths)} files in {corpus}")
    else:
        shutil.rmtree(corpus, ignore_errors=True)
        paths = build_corpus(corpus, args.files)
        print(f"corpus: {len(paths)} files drawn in {time.perf_counter() - started:.1f} s "
              f"({sum(path.stat().st_size for path in paths) / 1e6:.0f} MB)")

    bare_decode(paths[: min(200, len(paths))])  # warm the page cache and Pillow's plugins
    decode = bare_decode(paths)
    scan = [sys.executable, "-m", "batchdigits", "scan", str(corpus), "-o", str(report), "-q"]
    scan_seconds, scan_peak, result = timed_run(scan)
    if result.returncode != 0:
        sys.exit(f"scan failed ({result.returncode}): {result.stderr.strip()}")
    rerun_seconds, _, rerun = timed_run(scan)
    help_seconds = best_of([sys.executable, "-m", "batchdigits", "--help"], 7)
    typer_seconds = best_of([sys.executable, "-c", "import typer"], 7)

    report_bytes = sum(path.stat().st_size for path in report.glob("report*.html"))
    print(f"jobs: default ({os.cpu_count()} cores)")
    print(f"bare Pillow decode:       {decode:8.2f} s  ({1000 * decode / len(paths):.2f} ms per file)")
    print(f"scan:                     {scan_seconds:8.2f} s  ratio scan/decode   {scan_seconds / decode:5.2f}  (target <= 2.0)")
    print(f"re-run, nothing new:      {rerun_seconds:8.2f} s  ratio re-run/decode {rerun_seconds / decode:5.2f}  (target <= 0.3)")
    print(f"--help:                   {help_seconds:8.3f} s  ratio help/typer    {help_seconds / typer_seconds:5.2f}  (target <= 1.5)")
    print(f"import typer:             {typer_seconds:8.3f} s")
    print(f"peak memory of the scan:  {scan_peak / 1e6:8.0f} MB for {len(paths)} files  (target <= 500 MB)")
    print(f"report: {report_bytes / 1e6:.1f} MB, {report_bytes / len(paths):.0f} bytes per image")
    print(f"re-run said: {rerun.stdout.strip() or '(nothing, as -q asks)'}")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
