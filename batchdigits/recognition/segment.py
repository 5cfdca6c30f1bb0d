"""Finding the digits of a number: an ink map -> lines of ink, the atoms of ink in each line, and
the candidate digits (pieces: runs of neighbouring atoms) for the classifier to choose among.

Segmentation here only proposes; it never decides alone where one digit ends. A piece is a run
of consecutive atoms of one line (ordered left to right): a connected stroke, a part of a wide
component cut along a least-ink path from top to bottom (touching digits), or a small stroke
that may belong to a neighbour (a 5's detached flag, a 4 drawn in two strokes). reading.py reads
every piece and keeps the path through each line whose digits the classifier reads most surely,
with the shape costs given here. Printed lines of forms (comb boxes, underlines) are removed
first, and the cells of a comb are kept as boundaries no digit crosses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from batchdigits.recognition.glyph import MAX_INK_FRACTION, MIN_CONTRAST, _run_lengths, _straight_runs, ink_levels

DIGIT_SIZED = 0.5  # components at least this part of the tallest one's height are digits or most of one
LINE_OVERLAP = 0.5  # a digit-sized component joins a line when this part of its height overlaps the line's band
SMALL = 0.5  # an atom lower than this part of its line's digit height is a fragment, never a digit alone
SPECK = 0.12  # ink this small (both ways, of the digit height) with little area is dropped outright
# A line's typical digit width: the median of its digit-sized components at least NARROW wide
# (not 1s), when there are TYPICAL_FROM of them; otherwise this many digit heights.
NARROW = 0.3
TYPICAL_FROM = 2
TYPICAL_WIDTH = 1.0
TYPICAL_MOST = 0.75  # and never more than this many
CUT_FROM = 0.8  # a component this many typical widths wide may be touching digits: cut candidates
CUT_SPACING = 0.28  # cut candidates at least this many digit heights apart ...
CUT_MARGIN = 0.1  # ... and this far from a component's ends (a 1 touching a digit is narrow)
# Cuts start at the thinnest columns and at valleys of the outline: where it dips this deep (of
# the digit height) below its highest point within VALLEY_WINDOW digit heights on both sides.
VALLEY_DEPTH = 0.1
VALLEY_WINDOW = 0.5
MAX_PIECE_WIDTH = 1.5  # no digit is wider than this many digit heights
MAX_GAP = 0.4  # atoms further apart than this (of the digit height) are never one digit
GAP_FREE = 0.1  # joining atoms across a gap costs nothing up to this (of the digit height) ...
GAP_COST = 6.0  # ... and this per digit height beyond, unless one is a fragment (a 5's flag)
MAX_ATOMS = 5  # a digit is made of at most this many atoms
LINE_LENGTH = 1.5  # a printed line is at least this many times longer than the picture is high
TICK_SPAN = 0.9  # a comb's tick runs through this part of the height between the comb's lines
LONE_ASPECT = 0.8  # ink narrower than this part of its height, in one band of rows, is one digit
MAX_LINES = 64  # more lines of digits than this is a page of text, not a form field
# Shape costs (in units of log-probability): what it costs to believe a piece of this shape is one digit.
LOW_COST = 8.0  # per digit height a piece is lower than SMALL
WIDE_COST = 5.0  # per typical width a piece is wider than WIDE_ENOUGH of them
WIDE_ENOUGH = 1.25
CUT_COST = 0.0  # per end of a piece made by a cut, whatever it crosses (0 measured best: docs/numbers.md)
CUT_NARROW_COST = 3.0  # more per typical width the cut component is narrower than CUT_EASY of them
CUT_EASY = 1.3
CUT_INK_COST = 1.0  # per stroke width of ink the cut goes through beyond CUT_FREE_STROKES ...
CUT_FREE_STROKES = 0.0  # ... (cheaper cuts split single digits more than they mend touching pairs)
# Ink this part of the darkest is a stroke, whatever the picture's threshold: one threshold for a
# whole number would lose a light digit (a worn pen, a faint scan) beside dark ones. Each
# candidate digit is thresholded again on its own when its glyph is made.
STRONG = 0.4
LIGHT = 0.4  # a digit lighter than the rest is looked for down to this part of the number's threshold ...
LIGHT_PEAK = 0.6  # ... when its darkest ink is below this part of the number's darkest
SKIP_COST = 1.0  # leaving a fragment out as a speck


@dataclass(frozen=True)
class Piece:
    """A candidate digit: atoms [first, end) of line `line`. `box` is (top, left, bottom, right),
    bottom and right exclusive, in the ink map's pixels; `mask` is the (bottom - top,
    right - left) bool ink of its atoms there; `cost` >= 0 the shape cost of reading it as one
    digit; `whole` says it is all the ink of a one-line picture (read as a lone digit is read)."""

    line: int
    first: int
    end: int
    box: tuple[int, int, int, int]
    mask: np.ndarray
    cost: float
    whole: bool = False
    shape: tuple = (1.0, 1.0, (), 0.0)  # what the cost was made of (shape_cost's arguments)


@dataclass(frozen=True)
class Segmentation:
    """The lattice of a picture: `atoms[l]` atoms in line l (top to bottom), each atom's skip cost
    in `skips[l]` (None: the atom must be read, it is too big to be a speck), and the pieces."""

    atoms: tuple[int, ...]
    skips: tuple[tuple[float | None, ...], ...]
    pieces: tuple[Piece, ...]


@dataclass
class _Atom:
    """Ink of one component, or of a part of one between two cuts: `mask` is its ink within its
    box (top, left, bottom, right as Piece.box); a cut end holds what cutting there crossed."""

    mask: np.ndarray
    top: int
    left: int
    bottom: int
    right: int
    cut_left: tuple[float, float] | None = None  # (component width in typical widths, strokes crossed)
    cut_right: tuple[float, float] | None = None  # of the cut at that end; None: a component's own edge

    @property
    def centre(self) -> float:
        """The column midway between its sides."""
        return (self.left + self.right) / 2


def _atom(ink: np.ndarray, top: int, left: int, cut_left: tuple[float, float] | None = None,
          cut_right: tuple[float, float] | None = None) -> _Atom | None:
    """An atom from a (h, w) bool mask placed at (top, left), cropped to its ink (None if empty)."""
    rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    if len(rows) == 0:
        return None
    mask = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return _Atom(mask, top + int(rows[0]), left + int(cols[0]), top + int(rows[-1]) + 1, left + int(cols[-1]) + 1,
                 cut_left, cut_right)


def segment(ink: np.ndarray, levels: tuple[float, float] | None = None) -> Segmentation | None:
    """(H, W) ink map in [0, 1] (glyph.ink_map) -> its lattice of candidate digits, or None when
    there is nothing to choose (the caller reads the picture as a lone digit): no ink apart from
    print lines, mostly ink, or ink that can only be one digit (_lone).
    `levels` is the map's (peak, ink level) (glyph.ink_levels) when the caller has them."""
    if ink.size == 0 or min(ink.shape) < 4:
        return None
    peak, level = ink_levels(ink) if levels is None else levels
    if peak < MIN_CONTRAST:
        return None
    mask = ink > min(level, STRONG * peak)
    if mask.mean() > MAX_INK_FRACTION or _lone(mask):
        return None
    mask = _with_light_digits(ink, mask, min(level, STRONG * peak), peak)
    lines_removed, ticks = print_lines(mask)
    mask &= ~lines_removed
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return None
    boxes = ndimage.find_objects(labels)
    areas = np.bincount(labels.ravel())[1:]
    keep = [index for index, box in enumerate(boxes) if not _edge_shadow(box, mask.shape)]
    if not keep:
        return None
    heights = np.zeros(count, dtype=int)
    heights[keep] = [boxes[index][0].stop - boxes[index][0].start for index in keep]
    lines = _group_lines(boxes, heights, keep)
    if len(lines) > MAX_LINES:
        lines = [sorted(keep, key=lambda index: boxes[index][1].start)]
    atoms_per_line, skips_per_line, pieces = [], [], []
    for line_index, members in enumerate(lines):
        height = _digit_height(heights[members])
        typical_area = float(np.median([areas[m] for m in members if heights[m] >= SMALL * height] or [1]))
        widths = [boxes[m][1].stop - boxes[m][1].start for m in members
                  if heights[m] >= SMALL * height and boxes[m][1].stop - boxes[m][1].start >= NARROW * height]
        typical = (float(np.clip(np.median(widths), 0.4 * height, TYPICAL_MOST * height))
                   if len(widths) >= TYPICAL_FROM else TYPICAL_WIDTH * height)
        atoms = []
        for member in members:
            box = boxes[member]
            size = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
            if size < SPECK * height and areas[member] < 0.05 * typical_area:
                continue  # dust: never a digit, and too small to change one
            atoms.extend(_cut_wide(labels, member + 1, box, height, typical))
        atoms.sort(key=lambda atom: atom.centre)
        atoms = _split_at_ticks(atoms, ticks)
        if not atoms:
            continue
        line = len(atoms_per_line)
        atoms_per_line.append(len(atoms))
        skips_per_line.append(tuple(SKIP_COST if atom.bottom - atom.top < SMALL * height else None
                                    for atom in atoms))
        pieces.extend(_pieces(atoms, line, height, typical, ticks))
    if not pieces:
        return None
    if len(atoms_per_line) == 1:
        pieces = [_as_whole(piece, atoms_per_line[0], ink.shape) for piece in pieces]
    return Segmentation(atoms=tuple(atoms_per_line), skips=tuple(skips_per_line), pieces=tuple(pieces))


