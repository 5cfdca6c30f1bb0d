"""How well `batchdigits scan` reads numbers, against what perfect segmentation would give.

Run by hand (not collected by pytest), on labelled single digits (`<set>/<digit>/<file>`):

    python tests/benchmarks/bench_numbers.py DEV_DIR [--numbers 300] [--seed 0] [--work DIR] [--sets a,b]

For each set it composes numbers of 3-8 digits from that set's images (digits of one set per
image; gaps drawn from wide to overlapping by up to a tenth of the digit height; a fifth of the
numbers in printed comb boxes), files each under a folder named with its digits, and scans
them with the real command. It scans the set's single-digit images too, one per image, and
prints per set:

- exact-string accuracy, and what perfect segmentation would give: the mean over the numbers
  of the product of their digits' one-per-image correctness (target: at least 90% of it);
- character accuracy (1 - edit distance / length) against the one-per-image accuracy of the
  same digit images (target: within 2 points);
- how often the digit count was right (target: at least 97%);
- the share of numbers flagged for review, and how many of the unflagged ones are wrong.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

MIN_DIGITS, MAX_DIGITS = 3, 8
COMB_SHARE = 0.2
GAP_RANGE = (-0.1, 0.6)  # between two digits' ink, in digit heights: overlapping to wide


def ink_of(path: Path) -> np.ndarray:
    """A dark-on-light digit image -> (h, w) float ink in [0, 1], cropped to its ink."""
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.float64) / 255.0
    ink = np.clip(np.median(gray[[0, -1]]) - gray, 0.0, 1.0)
    rows, cols = np.nonzero(ink > 0.2 * ink.max()) if ink.max() > 0 else (np.array([0]), np.array([0]))
    return ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def compose(inks: list[np.ndarray], rng: np.random.Generator, comb: bool,
            gap_range: tuple[float, float] = GAP_RANGE) -> Image.Image:
    """Digit inks side by side on white paper (optionally in a printed comb) -> an RGB image."""
    height = float(np.median([ink.shape[0] for ink in inks]))
    margin = int(0.35 * height)
    if comb:
        cell = int(max(ink.shape[1] for ink in inks) + 0.35 * height)
        cell_height = int(max(ink.shape[0] for ink in inks) + 0.3 * height)
        width, canvas_height = 2 * margin + cell * len(inks), 2 * margin + cell_height
        paper = np.zeros((canvas_height, width))
        for index, ink in enumerate(inks):
            spare_x, spare_y = cell - ink.shape[1], cell_height - ink.shape[0]
            left = margin + index * cell + int(rng.uniform(0.3, 0.7) * spare_x)
            top = margin + int(rng.uniform(0.3, 0.7) * spare_y)
            region = paper[top:top + ink.shape[0], left:left + ink.shape[1]]
            np.maximum(region, ink, out=region)
        image = Image.fromarray((255 * (1 - paper)).astype(np.uint8)).convert("RGB")
        draw = ImageDraw.Draw(image)
        line = int(rng.integers(90, 170))
        thickness = max(1, int(round(height / 60)))
        colour = (line, line, line) if rng.random() < 0.5 else (line // 2, line // 2 + 40, 200)
        draw.rectangle([margin, margin, margin + cell * len(inks), margin + cell_height], outline=colour, width=thickness)
        for index in range(1, len(inks)):
            x = margin + index * cell
            draw.line([(x, margin), (x, margin + cell_height)], fill=colour, width=thickness)
        return image
    gaps = [rng.uniform(*gap_range) * height for _ in inks[1:]]
    width = int(2 * margin + sum(ink.shape[1] for ink in inks) + sum(gaps) + 1)
    canvas_height = int(2 * margin + max(ink.shape[0] for ink in inks) + 0.1 * height)
    paper = np.zeros((canvas_height, max(width, 8)))
    x = float(margin)
    for index, ink in enumerate(inks):
        top = margin + int(rng.uniform(0, 0.1) * height) + (int(height) - ink.shape[0]) // 2
        top = max(0, min(top, canvas_height - ink.shape[0]))
        left = int(round(x))
        region = paper[top:top + ink.shape[0], left:left + ink.shape[1]]
        np.maximum(region, ink[:region.shape[0], :region.shape[1]], out=region)
        x += ink.shape[1] + (gaps[index] if index < len(gaps) else 0)
    return Image.fromarray((255 * (1 - paper)).astype(np.uint8)).convert("RGB")


def scan(folder: Path, out: Path, jobs: str | None) -> dict:
    """Run `batchdigits scan` on a folder and return its results.json."""
    command = [sys.executable, "-m", "batchdigits", "scan", str(folder), "-o", str(out), "-q", "--full"]
    if jobs:
        command += ["-j", jobs]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"scan of {folder} failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def measure_set(dev: Path, name: str, work: Path, numbers: int, seed: int, jobs: str | None,
                gap_range: tuple[float, float] = GAP_RANGE, comb_share: float = COMB_SHARE) -> dict:
    """Compose, scan and score one set; returns the figures."""
    from batchdigits.output.scores import text_scores

    source = dev / name
    files = {digit: sorted((source / str(digit)).glob("*.png")) for digit in range(10)}
    singles = scan(source, work / name / "singles-report", jobs)
    right = {}
    for item in singles["items"]:
        truth = item["path"].split("/")[0]
        right[item["path"]] = item["status"] == "recognized" and item["text"] == truth
    rng = np.random.default_rng(seed)
    folder = work / name / "numbers"
    shutil.rmtree(folder, ignore_errors=True)
    expected, used = [], []
    for index in range(numbers):
        count = int(rng.integers(MIN_DIGITS, MAX_DIGITS + 1))
        digits = [int(rng.integers(0, 10)) for _ in range(count)]
        chosen = [files[d][int(rng.integers(0, len(files[d])))] for d in digits]
        keys = [f"{d}/{path.name}" for d, path in zip(digits, chosen)]
        image = compose([ink_of(path) for path in chosen], rng, comb=rng.random() < comb_share, gap_range=gap_range)
        text = "".join(map(str, digits))
        (folder / text).mkdir(parents=True, exist_ok=True)
        image.save(folder / text / f"n{index:04d}.png")
        expected.append(float(np.prod([right.get(key, False) for key in keys])))
        used.extend(right.get(key, False) for key in keys)
    started = time.perf_counter()
    results = scan(folder, work / name / "numbers-report", jobs)
    seconds = time.perf_counter() - started
    items = results["items"]
    scores = text_scores([(item["label"], item["text"]) for item in items])
    flagged = [item for item in items if item["status"] != "recognized" or item["review"]]
    unflagged = [item for item in items if item not in flagged]
    wrong_unflagged = sum(item["text"] != item["label"] for item in unflagged)
    perfect = float(np.mean(expected))
    return {
        "set": name, "numbers": len(items), "exact": scores.exact, "perfect_segmentation": round(perfect, 4),
        "exact_over_perfect": round(scores.exact / perfect, 4) if perfect else None,
        "characters": scores.characters, "single_digit_accuracy": round(float(np.mean(used)), 4),
        "count_right": scores.count_right, "flagged": round(len(flagged) / max(1, len(items)), 4),
        "unflagged_wrong": round(wrong_unflagged / max(1, len(unflagged)), 4), "scan_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", type=Path, help="folder of labelled sets: <set>/<digit>/<file>")
    parser.add_argument("--numbers", type=int, default=300, help="numbers composed per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sets", default=None, help="comma-separated set names (default: every set)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the numbers and reports (default: a temp folder)")
    parser.add_argument("--jobs", default=None)
    parser.add_argument("--gaps", default=",".join(map(str, GAP_RANGE)),
                        help="least and most gap between digits, in digit heights (default: %(default)s)")
    parser.add_argument("--comb-share", type=float, default=COMB_SHARE, help="share of numbers in comb boxes")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-numbers-"))
    names = args.sets.split(",") if args.sets else sorted(p.name for p in args.dev.iterdir() if p.is_dir())
    print("set                  numbers  exact  perfect  ratio  chars  single  count  flagged  unflagged-wrong  seconds")
    for name in names:
        gaps = tuple(float(part) for part in args.gaps.split(","))
        row = measure_set(args.dev, name, work, args.numbers, args.seed, args.jobs, gaps, args.comb_share)
        print(f"{row['set']:<20} {row['numbers']:>7}  {row['exact']:.3f}  {row['perfect_segmentation']:.3f}    "
              f"{row['exact_over_perfect'] or 0:.3f}  {row['characters']:.3f}  {row['single_digit_accuracy']:.3f}   "
              f"{row['count_right']:.3f}  {row['flagged']:.3f}    {row['unflagged_wrong']:.3f}            {row['scan_seconds']}",
              flush=True)
        (work / f"{name}.json").write_text(json.dumps(row, indent=1) + "\n")
    print(f"numbers and reports in {work}")


if __name__ == "__main__":
    main()
