"""Finding the digits of a number: an ink map -> lines of ink, the atoms of ink in each line, and
the candidate digits (pieces: runs of neighbouring atoms) for the classifier to choose among.

Segmentation here only proposes; it never decides alone where one digit ends. A piece is a run
of consecutive atoms of one line (ordered left to right): a connected stroke, a part of a wide
stroke cut at a thin point of its ink's vertical profile (touching digits), or a small stroke
that may belong to a neighbour (a 5's detached flag, a 4 drawn in two strokes). reading.py reads
every piece and keeps the path through each line whose digits the classifier reads most surely,
with the shape costs given here. Printed lines of forms (comb boxes, underlines) are removed
first, and the cells of a comb are kept as boundaries no digit crosses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from batchdigits.glyph import MAX_INK_FRACTION, MIN_CONTRAST, _run_lengths, _straight_runs, ink_level

DIGIT_SIZED = 0.5  # components at least this part of the tallest one's height are digits or most of one
LINE_OVERLAP = 0.5  # a digit-sized component joins a line when this part of its height overlaps the line's band
SMALL = 0.5  # an atom lower than this part of its line's digit height is a fragment, never a digit alone
SPECK = 0.12  # ink this small (both ways, of the digit height) with little area is dropped outright
WIDE = 0.8  # a component wider than this many digit heights may be touching digits: cut candidates
CUT_SPACING = 0.28  # cut candidates at least this many digit heights apart and from a component's ends
MAX_PIECE_WIDTH = 1.5  # no digit is wider than this many digit heights
JOIN_GAP = 0.12  # atoms further apart than this (of the digit height) are not one digit...
FRAGMENT_GAP = 0.35  # ... unless one is a fragment, which may join across this much
MAX_ATOMS = 5  # a digit is made of at most this many atoms
TICK_SPAN = 0.9  # a comb's tick runs through this part of the height between the comb's lines
MAX_LINES = 64  # more lines of digits than this is a page of text, not a form field
# Shape costs (in units of log-probability): what it costs to believe a piece of this shape is one digit.
LOW_COST = 8.0  # per digit height a piece is lower than SMALL
WIDE_COST = 5.0  # per digit height a piece is wider than NARROW_ENOUGH
NARROW_ENOUGH = 0.95
CUT_COST = 0.35  # per end of a piece made by cutting through ink (touching digits are rarer than not)
CUT_INK_COST = 1.5  # per stroke width of ink the cut goes through, beyond one stroke
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


@dataclass(frozen=True)
class Segmentation:
    """The lattice of a picture: `atoms[l]` atoms in line l (top to bottom), each atom's skip cost
    in `skips[l]` (None: the atom must be read, it is too big to be a speck), and the pieces."""

    atoms: tuple[int, ...]
    skips: tuple[tuple[float | None, ...], ...]
    pieces: tuple[Piece, ...]
    cells: int = 0  # comb cells found (0: no comb)


@dataclass
class _Atom:
    """Ink of one component, or of a part of one between two cuts; bounds as Piece.box."""

    labels: np.ndarray  # (H, W) int label image the atom's ink is taken from
    label: int
    top: int
    left: int
    bottom: int
    right: int
    cut_left: float = 0.0  # cost of the cut at its left end (0: a component's own edge)
    cut_right: float = 0.0

    @property
    def centre(self) -> float:
        """The column midway between its sides."""
        return (self.left + self.right) / 2


def segment(ink: np.ndarray) -> Segmentation | None:
    """(H, W) ink map in [0, 1] (glyph.ink_map) -> its lattice of candidate digits, or None when the
    picture holds no ink apart from print lines (the caller reads it as a lone digit would be)."""
    if ink.size == 0 or min(ink.shape) < 4:
        return None
    peak = float(np.percentile(ink, 99.9))
    if peak < MIN_CONTRAST:
        return None
    mask = ink > ink_level(ink, peak)
    if mask.mean() > MAX_INK_FRACTION:
        return None
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
        atoms = []
        for member in members:
            box = boxes[member]
            size = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
            if size < SPECK * height and areas[member] < 0.05 * typical_area:
                continue  # dust: never a digit, and too small to change one
            atoms.extend(_cut_wide(labels, member + 1, box, height))
        atoms.sort(key=lambda atom: atom.centre)
        atoms = _split_at_ticks(atoms, ticks)
        if not atoms:
            continue
        line = len(atoms_per_line)
        atoms_per_line.append(len(atoms))
        skips_per_line.append(tuple(SKIP_COST if atom.bottom - atom.top < SMALL * height else None
                                    for atom in atoms))
        pieces.extend(_pieces(atoms, line, height, ticks))
    if not pieces:
        return None
    if len(atoms_per_line) == 1:
        pieces = [_as_whole(piece, atoms_per_line[0], ink.shape) for piece in pieces]
    return Segmentation(atoms=tuple(atoms_per_line), skips=tuple(skips_per_line), pieces=tuple(pieces),
                        cells=max(0, len(ticks) - 1))


def _as_whole(piece: Piece, atoms: int, shape: tuple[int, int]) -> Piece:
    """The piece, marked whole when it spans every atom of the picture's only line."""
    if piece.first == 0 and piece.end == atoms:
        return Piece(piece.line, piece.first, piece.end, piece.box, piece.mask, piece.cost, whole=True)
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