def _with_light_digits(ink: np.ndarray, mask: np.ndarray, threshold: float, peak: float) -> np.ndarray:
    """The (H, W) bool ink `mask` (the (H, W) ink map above `threshold`; `peak` its darkest) with
    light digits redrawn: a component of the ink above LIGHT of the threshold whose own darkest
    is below LIGHT_PEAK of the peak, and as tall as DIGIT_SIZED of the tallest, is ink where it
    passes STRONG of its own darkest. A digit written lighter than its neighbours (a worn pen,
    less pressure) would otherwise keep only its darkest core, and be left out as a speck."""
    weak = ink > max(MIN_CONTRAST, LIGHT * threshold)
    labels, count = ndimage.label(weak, structure=np.ones((3, 3), dtype=bool))
    if count <= 1:
        return mask
    index = np.arange(1, count + 1)
    own_peak = np.asarray(ndimage.maximum(ink, labels, index))
    light = own_peak < LIGHT_PEAK * peak
    if not light.any():
        return mask
    heights = np.array([box[0].stop - box[0].start for box in ndimage.find_objects(labels)])
    light &= heights >= DIGIT_SIZED * heights.max()
    if not light.any():
        return mask
    inside = labels > 0
    owner = labels[inside] - 1
    redrawn = mask.copy()
    chosen = light[owner]
    redrawn[inside] = np.where(chosen, ink[inside] > STRONG * own_peak[owner], mask[inside])
    return redrawn


