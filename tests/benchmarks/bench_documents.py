"""A long PDF against the same pages as PNG files: scan time and peak memory.

Run by hand (not collected by pytest):

    python tests/benchmarks/bench_documents.py [--pages 200] [--work DIR]

It draws digit pages itself (tests/drawing.py), writes them once as one PDF of N pages and once
as N PNG files, scans each with the real command (`-j 2`, `--full`), and prints seconds and the
peak RSS of the scan's process tree (the largest peak resident set of the scan and of its workers),
for N and for a quarter of N pages (memory must not grow with the page count). Target: the PDF
at most 1.5 times the PNG files' time.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from drawing import digit_image, pdf_document  # noqa: E402


def process_tree(root: int) -> list[int]:
    """The process `root` and all its descendants now alive (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, frontier = [root], [root]
    while frontier:
        frontier = [child for pid in frontier for child in parents.get(pid, [])]
        tree.extend(frontier)
    return tree


def high_water_mb(pid: int) -> float | None:
    """A process's peak resident set since it started its program (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def timed_scan(folder: Path, out: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB of the largest process of the scan's tree: the scan or a worker).

    Peaks are read from each process's VmHWM while it runs: getrusage's ru_maxrss would count the
    memory of this script, which the scan process inherits until it starts its program.
    """
    command = [sys.executable, "-m", "batchdigits", "scan", str(folder), "-o", str(out), "-q", "--full", "-j", "2"]
    peaks: dict[int, float] = {}
    started = time.perf_counter()
    scan = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while scan.poll() is None:
        for pid in process_tree(scan.pid):
            peak = high_water_mb(pid)
            if peak is not None:
                peaks[pid] = max(peaks.get(pid, 0.0), peak)
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if scan.returncode != 0:
        sys.exit(f"scan failed: {scan.stderr.read().strip()}")
    return seconds, max(peaks.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-documents-"))
    print(f"{'pages':>6} {'PNG s':>7} {'PDF s':>7} {'ratio':>6} {'PNG MB':>7} {'PDF MB':>7}")
    for count in (max(1, args.pages // 4), args.pages):
        pictures = [digit_image(index % 10, seed=index, size=256) for index in range(count)]
        pngs, pdfs = work / f"png-{count}", work / f"pdf-{count}"
        for folder in (pngs, pdfs):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        for index, picture in enumerate(pictures):
            picture.save(pngs / f"page-{index:04d}.png")
        (pdfs / "pages.pdf").write_bytes(pdf_document(pictures))
        png_seconds, png_mb = timed_scan(pngs, work / f"out-png-{count}")
        pdf_seconds, pdf_mb = timed_scan(pdfs, work / f"out-pdf-{count}")
        print(f"{count:>6} {png_seconds:>7.2f} {pdf_seconds:>7.2f} {pdf_seconds / png_seconds:>6.2f} "
              f"{png_mb:>7.0f} {pdf_mb:>7.0f}", flush=True)
    print(f"files in {work}")


if __name__ == "__main__":
    main()
