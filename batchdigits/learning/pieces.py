"""Teaching the model which candidates of a number are one digit (recognition/pieces.py):
numbers composed from training digits, read through the scan's own segmentation, each
candidate labelled by where the digits were drawn.

The digits are load_digits' (the writers the caller's classifier did not see) and synthetic
drawings, augmented as for the classifier, at heights from a small scan's to a drawing's, set
side by side with gaps from wide to overlapping, some in printed comb boxes or over a line.
"""

from __future__ import annotations

import io

import numpy as np

NUMBERS = 3000  # composed numbers per training run (about 70,000 candidates)
DIGITS = (2, 6)  # least and most digits of a composed number
GAPS = (-0.15, 0.5)  # between two digits' ink, in digit heights: overlapping to wide
HEIGHTS = (18.0, 160.0)  # digit heights, in pixels, of a composed number ...
HEIGHT_SPREAD = 0.12  # ... and how far one digit's may differ from the number's
SYNTHETIC_SHARE = 0.5  # of the digits, synthetic drawings rather than load_digits' redrawn
COMB_SHARE = 0.15
UNDERLINE_SHARE = 0.1
# A candidate is one digit when its columns and those of one drawn digit overlap this much (of
# the columns either covers) and it covers this much of that digit's rows; anything else (a
# merged pair, a part of a digit, a digit's bowl cut off by a printed line) is not.
ONE_DIGIT_OVERLAP = 0.75
TREES = 200
PIECE_STREAM = 2  # keeps these random streams apart from the classifier's
CHUNKS = 24


def digit_ink(digit: int, rng: np.random.Generator, cells: np.ndarray | None, height: float) -> np.ndarray:
    """A new drawing of `digit` -> (h, w) float64 ink in [0, 1], cropped to it, about `height`
    pixels high: one of `cells` ((N, 8, 8) load_digits images of that digit) redrawn, or a
    synthetic drawing, augmented either way."""
    from skimage.transform import resize

    from batchdigits.learning.synthetic import synthetic_picture
    from batchdigits.learning.training import add_foot, augment, picture_from_8x8

    if cells is not None and len(cells) and rng.random() >= SYNTHETIC_SHARE:
        picture = augment(add_foot(picture_from_8x8(cells[rng.integers(len(cells))]), digit, rng), rng)
    else:
        picture = augment(synthetic_picture(digit, rng), rng)
    ink = 1.0 - picture
    rows, cols = np.nonzero(ink > 0.2 * max(float(ink.max()), 1e-9))
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = height * rng.uniform(1 - HEIGHT_SPREAD, 1 + HEIGHT_SPREAD) / ink.shape[0]
    shape = (max(2, int(round(ink.shape[0] * scale))), max(1, int(round(ink.shape[1] * scale))))
    return np.clip(resize(ink, shape, order=1, anti_aliasing=scale < 1), 0.0, 1.0)