def _cut_wide(labels: np.ndarray, label: int, box: tuple[slice, slice], height: float) -> list[_Atom]:
    """A component as one atom, or, when it is wide enough to be touching digits, as atoms
    between candidate cuts at the thinnest columns of its ink (at most one cut per CUT_SPACING)."""
    top, bottom, left, right = box[0].start, box[0].stop, box[1].start, box[1].stop
    whole = _Atom(labels, label, top, left, bottom, right)
    if right - left <= WIDE * height:
        return [whole]
    own = labels[box] == label
    profile = own.sum(axis=0).astype(np.float64)
    smooth = ndimage.uniform_filter1d(profile, 3, mode="nearest")
    stroke = max(1.0, float(np.median(_run_lengths(own, axis=0)[own])))
    spacing = max(2, int(round(CUT_SPACING * height)))
    candidates = [column for column in range(spacing, own.shape[1] - spacing)
                  if smooth[column] <= smooth[column - 1] and smooth[column] <= smooth[column + 1]]
    cuts: list[int] = []
    for column in sorted(candidates, key=lambda c: (smooth[c], c)):
        if all(abs(column - cut) >= spacing for cut in cuts):
            cuts.append(column)
    if not cuts:
        return [whole]
    cuts.sort()
    costs = [CUT_COST + CUT_INK_COST * max(0.0, profile[cut] / stroke - 1.0) for cut in cuts]
    edges = [0, *cuts, own.shape[1]]
    edge_costs = [0.0, *costs, 0.0]
    atoms = []
    for number in range(len(edges) - 1):
        part = own[:, edges[number]:edges[number + 1]]
        rows = np.nonzero(part.any(axis=1))[0]
        if len(rows) == 0:
            continue
        atoms.append(_Atom(labels, label, top + int(rows[0]), left + edges[number], top + int(rows[-1]) + 1,
                           left + edges[number + 1], edge_costs[number], edge_costs[number + 1]))
    return atoms


def _split_at_ticks(atoms: list[_Atom], ticks: list[int]) -> list[_Atom]:
    """Atoms, with any that lies across a comb's tick cut there (a digit never crosses its cell)."""
    if not ticks:
        return atoms
    result = []
    for atom in atoms:
        inside = [tick for tick in ticks if atom.left < tick < atom.right - 1]
        if not inside:
            result.append(atom)
            continue
        edges = [atom.left, *inside, atom.right]
        for start, stop in zip(edges, edges[1:]):
            own = atom.labels[atom.top:atom.bottom, start:stop] == atom.label
            rows = np.nonzero(own.any(axis=1))[0]
            if len(rows):
                result.append(_Atom(atom.labels, atom.label, atom.top + int(rows[0]), start,
                                    atom.top + int(rows[-1]) + 1, stop))
    result.sort(key=lambda atom: atom.centre)
    return result


def _pieces(atoms: list[_Atom], line: int, height: float, ticks: list[int]) -> list[Piece]:
    """Every run of consecutive atoms that could be one digit, with its shape cost."""
    cells = [int(np.searchsorted(ticks, atom.centre)) for atom in atoms]
    pieces = []
    for first in range(len(atoms)):
        top, left, bottom, right = atoms[first].top, atoms[first].left, atoms[first].bottom, atoms[first].right
        for end in range(first + 1, min(len(atoms), first + MAX_ATOMS) + 1):
            if end > first + 1:
                atom = atoms[end - 1]
                if cells[end - 1] != cells[first]:
                    break  # the next atom is in the next cell of the comb
                small = min(atom.bottom - atom.top, bottom - top) < SMALL * height
                if atom.left - right > (FRAGMENT_GAP if small else JOIN_GAP) * height:
                    break
                top, left = min(top, atom.top), min(left, atom.left)
                bottom, right = max(bottom, atom.bottom), max(right, atom.right)
                if right - left > MAX_PIECE_WIDTH * height:
                    break
            mask = np.zeros((bottom - top, right - left), dtype=bool)
            for atom in atoms[first:end]:
                own = atom.labels[atom.top:atom.bottom, atom.left:atom.right] == atom.label
                mask[atom.top - top:atom.bottom - top, atom.left - left:atom.right - left] |= own
            cost = (LOW_COST * max(0.0, SMALL - (bottom - top) / height)
                    + WIDE_COST * max(0.0, (right - left) / height - NARROW_ENOUGH)
                    + atoms[first].cut_left + atoms[end - 1].cut_right)
            pieces.append(Piece(line, first, end, (top, left, bottom, right), mask, cost))
    return pieces
