"""Reading a number: every candidate digit of a picture through the canonical glyph, then the
path through the candidates that the classifier reads most surely (the digits, in order).

The worker side (`candidates`) needs no model: it returns a table of candidates with their
glyphs and model inputs. The classifier fills in each candidate's probabilities in batches,
and `best_reading` chooses, for a digit count given or not, the digits of the picture. The
table is what the ledger keeps, so another `--digits` needs no decoding again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ALTERNATIVES = 3
# One row per candidate digit, or per atom that may be left out ("skip" rows: cost only).
CANDIDATE = np.dtype([
    ("line", "<i4"), ("first", "<i4"), ("end", "<i4"),  # atoms [first, end) of line `line`
    ("skip", "?"),  # leave atom `first` out (a speck or stray ink), at `cost`
    ("whole", "?"),  # all the ink of a one-line picture, read as a lone digit is read
    ("box", "<i4", (4,)),  # x, y, width, height in the original (upright) picture's pixels
    ("cost", "<f8"),  # shape cost, in units of log-probability
    ("glyph", "u1", (64,)),  # the canonical 8x8 glyph, 0..16
    ("p", "<f8", (10,)),  # the classifier's probabilities, once classified
])
# Leaving out ink as big as a digit costs this much: only when nothing reads it as one.
UNREAD_COST = 6.0
# A reading whose best path with another count of digits scores within this (log-probability)
# of the chosen one is uncertain, and goes to review.
UNCERTAIN_MARGIN = 1.0
# A digit whose shape cost is this much (a cut through ink, a piece far wider or lower than its
# neighbours) is a guess about where digits part: the reading goes to review.
ODD_SHAPE = 1.0
EPSILON = 1e-6
# Where a model judges whether candidates are one digit (pieces.py), the shape costs count this
# much beside the log-odds of its judgement, each digit read earns DIGIT_BONUS (the odds charge
# a split for every part, a merged pair once), and no judgement is surer than ONE_DIGIT_FLOOR
# from 0 or 1 (measured: docs/numbers.md).
SHAPE_SHARE = 0.5
DIGIT_BONUS = 0.5
ONE_DIGIT_FLOOR = 1e-4
WHOLE_FLOOR = 0.5


@dataclass(frozen=True)
class DigitRead:
    """One digit of a reading: the digit, its confidence, up to 3 (digit, p) alternatives (the
    digit first), its box (x, y, width, height in the original picture's pixels), its line
    (0-based) and its (64,) 0..16 canonical glyph."""

    digit: int
    confidence: float
    alternatives: tuple[tuple[int, float], ...]
    box: tuple[int, int, int, int]
    line: int
    glyph: tuple[int, ...]


@dataclass(frozen=True)
class Reading:
    """What a picture says: its digits in reading order, the text ("90210"; lines apart by a
    space), the whole string's confidence (the product of its digits'), `doubt`: why the
    segmentation is uncertain (None when it is not), and `rows`: its digits' rows of the table."""

    digits: tuple[DigitRead, ...]
    text: str
    confidence: float
    doubt: str | None = None
    rows: tuple[int, ...] = ()  # the table rows of its digits, in order


