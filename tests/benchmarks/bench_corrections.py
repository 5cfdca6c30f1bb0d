"""What a person's corrections are worth: retrain with 300 of their images, read the rest better.

Run by hand (not collected by pytest), on labelled single digits (`<set>/<digit>/<file>`):

    python tests/benchmarks/bench_corrections.py DEV_DIR [--sets usps-rendered,mnist-rendered]
        [--first 300] [--work DIR] [--jobs N]

For each named set it writes a `corrections.csv` (`path,text`, as the report exports it) for
the set's first 300 images (by file name, so every digit is among them) with their folder
labels, trains with `batchdigits train --labels corrections.csv --images SET`, and scans the
set's other images with the bundled model and with the new one. Every other set in DEV_DIR is
scanned with both models as well. It prints the accuracy before and after on each, and the time
of training with the images against training without them (measured once).

Targets (issue 29): the rest of the set at least 2 points more accurate; no other set more
than half a point less; training with 300 images at most 1.5 times as long as without.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(command: list[str]) -> float:
    """Run a batchdigits command; its wall time in seconds (exits on failure)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "batchdigits", *command], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"batchdigits {' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return time.perf_counter() - started


def accuracy(folder: Path, out: Path, model: Path | None, jobs: str | None) -> float:
    """Share of a labelled folder's images that a scan reads as their folder's digit."""
    command = ["scan", str(folder), "-o", str(out), "-q", "--full"]
    command += ["--model", str(model)] if model else []
    command += ["-j", jobs] if jobs else []
    run(command)
    items = json.loads((out / "results.json").read_text(encoding="utf-8"))["items"]
    return sum(item["status"] == "recognized" and item["text"] == item["path"].split("/")[0]
               for item in items) / max(1, len(items))


def split_set(source: Path, first: int, work: Path) -> tuple[Path, Path]:
    """(corrections.csv naming the first `first` images of `source` by file name, a folder of the rest)."""
    files = sorted((path for path in source.rglob("*") if path.is_file()), key=lambda path: (path.name, str(path)))
    corrections = work / "corrections.csv"
    with corrections.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "text"])
        for path in files[:first]:
            relative = path.relative_to(source)
            writer.writerow([relative.as_posix(), relative.parts[0]])
    rest = work / "rest"
    shutil.rmtree(rest, ignore_errors=True)
    for path in files[first:]:
        target = rest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return corrections, rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", type=Path, help="folder of labelled sets: <set>/<digit>/<file>")
    parser.add_argument("--sets", default="usps-rendered,mnist-rendered")
    parser.add_argument("--first", type=int, default=300, help="images corrected per set")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--jobs", default=None)
    parser.add_argument("--without-seconds", type=float, default=None,
                        help="time of a training without user images already measured on this machine (skips it)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-corrections-"))
    work.mkdir(parents=True, exist_ok=True)
    every = sorted(path.name for path in args.dev.iterdir() if path.is_dir())
    jobs = ["-j", args.jobs] if args.jobs else []
    plain_seconds = args.without_seconds or run(["train", "-o", str(work / "plain" / "model.joblib"), *jobs])
    print(f"training without user images: {plain_seconds:.0f} s", flush=True)
    before = {name: accuracy(args.dev / name, work / "before" / name, None, args.jobs) for name in every}
    for name in args.sets.split(","):
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        corrections, rest = split_set(args.dev / name, args.first, folder)
        model = folder / "my-model.joblib"
        seconds = run(["train", "--labels", str(corrections), "--images", str(args.dev / name), "-o", str(model), *jobs])
        rest_before = accuracy(rest, folder / "rest-before", None, args.jobs)
        rest_after = accuracy(rest, folder / "rest-after", model, args.jobs)
        print(f"{name}: {args.first} corrections; training {seconds:.0f} s ({seconds / plain_seconds:.2f}x without); "
              f"the other {name} images {rest_before:.4f} -> {rest_after:.4f} ({100 * (rest_after - rest_before):+.2f} points)",
              flush=True)
        for other in every:
            if other == name:
                continue
            after = accuracy(args.dev / other, folder / "other" / other, model, args.jobs)
            print(f"    {other}: {before[other]:.4f} -> {after:.4f} ({100 * (after - before[other]):+.2f} points)", flush=True)
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