def compose_number(inks: list[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Digit inks, left to right -> ((H, W) uint8 grey picture, dark ink on white; each digit's
    box (x, y, width, height) in it). Gaps are drawn from GAPS; some numbers get a comb of
    printed cells, one per digit, or a printed line under them."""
    from PIL import Image, ImageDraw

    height = float(np.median([ink.shape[0] for ink in inks]))
    margin = int(round(0.4 * height)) + 2
    comb = rng.random() < COMB_SHARE
    if comb:
        cell = int(max(ink.shape[1] for ink in inks) + 0.3 * height) + 2
        steps = [cell] * (len(inks) - 1)
        offsets = [int(rng.uniform(0.2, 0.8) * (cell - ink.shape[1])) for ink in inks]
    else:
        steps = [ink.shape[1] + rng.uniform(*GAPS) * height for ink in inks[:-1]]
        offsets = [0] * len(inks)
    lefts = margin + np.r_[0.0, np.cumsum(steps)]
    width = int(lefts[-1] + (cell if comb else inks[-1].shape[1]) + margin) + 1
    tallest = max(ink.shape[0] for ink in inks)
    canvas = np.zeros((int(tallest + 0.15 * height) + 2 * margin, max(width, 8)))
    boxes = []
    for ink, left, offset in zip(inks, lefts, offsets):
        x = int(round(left)) + offset
        y = margin + int(rng.uniform(0.0, 0.15) * height) + (tallest - ink.shape[0]) // 2
        region = canvas[y:y + ink.shape[0], x:x + ink.shape[1]]
        np.maximum(region, ink[:region.shape[0], :region.shape[1]], out=region)
        boxes.append((x, y, region.shape[1], region.shape[0]))
    image = Image.fromarray((255 * (1.0 - canvas)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    shade = int(rng.integers(60, 170))
    thickness = max(1, int(round(height / rng.uniform(30, 70))))
    if comb:
        top, bottom = margin - int(0.1 * height), canvas.shape[0] - margin + int(0.1 * height)
        for edge in [*lefts, lefts[-1] + cell]:
            x = int(round(edge)) - 1
            draw.line([(x, top), (x, bottom)], fill=shade, width=thickness)
        for y in (top, bottom):
            draw.line([(int(lefts[0]) - 1, y), (int(round(lefts[-1] + cell)) - 1, y)], fill=shade, width=thickness)
    elif rng.random() < UNDERLINE_SHARE / (1 - COMB_SHARE):
        y = max(box[1] + box[3] for box in boxes) + int(rng.uniform(-0.05, 0.15) * height)
        draw.line([(margin // 2, y), (canvas.shape[1] - margin // 2, y)], fill=shade, width=thickness)
    return np.asarray(image), boxes


def one_digit_labels(table: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """A (K,) reading.CANDIDATE table and the drawn digits' boxes -> (K,) int: 1 where the
    candidate is one digit, 0 where it is not, -1 for skip rows."""
    labels = np.full(len(table), -1)
    for index in np.nonzero(~table["skip"])[0]:
        x, y, width, height = (int(v) for v in table[index]["box"])
        one = False
        for left, top, drawn_width, drawn_height in boxes:
            shared = min(x + width, left + drawn_width) - max(x, left)
            columns = max(0, shared) / (max(x + width, left + drawn_width) - min(x, left))
            rows = max(0, min(y + height, top + drawn_height) - max(y, top)) / max(1, drawn_height)
            one = one or (columns >= ONE_DIGIT_OVERLAP and rows >= ONE_DIGIT_OVERLAP)
        labels[index] = one
    return labels


def composed_candidates(cells: np.ndarray, labels: np.ndarray, count: int, seed: int,
                        first_index: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """`count` composed numbers -> for each that the segmentation reads as a number, (its (K,)
    CANDIDATE table, (K, MODEL_INPUT) model inputs, (K,) one_digit_labels). Number i uses its
    own random stream from `seed` and `first_index` + i, so any chunking gives the same result."""
    from PIL import Image

    from batchdigits.recognition.runner import process_bytes

    by_digit = {digit: cells[labels == digit] for digit in range(10)}
    found = []
    for index in range(first_index, first_index + count):
        rng = np.random.default_rng([seed, PIECE_STREAM, index])
        digits = rng.integers(0, 10, int(rng.integers(DIGITS[0], DIGITS[1] + 1)))
        height = rng.uniform(*HEIGHTS)
        picture, boxes = compose_number([digit_ink(int(d), rng, by_digit[int(d)], height) for d in digits], rng)
        encoded = io.BytesIO()
        Image.fromarray(picture).save(encoded, "PNG")
        processed = process_bytes(encoded.getvalue())
        if processed.outcome == "glyph" and processed.candidates is not None and len(processed.candidates) > 1:
            found.append((processed.candidates, processed.candidate_inputs,
                          one_digit_labels(processed.candidates, boxes)))
    return found


def fit_one_digit_scorer(cells: np.ndarray, labels: np.ndarray, probabilities_of, *, numbers: int = NUMBERS,
                         seed: int, jobs: int):
    """(N, 8, 8) load_digits cells and (N,) labels (writers the classifier did not see), and the
    classifier's `probabilities_of` ((M, MODEL_INPUT) -> (M, 10)) -> (the fitted
    recognition.pieces.OneDigitScorer, its training figures)."""
    from joblib import Parallel, delayed
    from sklearn.ensemble import HistGradientBoostingClassifier

    from batchdigits.recognition.pieces import OneDigitScorer, piece_features
    from batchdigits.recognition.reading import classify

    bounds = [chunk for chunk in np.array_split(np.arange(numbers), CHUNKS) if len(chunk)]
    parts = Parallel(n_jobs=jobs)(
        delayed(composed_candidates)(cells, labels, len(chunk), seed, int(chunk[0])) for chunk in bounds
    )
    found = [item for part in parts for item in part]
    tables = [table for table, _, _ in found]
    classify(tables, [inputs for _, inputs, _ in found], probabilities_of)
    features = np.vstack([piece_features(table)[truth >= 0] for table, (_, _, truth) in zip(tables, found)])
    truth = np.concatenate([truth[truth >= 0] for _, _, truth in found])
    boosted = HistGradientBoostingClassifier(max_iter=TREES, early_stopping=False, random_state=seed)
    boosted.fit(features, truth)
    figures = {"numbers": numbers, "candidates": int(len(truth)), "one_digit_share": round(float(truth.mean()), 4),
               "trees": TREES}
    return OneDigitScorer.of(boosted), figures