def _as_whole(piece: Piece, atoms: int, shape: tuple[int, int]) -> Piece:
    """The piece, marked whole when it spans every atom of the picture's only line."""
    if piece.first == 0 and piece.end == atoms:
        return Piece(piece.line, piece.first, piece.end, piece.box, piece.mask, piece.cost, True, piece.shape)
    return piece


def print_lines(mask: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """(H, W) bool ink -> ((H, W) bool pixels of printed lines to remove, the columns of a comb's
    ticks, left to right; empty without a comb).

    A printed line runs straight through most of the picture's width (glyph._straight_runs):
    an underline, a box's or comb's top and bottom. No handwritten digit of a number is that
    wide. Only the line's own thin ink goes, so a stroke crossing it stays whole. Between two
    such lines, straight vertical runs through nearly all the height between them are a comb's
    ticks (a digit's 1 seldom touches both lines of its cell).
    """
    removed = np.zeros_like(mask)
    runs = _straight_runs(mask)
    if not runs.any():
        return removed, []
    # Longer than the picture is high, LINE_LENGTH times: a lone digit's bar (a 7's, a 5's top,
    # a wide 0 touching its cell) never is; a line along three digits or more always is.
    parts, _ = ndimage.label(runs, structure=np.ones((3, 3), dtype=bool))
    for number, box in enumerate(ndimage.find_objects(parts), start=1):
        if box[1].stop - box[1].start < LINE_LENGTH * mask.shape[0]:
            runs[box] &= parts[box] != number
    if not runs.any():
        return removed, []
    across = _run_lengths(mask, axis=0)
    thickness = float(np.median(across[runs]))
    removed |= runs & (across <= thickness + 2)
    rows = np.nonzero(runs.any(axis=1))[0]
    groups = np.split(rows, np.nonzero(np.diff(rows) > 1)[0] + 1)
    centres = [int(np.median(group)) for group in groups if len(group)]
    ticks: list[int] = []
    for upper, lower in zip(centres, centres[1:]):
        span = lower - upper + 1
        if span < 8:
            continue
        band = mask[upper:lower + 1]
        thin = _straight_runs(band.T).T & (_run_lengths(band, axis=1) <= thickness + 2)
        parts, count = ndimage.label(thin, structure=np.ones((3, 3), dtype=bool))
        for number, box in enumerate(ndimage.find_objects(parts), start=1):
            if box[0].stop - box[0].start >= TICK_SPAN * span:
                ticks.append(int(round(np.nonzero(parts[box] == number)[1].mean())) + box[1].start)
                removed[upper:lower + 1][box] |= parts[box] == number
        break  # one comb per picture: the band between its first two lines
    return removed, sorted(ticks) if len(ticks) >= 2 else []


def _lone(mask: np.ndarray) -> bool:
    """True when the ink can only be one digit: its box narrower than LONE_ASPECT of its height
    and no row without ink across it (two lines of digits have one between them). Most pictures
    are one digit; this spares them the labelling."""
    rows, cols = mask.any(axis=1), mask.any(axis=0)
    if not rows.any():
        return True
    top, bottom = np.argmax(rows), len(rows) - np.argmax(rows[::-1])
    left, right = np.argmax(cols), len(cols) - np.argmax(cols[::-1])
    return right - left < LONE_ASPECT * (bottom - top) and bool(rows[top:bottom].all())


def _edge_shadow(box: tuple[slice, slice], shape: tuple[int, int]) -> bool:
    """True for ink along a side of the picture through nearly all of it (a scanner's or a
    page's edge, a cut-off box), which no digit of a number is."""
    height, width = shape
    box_height, box_width = box[0].stop - box[0].start, box[1].stop - box[1].start
    at_side = box[1].start == 0 or box[1].stop == width
    at_end = box[0].start == 0 or box[0].stop == height
    return (at_side and box_height >= 0.9 * height and box_width < 0.5 * width) or (
        at_end and box_width >= 0.9 * width and box_height < 0.5 * height)


def _group_lines(boxes: list[tuple[slice, slice]], heights: np.ndarray, keep: list[int]) -> list[list[int]]:
    """Indexes `keep` of components grouped into lines of digits, top to bottom.

    Digit-sized components found the lines (a line's band is its members' median top and
    bottom); smaller ones join the line whose band they overlap most, or lie nearest to.
    """
    tallest = heights.max()
    order = sorted(keep, key=lambda index: boxes[index][0].start)
    lines: list[list[int]] = []
    bands: list[tuple[float, float]] = []
    for index in order:
        if heights[index] < DIGIT_SIZED * tallest:
            continue
        top, bottom = boxes[index][0].start, boxes[index][0].stop
        best, overlap = None, LINE_OVERLAP * (bottom - top)
        for number, (band_top, band_bottom) in enumerate(bands):
            shared = min(bottom, band_bottom) - max(top, band_top)
            if shared >= overlap:
                best, overlap = number, shared
        if best is None:
            lines.append([index])
            bands.append((top, bottom))
        else:
            lines[best].append(index)
            members = lines[best]
            bands[best] = (float(np.median([boxes[m][0].start for m in members])),
                           float(np.median([boxes[m][0].stop for m in members])))
    for index in order:
        if heights[index] >= DIGIT_SIZED * tallest:
            continue
        top, bottom = boxes[index][0].start, boxes[index][0].stop
        middle = (top + bottom) / 2
        nearest = min(range(len(bands)), key=lambda n: (-(min(bottom, bands[n][1]) - max(top, bands[n][0])),
                                                         abs(middle - (bands[n][0] + bands[n][1]) / 2)))
        lines[nearest].append(index)
    ranked = sorted(range(len(lines)), key=lambda n: sum(bands[n]))
    return [lines[n] for n in ranked]


def _digit_height(heights: np.ndarray) -> float:
    """The height of a line's digits: the median of its digit-sized components' heights."""
    tall = heights[heights >= DIGIT_SIZED * heights.max()]
    return float(max(1.0, np.median(tall)))


def _cut_wide(labels: np.ndarray, label: int, box: tuple[slice, slice], height: float,
              typical: float) -> list[_Atom]:
    """A component as one atom, or, when it is wide enough to be touching digits (CUT_FROM
    typical widths), as atoms between candidate cuts: paths from top to bottom through as
    little ink as possible (cut_path), started at valleys of its outline and at the thinnest
    columns of its ink, at most one per CUT_SPACING. A cut costs the more, the narrower the
    component and the more strokes it goes through."""
    top, left = box[0].start, box[1].start
    own = labels[box] == label
    ratio = own.shape[1] / typical
    whole = _Atom(own, top, left, box[0].stop, box[1].stop)
    if ratio < CUT_FROM:
        return [whole]
    profile = own.sum(axis=0).astype(np.float64)
    smooth = ndimage.uniform_filter1d(profile, 3, mode="nearest")
    spacing = max(2, int(round(CUT_SPACING * height)))
    margin = max(2, int(round(CUT_MARGIN * height)))
    candidates = [column for column in range(margin, own.shape[1] - margin)
                  if smooth[column] <= smooth[column - 1] and smooth[column] <= smooth[column + 1]]
    starts: list[int] = []
    # Where two rounded digits meet, the outline dips though the column's ink may not thin.
    for column in _contour_valleys(own, height, margin) + sorted(candidates, key=lambda c: (smooth[c], c)):
        if all(abs(column - start) >= spacing for start in starts):
            starts.append(column)
    if not starts:
        return [whole]
    # A stroke's width: across it, the shorter of its runs of ink down and along.
    stroke = max(1.0, float(np.median(np.minimum(_run_lengths(own, axis=0), _run_lengths(own, axis=1))[own])))
    columns = np.arange(own.shape[1])
    paths, cuts = [], []
    for start in sorted(starts):
        path = cut_path(own, start, max(1, min(spacing // 2, start - 1, own.shape[1] - 2 - start)))
        paths.append(path)
        cuts.append((round(ratio, 3), round(crossed_ink(own, path) / stroke, 3)))
    atoms = []
    previous = np.zeros(own.shape[0], dtype=int)
    edge_costs = [None, *cuts, None]
    for number, path in enumerate([*paths, np.full(own.shape[0], own.shape[1])]):
        between = own & (columns[None, :] >= previous[:, None]) & (columns[None, :] < path[:, None])
        atom = _atom(between, top, left, edge_costs[number], edge_costs[number + 1])
        if atom is not None:
            atoms.append(atom)
        previous = path
    return atoms


def _contour_valleys(own: np.ndarray, height: float, margin: int) -> list[int]:
    """Columns where the (h, w) bool ink's upper outline dips down, or its lower outline rises,
    between two higher parts (where two touching digits' rounded sides meet), deepest first."""
    inked = own.any(axis=0)
    rows = np.arange(own.shape[0])
    top = np.where(inked, np.where(own, rows[:, None], own.shape[0]).min(axis=0), own.shape[0]).astype(float)
    bottom = np.where(inked, np.where(own, rows[:, None], -1).max(axis=0), -1).astype(float)
    window = max(2, int(round(VALLEY_WINDOW * height)))
    columns = np.arange(margin, own.shape[1] - margin)
    found = []
    for outline in (top, -bottom):  # a valley is a local maximum of the depth in from outside
        padded = np.pad(outline, window, constant_values=np.inf)
        reach = np.lib.stride_tricks.sliding_window_view(padded, window)
        left, right = reach[columns].min(axis=1), reach[columns + window + 1].min(axis=1)
        depth = outline[columns] - np.maximum(left, right)
        peak = (outline[columns] >= outline[columns - 1]) & (outline[columns] >= outline[columns + 1])
        chosen = peak & (depth >= VALLEY_DEPTH * height)
        found.extend(zip(-depth[chosen], columns[chosen].tolist()))
    return [int(column) for _, column in sorted(found)]


def cut_path(ink: np.ndarray, column: int, reach: int) -> np.ndarray:
    """(h, w) bool ink and a start column -> (h,) int: for each row, the first column right of a
    cut from top to bottom that stays within `reach` of `column`, moves at most one column a
    row, and goes through as few ink pixels as it can (straight down where it costs the same).

    A sideways step also passes the pixel beside it, so the cut cannot slip between the pixels
    of a thin diagonal stroke without crossing it.
    """
    height, width = ink.shape
    low, high = max(1, column - reach), min(width - 1, column + reach)
    span = np.arange(low, high + 1)
    here = ink[:, low:high + 1] * 10.0
    cost = here + 0.01 * np.abs(span - column)[None, :]
    total = cost[0].copy()
    moves = np.zeros((height, len(span)), dtype=np.int8)
    for row in range(1, height):
        # From the left neighbour: the step passes this row's pixel on the left, and so on.
        from_left = np.r_[np.inf, total[:-1] + here[row, :-1]]
        from_right = np.r_[total[1:] + here[row, 1:], np.inf]
        options = np.vstack([from_left, total, from_right])
        choice = options.argmin(axis=0)
        total = options[choice, np.arange(len(span))] + cost[row]
        moves[row] = choice - 1
    path = np.empty(height, dtype=int)
    path[-1] = int(total.argmin())
    for row in range(height - 1, 0, -1):
        path[row - 1] = path[row] + moves[row, path[row]]
    return path + low


def crossed_ink(ink: np.ndarray, path: np.ndarray) -> int:
    """(h, w) bool ink and a cut_path -> how many ink pixels the cut goes through (a sideways
    step counting the pixels it passes)."""
    columns = np.clip(path, 0, ink.shape[1] - 1)
    crossed = int(ink[np.arange(ink.shape[0]), columns].sum())
    steps = np.nonzero(columns[1:] != columns[:-1])[0] + 1
    return crossed + int(ink[steps, np.minimum(columns[steps], columns[steps - 1])].sum())


def _split_at_ticks(atoms: list[_Atom], ticks: list[int]) -> list[_Atom]:
    """Atoms, with any that lies across a comb's tick cut there (a digit never crosses its cell)."""
    if not ticks:
        return atoms
    result = []
    for atom in atoms:
        inside = [tick - atom.left for tick in ticks if atom.left < tick < atom.right - 1]
        if not inside:
            result.append(atom)
            continue
        for start, stop in zip([0, *inside], [*inside, atom.right - atom.left]):
            part = np.zeros_like(atom.mask)
            part[:, start:stop] = atom.mask[:, start:stop]
            piece = _atom(part, atom.top, atom.left)
            if piece is not None:
                result.append(piece)
    result.sort(key=lambda atom: atom.centre)
    return result


def _pieces(atoms: list[_Atom], line: int, height: float, typical: float, ticks: list[int]) -> list[Piece]:
    """Every run of consecutive atoms that could be one digit, with its shape cost."""
    cells = [int(np.searchsorted(ticks, atom.centre)) for atom in atoms]
    pieces = []
    for first in range(len(atoms)):
        top, left, bottom, right = atoms[first].top, atoms[first].left, atoms[first].bottom, atoms[first].right
        widest_gap = 0.0  # between two atoms as tall as digits
        for end in range(first + 1, min(len(atoms), first + MAX_ATOMS) + 1):
            if end > first + 1:
                atom = atoms[end - 1]
                if cells[end - 1] != cells[first]:
                    break  # the next atom is in the next cell of the comb
                gap = (atom.left - right) / height
                if gap > MAX_GAP:
                    break
                if min(atom.bottom - atom.top, bottom - top) >= SMALL * height:
                    widest_gap = max(widest_gap, gap)
                top, left = min(top, atom.top), min(left, atom.left)
                bottom, right = max(bottom, atom.bottom), max(right, atom.right)
                if right - left > MAX_PIECE_WIDTH * height:
                    break
            mask = np.zeros((bottom - top, right - left), dtype=bool)
            for atom in atoms[first:end]:
                mask[atom.top - top:atom.bottom - top, atom.left - left:atom.right - left] |= atom.mask
            cuts = tuple(cut for cut in (atoms[first].cut_left, atoms[end - 1].cut_right) if cut is not None)
            shape = ((bottom - top) / height, (right - left) / typical, cuts, widest_gap)
            pieces.append(Piece(line, first, end, (top, left, bottom, right), mask, shape_cost(*shape), shape=shape))
    return pieces


def shape_cost(height_share: float, width_share: float, cuts: tuple[tuple[float, float], ...],
               gap_share: float = 0.0) -> float:
    """The cost (>= 0, in units of log-probability) of believing that a piece is one digit, from
    its height (of its line's digits'), its width (in typical widths), the cuts that make its
    ends ((width of the component cut, in typical widths; strokes the cut goes through)), and
    the widest gap between two of its digit-tall atoms (of the digit height)."""
    cost = (LOW_COST * max(0.0, SMALL - height_share) + WIDE_COST * max(0.0, width_share - WIDE_ENOUGH)
            + GAP_COST * max(0.0, gap_share - GAP_FREE))
    for ratio, strokes in cuts:
        cost += (CUT_COST + CUT_NARROW_COST * max(0.0, CUT_EASY - ratio)
                 + CUT_INK_COST * max(0.0, strokes - CUT_FREE_STROKES))
    return cost