def candidates(rgb: np.ndarray, upright_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(H, W, 3) float picture in [0, 1] -> (the (K,) CANDIDATE table, (K, MODEL_INPUT) model
    inputs, None), or (empty table, empty inputs, reason) when no digit is found.

    Boxes are scaled to `upright_size` (width, height), the picture's size before it was shrunk.
    A picture that is one digit gets exactly the glyph a lone digit gets (glyph_from_image).
    """
    from batchdigits.recognition.glyph import MODEL_INPUT, blank_or_noise, glyph_from_ink, ink_levels, ink_map
    from batchdigits.recognition.segment import segment

    ink = ink_map(rgb)
    height, width = ink.shape
    size = upright_size or (width, height)
    scale_x, scale_y = size[0] / width, size[1] / height
    levels = ink_levels(ink) if ink.size and min(ink.shape) >= 4 else None
    nothing = blank_or_noise(ink, levels)
    if nothing is not None:  # the whole picture is judged first: noise breaks into many "atoms"
        return np.zeros(0, CANDIDATE), np.zeros((0, MODEL_INPUT)), nothing
    lattice = segment(ink, levels)
    rows, inputs = [], []
    if lattice is None or (len(lattice.atoms) == 1 and lattice.atoms[0] == 1):
        glyph = glyph_from_ink(ink, levels, checked=True)  # nothing to choose: read as a lone digit
        if glyph.features is None:
            return np.zeros(0, CANDIDATE), np.zeros((0, MODEL_INPUT)), glyph.reason
        box = lattice.pieces[0].box if lattice is not None else glyph_box(ink, levels[1])
        row = np.zeros((), CANDIDATE)
        row["end"], row["whole"] = 1, True
        row["box"] = _scaled(box, scale_x, scale_y)
        row["glyph"] = glyph.features
        return row.reshape(1), glyph.model_input.reshape(1, -1), None
    for piece in lattice.pieces:
        if piece.whole:
            glyph = glyph_from_ink(ink, levels, checked=True)
        else:
            glyph = glyph_from_ink(_piece_ink(ink, piece))
        if glyph.features is None:
            continue
        row = np.zeros((), CANDIDATE)
        row["line"], row["first"], row["end"], row["whole"] = piece.line, piece.first, piece.end, piece.whole
        row["box"] = _scaled(piece.box, scale_x, scale_y)
        row["cost"], row["glyph"] = piece.cost, glyph.features
        rows.append(row)
        inputs.append(glyph.model_input)
    if not rows:
        glyph = glyph_from_ink(ink)
        return np.zeros(0, CANDIDATE), np.zeros((0, MODEL_INPUT)), glyph.reason or "no digit found"
    for line, (count, skips) in enumerate(zip(lattice.atoms, lattice.skips)):
        for atom in range(count):
            row = np.zeros((), CANDIDATE)
            row["line"], row["first"], row["end"], row["skip"] = line, atom, atom + 1, True
            row["cost"] = UNREAD_COST if skips[atom] is None else skips[atom]
            rows.append(row)
            inputs.append(np.zeros(MODEL_INPUT))
    return np.array(rows, dtype=CANDIDATE), np.array(inputs), None


def glyph_box(ink: np.ndarray, level: float) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a lone digit's ink: where the (H, W) ink map passes `level`."""
    inked = ink > level
    rows, cols = inked.any(axis=1), inked.any(axis=0)
    if not rows.any():
        return 0, 0, ink.shape[0], ink.shape[1]
    top, left = int(np.argmax(rows)), int(np.argmax(cols))
    return top, left, len(rows) - int(np.argmax(rows[::-1])), len(cols) - int(np.argmax(cols[::-1]))


def _scaled(box: tuple[int, int, int, int], scale_x: float, scale_y: float) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) in working pixels -> (x, y, width, height) in original pixels."""
    top, left, bottom, right = box
    x, y = int(math.floor(left * scale_x)), int(math.floor(top * scale_y))
    return x, y, int(math.ceil(right * scale_x)) - x, int(math.ceil(bottom * scale_y)) - y


def _piece_ink(ink: np.ndarray, piece) -> np.ndarray:
    """The ink map of one candidate digit alone: its box with a margin of paper, the ink of
    other digits cleared (its own ink's faint rim, two pixels wide, is kept)."""
    from scipy import ndimage

    top, left, bottom, right = piece.box
    margin = 2
    own = ndimage.binary_dilation(np.pad(piece.mask, margin), iterations=margin)
    crop = np.zeros(own.shape)
    rows = slice(max(0, top - margin), min(ink.shape[0], bottom + margin))
    cols = slice(max(0, left - margin), min(ink.shape[1], right + margin))
    offset_r, offset_c = rows.start - (top - margin), cols.start - (left - margin)
    crop[offset_r:offset_r + rows.stop - rows.start, offset_c:offset_c + cols.stop - cols.start] = ink[rows, cols]
    # Paper all round, as a lone digit has: the glyph crops and fits from there.
    return np.pad(crop * own, 4)


def classify(tables: list[np.ndarray], inputs: list[np.ndarray], probabilities_of, one_digit_of=None) -> None:
    """Fill in the probabilities of (K,) CANDIDATE tables in place from their (K, MODEL_INPUT)
    model inputs, in one call of `probabilities_of` ((M, MODEL_INPUT) -> (M, 10)) for them all.

    With `one_digit_of` ((M, pieces.FEATURES) -> (M,) probability that a candidate is one digit),
    the candidates of a number are also judged by it: a candidate's cost becomes SHAPE_SHARE of
    its shape cost less the log-odds of that probability and DIGIT_BONUS (the candidate that is
    all of a one-line picture is judged at least WHOLE_FLOOR).
    """
    digits = [~table["skip"] for table in tables]
    if not any(real.any() for real in digits):
        return
    probabilities = probabilities_of(np.concatenate([rows[real] for rows, real in zip(inputs, digits)]))
    start = 0
    for table, real in zip(tables, digits):
        table["p"][real] = probabilities[start:start + int(real.sum())]
        start += int(real.sum())
    if one_digit_of is None:
        return
    from batchdigits.recognition.pieces import piece_features

    numbers = [table for table in tables if len(table) > 1 and (~table["skip"]).any()]
    if not numbers:
        return
    features = [piece_features(table)[~table["skip"]] for table in numbers]
    one = one_digit_of(np.concatenate(features))
    start = 0
    for table, rows in zip(numbers, features):
        real = ~table["skip"]
        judged = np.clip(one[start:start + len(rows)], ONE_DIGIT_FLOOR, 1.0 - ONE_DIGIT_FLOOR)
        # The judge learnt from numbers; most pictures are one digit: all of a picture's ink
        # read as one may be supported by it, never doubted.
        judged = np.where(table["whole"][real], np.maximum(judged, WHOLE_FLOOR), judged)
        table["cost"][real] = SHAPE_SHARE * table["cost"][real] - np.log(judged / (1.0 - judged)) - DIGIT_BONUS
        start += len(rows)


def best_reading(table: np.ndarray, expected: int | None = None) -> Reading | None:
    """The digits of a classified (K,) CANDIDATE table: on each line, the path over its atoms
    whose digits' log-probabilities less shape costs sum highest; with `expected`, the best path
    with that many digits in all. None when no path reads a digit."""
    if len(table) == 1 and not table[0]["skip"] and expected in (None, 1):
        digit = _digit(table[0])  # a lone digit, as most pictures are: nothing to choose
        return Reading(digits=(digit,), text=str(digit.digit), confidence=digit.confidence, rows=(0,))
    if len(table) == 0:
        return None
    lines = sorted(set(table["line"].tolist()))
    per_line = [_line_paths(table, np.nonzero(table["line"] == line)[0]) for line in lines]
    # Combine lines: best total score for each total count of digits.
    totals: dict[int, tuple[float, tuple]] = {0: (0.0, ())}
    for paths in per_line:
        combined: dict[int, tuple[float, tuple]] = {}
        for count, (score, chosen) in totals.items():
            for more, (line_score, line_chosen) in paths.items():
                candidate = (score + line_score, chosen + line_chosen)
                if count + more not in combined or candidate[0] > combined[count + more][0]:
                    combined[count + more] = candidate
        totals = combined
    totals = {count: value for count, value in totals.items() if count > 0}
    if not totals:
        return None
    best_count = max(totals, key=lambda count: totals[count][0])
    doubt = None
    count = best_count
    if expected is not None:
        if expected in totals:
            count = expected
            if best_count != expected and totals[best_count][0] - totals[expected][0] > UNCERTAIN_MARGIN:
                doubt = f"expected {_digits(expected)}, but the image looks more like {best_count}"
        else:
            doubt = f"expected {_digits(expected)}, found {best_count}"
    score, chosen = totals[count]
    if doubt is None:
        rivals = [value[0] for other, value in totals.items() if other != count]
        if rivals and score - max(rivals) < UNCERTAIN_MARGIN:
            second = max((other for other in totals if other != count), key=lambda other: totals[other][0])
            doubt = f"uncertain where the digits part: {_digits(second)} read almost as well as {_digits(count)}"
    rows = [table[index] for index in chosen]
    if any(row["skip"] and row["cost"] >= UNREAD_COST for row in rows) and doubt is None:
        doubt = "some ink was not read as a digit"
    if doubt is None:
        odd = [number for number, row in enumerate((row for row in rows if not row["skip"]), 1)
               if row["cost"] >= ODD_SHAPE]
        if odd:
            doubt = f"digit {odd[0]} had to be cut from touching ink, or is oddly shaped"
    digits = tuple(_digit(row) for row in rows if not row["skip"])
    text = _text(digits)
    confidence = float(np.prod([digit.confidence for digit in digits]))
    return Reading(digits=digits, text=text, confidence=round(confidence, 4), doubt=doubt,
                   rows=tuple(index for index in chosen if not table[index]["skip"]))


def _line_paths(table: np.ndarray, indexes: np.ndarray) -> dict[int, tuple[float, tuple]]:
    """For the candidates of one line (`indexes` into `table`): digit count -> (best score, the
    chosen rows' indexes into `table`)."""
    rows = table[indexes]
    global_index = indexes
    atoms = int(rows["end"].max())
    by_start: dict[int, list[int]] = {}
    for position, row in enumerate(rows):
        by_start.setdefault(int(row["first"]), []).append(position)
    best: list[dict[int, tuple[float, tuple]]] = [dict() for _ in range(atoms + 1)]
    best[0][0] = (0.0, ())
    for node in range(atoms):
        if not best[node]:
            continue
        for position in by_start.get(node, []):
            row = rows[position]
            if row["skip"]:
                gain, more = -float(row["cost"]), 0
            else:
                gain, more = math.log(max(float(row["p"].max()), EPSILON)) - float(row["cost"]), 1
            target = best[int(row["end"])]
            for count, (score, chosen) in best[node].items():
                value = (score + gain, chosen + (int(global_index[position]),))
                if count + more not in target or value[0] > target[count + more][0]:
                    target[count + more] = value
    return best[atoms]


def _digit(row: np.void) -> DigitRead:
    """A chosen candidate as a digit read."""
    values = [float(p) for p in row["p"]]
    order = sorted(range(10), key=lambda digit: -values[digit])[:ALTERNATIVES]  # stable
    x, y, w, h = (int(v) for v in row["box"])
    return DigitRead(digit=order[0], confidence=round(values[order[0]], 4),
                     alternatives=tuple((digit, round(values[digit], 4)) for digit in order),
                     box=(x, y, w, h), line=int(row["line"]), glyph=tuple(int(v) for v in row["glyph"]))


def _digits(count: int) -> str:
    """"1 digit", "5 digits"."""
    return f"{count} digit" if count == 1 else f"{count} digits"


def _text(digits: tuple[DigitRead, ...]) -> str:
    """The digits as text, lines apart by a space."""
    parts, line = [], None
    for digit in digits:
        if line is not None and digit.line != line:
            parts.append(" ")
        parts.append(str(digit.digit))
        line = digit.line
    return "".join(parts)
