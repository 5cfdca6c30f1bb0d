"""The canonical glyph: any picture of a digit to load_digits' 8x8 format (64 values, 0..16, ink high).

One function serves both training and scanning, because the model is only as good as the
agreement between what it was trained on and what it is shown. The steps, in order:
ink map (polarity and paper colour from a band along the border, uneven light removed),
ink/paper threshold (grainy ink smoothed first), straight lines across the page removed where
they are print, specks and frames dropped, crop, skeleton (stroke width forgotten, except where ink is
filled in far wider than the stroke), slant removed, redrawn with one fixed pen into a 32x32
bitmap fitted with its aspect kept, counted in 4x4 blocks. The classifier reads two drawings
of the digit, the pen drawing and the cleaned ink itself (its slant removed, a thin pen
thickened, fitted the same way: ink_bitmap, since the pen drawing loses what the strokes' shapes
tell apart), as the directions their outlines face zone by zone (stroke_directions): where a
stroke runs and which way it bends, which the 8x8 counts blur into a shade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.morphology import reconstruction, skeletonize
from skimage.transform import resize

BITMAP_SIDE = 32  # load_digits' bitmaps were 32x32 before the 4x4 block counts
BLOCK = 4
SUPERSAMPLE = 4  # the pen is drawn on a 4x finer canvas, then sampled to 32x32
PEN_RADIUS = 2.0  # in 32x32 pixels: a thick, even pen like the forms behind load_digits
SKELETON_SIDE = 96  # the cropped digit is skeletonised at about this long side

MAX_SLANT = 1.0  # horizontal shift per row removed at most (45 degrees)
BORDER_BAND = 0.04  # the paper's colour is read from this part of the short side along the edges
MIN_CONTRAST = 0.12  # ink must differ from the paper by this much (0..1) to count
MAX_INK_FRACTION = 0.6  # more "ink" than this is a dark page, not a digit on paper
MIN_SMOOTHNESS = 0.1  # strokes are smooth; noise has almost no correlation between neighbours
MIN_DIGIT_FRACTION = 0.04  # a digit smaller than this part of the image's short side is a speck
LOOP_DEPTH = 0.1  # ink this much lighter (of the peak) than the ring around it is a loop, not stroke
MAX_ASPECT = 0.8  # wider digits are narrowed to this width/height (scans that fill their box)
MAX_STRETCH = 3.0  # but a height is never stretched more than this many times (a dash stays flat)
FILLED_WIDTH = 1.8  # ink wider than this many times the digit's median stroke is a filled-in part
LINE_SPAN = 0.75  # a ruled line or a box's side runs through at least this part of the picture
LINE_MAX_SLOPE = 0.1  # lines up to about 6 degrees off the page's axes (a tilted photo)
LINE_OVERHANG = 0.04  # a line runs on past the digit's ink at both ends by this part of the picture
LINE_THIN = 0.75  # print, not pen: thinner than this many of the digit's median strokes...
LINE_LIGHT = 0.75  # ... or lighter than this part of the digit's median ink
SMOOTH_FROM_WIDTH = 5.0  # grainy strokes this many pixels wide or more are smoothed before thresholding
SMOOTH_PART = 0.125  # with a Gaussian of this part of their width
RAGGED = 0.25  # ... when a majority vote would flip this part of their edge pixels
FRAME_EXTENT = 0.6  # a frame's box spans at least this part of the picture both ways
# The ink's own capture: load_digits' writers used pens about this part of the digit's height
# wide (median stroke / height of its redraws: 0.13 to 0.20, median 0.16); thinner pens are
# thickened to it (a mouse drawing's 0.04), thicker ones kept.
CAPTURE_PEN = 0.15
# Stroke directions (stroke_directions): outlines measured after a slight blur, sorted into 8
# directions 45 degrees apart (a stroke's two sides face opposite ways, so a loop's inside and
# outside differ), and summed around the centres of 4x4 zones with Gaussian weights that overlap,
# so a stroke a pixel or two off counts nearly the same.
DIRECTIONS = 8
ZONES = 4
EDGE_BLUR = 1.0  # pixels of the 32x32 drawing
ZONE_SPREAD = 0.5  # the zones' Gaussian weights: this many zone spacings between centre and 1 sigma
# Directions are kept in steps of 1/16: against full precision, 3 of 8,214 development digits got
# another answer from the bare SVC (every set's accuracy the same to 0.1 point), and the support
# vectors stored in the model file compress five times smaller.
DIRECTION_STEP = 1 / 16
MODEL_INPUT = 2 * DIRECTIONS * ZONES * ZONES  # what the classifier reads: both drawings' stroke directions


@dataclass(frozen=True)
class Glyph:
    """The outcome for one picture: `features` (64,) float64 in [0, 16] or None with a reason.

    `bitmap` is the (32, 32) bool pen drawing the features were counted from (None with no digit).
    `model_input` (MODEL_INPUT,) float64 >= 0 is what the classifier reads: the stroke directions
    of the pen drawing, then of the digit's own ink (ink_bitmap), None with no digit.
    """

    features: np.ndarray | None
    bitmap: np.ndarray | None
    reason: str | None = None
    model_input: np.ndarray | None = None


def ink_map(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (H, W) float in [0, 1] -> (H, W) float64 in [0, 1]: how far each pixel is from paper.

    The paper colour is the median of a band along the border, so dark ink on white, white ink
    on black and blue ink on yellow paper all come out ink high. Slow changes of light (a shadow across a
    photo) are removed by subtracting a grey opening much wider than any stroke, where it reaches
    the picture's edge.
    """
    image = np.asarray(rgb, dtype=np.float64)
    if image.ndim == 2:
        image = image[:, :, None]
    # A band, not the outermost pixels: a ruled line or a box's side may run along the edge.
    band = max(1, round(BORDER_BAND * min(image.shape[:2])))
    border = np.concatenate(
        [
            image[:band].reshape(-1, image.shape[2]),
            image[-band:].reshape(-1, image.shape[2]),
            image[band:-band, :band].reshape(-1, image.shape[2]),
            image[band:-band, -band:].reshape(-1, image.shape[2]),
        ],
        axis=0,
    )
    paper = np.median(border, axis=0)
    # The root mean square over channels, a channel at a time: a mean over a (H, W, 3) array's
    # short last axis is several times slower, for the same sums in the same order.
    distance = np.square(image[:, :, 0] - paper[0])
    for channel in range(1, image.shape[2]):
        distance += np.square(image[:, :, channel] - paper[channel])
    distance /= image.shape[2]
    np.sqrt(distance, out=distance)
    short_side = min(distance.shape)
    if short_side >= 24:
        distance = distance - paper_light(distance)
    return np.clip(distance, 0.0, 1.0)


def paper_light(distance: np.ndarray) -> np.ndarray:
    """(H, W) -> (H, W): the slowly varying part of an ink map (shadows, uneven light), to subtract.

    A grey opening a third of the short side wide, kept only where it reaches the picture's edge.
    Light varies slowly, so on large pictures the opening runs on a grid of block minima (each
    block at most 1/64 of the short side) and is spread back: the same answer for a fraction of
    the work.
    """
    short_side = min(distance.shape)
    window = max(3, short_side // 3)
    factor = short_side // 64 if short_side >= 192 else 1
    if factor <= 1:
        return _reaching_the_edge(ndimage.grey_opening(distance, size=(window, window)))
    height, width = distance.shape
    coarse = ndimage.grey_opening(_block_minima(distance, factor), size=(max(3, window // factor),) * 2)
    coarse = _reaching_the_edge(coarse)
    return coarse[np.arange(height) // factor][:, np.arange(width) // factor]


def _block_minima(values: np.ndarray, factor: int) -> np.ndarray:
    """(H, W) -> (ceil(H / factor), ceil(W / factor)): the minimum of each factor x factor block
    (the last row and column of blocks may be partial)."""
    for axis in (0, 1):
        values = np.moveaxis(values, axis, 0)
        minima = values[::factor].copy()
        for offset in range(1, factor):
            part = values[offset::factor]  # one row of each block; the partial last block may lack it
            np.minimum(minima[: len(part)], part, out=minima[: len(part)])
        values = np.moveaxis(minima, 0, axis)
    return values


def _reaching_the_edge(light: np.ndarray) -> np.ndarray:
    """(H, W) light estimate -> (H, W): lowered to what the picture's edge connects it to.

    Shadows and falling light come in from outside the picture, so they reach its edge. A
    plateau inside that does not (a bold digit's filled-in loop, wider than the opening) is ink,
    not light; subtracting it would hollow the loop out. Grey reconstruction by dilation from the
    edge keeps every level the edge reaches and cuts such plateaus down to their rim.
    """
    if _peaks_touch_the_edge(light):
        return light  # the reconstruction would give it back unchanged (clean paper: 0 everywhere)
    seed = np.zeros_like(light)
    seed[0, :], seed[-1, :], seed[:, 0], seed[:, -1] = light[0, :], light[-1, :], light[:, 0], light[:, -1]
    return reconstruction(seed, light, method="dilation")


def _peaks_touch_the_edge(values: np.ndarray) -> bool:
    """(H, W) float -> True when every regional maximum (a plateau, 8-connected, with no higher
    neighbour) touches the edge of the array.

    Exactly then grey reconstruction by dilation from the edge gives `values` back unchanged: a
    pixel is cut down only when all ground at least as high around it is cut off from the edge,
    and the top of such ground is a regional maximum. Finding them takes a 3x3 maximum, a
    labelling and eight comparisons, several times less than the reconstruction's sort.
    """
    if values.min() == values.max():
        return True
    # Touching pixels that are both no lower than any neighbour are equal, so each component of
    # such pixels lies on one plateau; it is the whole plateau, a regional maximum, unless it
    # has an equal neighbour that does have a higher one.
    top = values >= ndimage.maximum_filter(values, size=3)
    tops, count = ndimage.label(top, structure=np.ones((3, 3)))
    part_of_a_slope = np.zeros(count + 1, dtype=bool)
    height, width = values.shape
    for down, right in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        here = (slice(max(0, -down), height - max(0, down)), slice(max(0, -right), width - max(0, right)))
        there = (slice(max(0, down), height + min(0, down)), slice(max(0, right), width + min(0, right)))
        leak = top[here] & ~top[there] & (values[here] == values[there])
        part_of_a_slope[tops[here][leak]] = True
    edge = np.concatenate([tops[0], tops[-1], tops[:, 0], tops[:, -1]])
    touching = np.zeros(count + 1, dtype=bool)
    touching[edge] = True
    return bool((touching | part_of_a_slope)[1:].all())


def digit_mask(ink: np.ndarray, levels: tuple[float, float] | None = None,
               checked: bool = False) -> tuple[np.ndarray | None, str | None]:
    """(H, W) ink map in [0, 1] -> (H, W) bool mask of the digit's ink, or (None, reason).

    `levels` is (peak, level) of this ink map (ink_levels) when the caller already has them;
    `checked` says the caller found that blank_or_noise has nothing to say of it.
    """
    reason = None if checked else blank_or_noise(ink, levels)
    if reason is not None:
        return None, reason
    peak = float(np.percentile(ink, 99.9)) if levels is None else levels[0]
    mask, reason = _separate_digit(ink, peak, None if levels is None else levels[1])
    if mask is None:
        return None, reason
    # Grainy ink (pencil on rough paper, chalk, a noisy photo) gives ragged edges and pinholes,
    # which the skeleton turns into spurs and loops; smoothing at a fraction of the digit's
    # stroke width removes grain, never strokes. Clean edges are left exactly as they are.
    width = _grainy_stroke_width(mask)
    if width >= SMOOTH_FROM_WIDTH:
        ink = ndimage.gaussian_filter(ink, width * SMOOTH_PART)
        mask, reason = _separate_digit(ink, peak)
        if mask is None:
            return None, reason
    # Basins are looked for in the digit's own ink only: a frame around it would make the whole
    # digit a basin of the frame. No basin is deeper than the darkest ink less the pixel's own,
    # so when no masked pixel is that much lighter (a drawing in one solid colour) none is cut.
    cut = LOOP_DEPTH * peak
    if (ink.max() - ink[mask] > cut).any():
        near_digit = ndimage.binary_dilation(mask, iterations=2)
        mask &= ~(loop_depth(np.where(near_digit, ink, 0.0), mask) > cut)
    if _ink_extent(mask) < max(3, MIN_DIGIT_FRACTION * min(ink.shape)):
        return None, "no digit found: only specks"
    return mask, None


def blank_or_noise(ink: np.ndarray, levels: tuple[float, float] | None = None) -> str | None:
    """(H, W) ink map in [0, 1] -> why it holds no digit (too small, blank, noise), or None."""
    if ink.size == 0 or min(ink.shape) < 4:
        return "the image is too small to hold a digit"
    peak = float(np.percentile(ink, 99.9)) if levels is None else levels[0]
    if peak < MIN_CONTRAST:
        return "no ink found: the image is blank or uniform"
    # Independent noise correlates by chance about 1/sqrt(pixels); demand four times that.
    smooth_enough = max(MIN_SMOOTHNESS, 4.0 / np.sqrt(ink.size))
    if neighbour_correlation(ink, enough=smooth_enough) < smooth_enough:
        return "no digit found: the image looks like noise"
    return None


def raggedness(mask: np.ndarray) -> float:
    """(H, W) bool ink -> in [0, 1]: the part of its edge pixels that a 3x3 majority vote flips
    (clean strokes about 0.01, grainy pencil or chalk 0.3 and more)."""
    edge = mask & ~ndimage.binary_erosion(mask)
    majority = ndimage.correlate(mask.astype(np.uint8), np.ones((3, 3), dtype=np.uint8)) >= 5
    return float((majority != mask).sum()) / max(1, int(edge.sum()))


def _grainy_stroke_width(mask: np.ndarray) -> float:
    """(H, W) bool ink -> its strokes' mean width in pixels when their edges are RAGGED, else 0."""
    if raggedness(mask) < RAGGED:
        return 0.0
    return 4.0 * float(ndimage.distance_transform_edt(mask).sum()) / mask.sum()


def _separate_digit(ink: np.ndarray, peak: float, level: float | None = None) -> tuple[np.ndarray | None, str | None]:
    """(H, W) ink map and its peak (and ink_level, if known) -> (H, W) bool mask of the ink left
    once thresholded and cleared of lines, frames and specks, or (None, reason)."""
    mask = ink > (ink_level(ink, peak) if level is None else level)
    if mask.mean() > MAX_INK_FRACTION:
        return None, "no distinct digit: the image is mostly ink"
    mask &= ~ruled_lines(mask, ink)
    mask = _drop_clutter(mask)
    if mask is None:
        return None, "no digit found: only specks or lines"
    return mask, None


def ink_level(ink: np.ndarray, peak: float) -> float:
    """(H, W) ink map in [0, 1] and its peak (99.9th percentile) -> the level above which a pixel is ink."""
    return max(_otsu(ink), MIN_CONTRAST, 0.25 * peak)


def ink_levels(ink: np.ndarray) -> tuple[float, float]:
    """(H, W) ink map in [0, 1], not empty -> (its peak, the 99.9th percentile; its ink_level)."""
    peak = float(np.percentile(ink, 99.9))
    return peak, ink_level(ink, peak)


def loop_depth(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W) ink map in [0, 1] and its thresholded mask -> (H, W) float >= 0: how much lighter each
    pixel is than the ink enclosing it at that ring's lightest point (0 where nothing encloses it).

    A small loop of a bold or blurry digit (the 6 of a scanned ZIP code, a thick 8) often
    passes the threshold and would be skeletonised as a line, yet in the grey ink it is still a
    basin. Filling basins from the border (grey reconstruction by erosion) measures each one.
    Only the mask's box is searched: outside it everything is lighter than any masked pixel.
    """
    depth = np.zeros_like(ink)
    if not mask.any():
        return depth
    rows, cols = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    basin = np.pad(ink[box], 1)
    if _peaks_touch_the_edge(-basin):
        return depth  # no basin: every low reaches the border (a 1, 2, 3, 5 or 7 without a loop)
    seed = np.full_like(basin, basin.max())
    seed[0, :] = seed[-1, :] = seed[:, 0] = seed[:, -1] = 0.0
    depth[box] = (reconstruction(seed, basin, method="erosion") - basin)[1:-1, 1:-1]
    return depth


def neighbour_correlation(ink: np.ndarray, enough: float = np.inf) -> float:
    """(H, W) ink map -> in [-1, 1]: the best correlation of the map with itself moved one pixel.

    Any pen stroke continues in some direction, so a drawing scores high (a 1-pixel line ~0.5
    or more); independent noise scores near 0 whatever its strength. With `enough`, the first
    direction scoring at least that is returned without trying the rest (a drawing's first
    direction nearly always does), so the answer to "is it at least `enough`?" is unchanged.
    """
    best = -1.0
    for shifted, base in (
        (ink[1:, :], ink[:-1, :]),
        (ink[:, 1:], ink[:, :-1]),
        (ink[1:, 1:], ink[:-1, :-1]),
        (ink[1:, :-1], ink[:-1, 1:]),
    ):
        a = shifted - shifted.mean()
        b = base - base.mean()
        denominator = np.sqrt((a * a).sum() * (b * b).sum())
        if denominator > 0:
            best = max(best, float((a * b).sum() / denominator))
            if best >= enough:
                break
    return best


def _otsu(ink: np.ndarray) -> float:
    """Otsu's level for an ink map; 0 for a one-valued map."""
    if np.ptp(ink) <= 0:
        return 0.0
    return float(threshold_otsu(ink))


def ruled_lines(mask: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """(H, W) bool ink mask and its (H, W) ink map -> (H, W) bool: the pixels of straight lines
    across the picture (ruled or squared paper, a form box's sides) that are not the digit's.

    A line counts when it runs through LINE_SPAN of the picture and on past the digit at both
    ends, and is print rather than pen: where it runs on alone, thinner or lighter than
    the digit's strokes. A tightly cropped digit's own stroke (the stem of a 4 in a ZIP-code
    cell) can meet the first two but not the last. Only the line's thin ink goes: where a stroke
    crosses or touches it, the ink across the line is thick and stays, so the stroke stays whole.
    """
    nothing = np.zeros_like(mask)
    candidates = _straight_runs(mask) | _straight_runs(mask.T).T
    if not candidates.any():
        return nothing  # the usual case: no long straight run at all
    digit = _digit_left(mask, candidates)
    if digit is None:
        return nothing
    rows, cols = np.nonzero(digit)
    along_rows = _straight_runs(mask, beyond=(cols.min(), cols.max()))
    along_cols = _straight_runs(mask.T, beyond=(rows.min(), rows.max())).T
    if not along_rows.any() and not along_cols.any():
        return nothing
    digit = _digit_left(mask, along_rows | along_cols)
    if digit is None:
        return nothing
    rows, cols = np.nonzero(digit)
    stroke = _median_stroke_width(digit)
    digit_ink = float(np.median(ink[digit]))
    removed = np.zeros_like(mask)
    for runs, axis, extent in ((along_rows, 1, cols), (along_cols, 0, rows)):
        if not runs.any():
            continue
        position = np.indices(mask.shape)[axis]
        past_digit = (position < extent.min()) | (position > extent.max())
        across = _run_lengths(mask, axis=1 - axis)
        labels, _ = ndimage.label(runs, structure=np.ones((3, 3), dtype=bool))
        for index, box in enumerate(ndimage.find_objects(labels), start=1):
            line = labels[box] == index
            own = line & past_digit[box]
            if not own.any():
                continue
            thickness = float(np.median(across[box][own]))
            if own.any(axis=1 - axis).sum() < 3 * thickness:
                continue  # no line runs on alone there, only a stroke's rounded end
            if thickness <= LINE_THIN * stroke or np.median(ink[box][own]) <= LINE_LIGHT * digit_ink:
                removed[box] |= line & (across[box] <= thickness + 2)
    return removed


def _digit_left(mask: np.ndarray, lines: np.ndarray) -> np.ndarray | None:
    """(H, W) bool ink and lines through it -> the digit's ink once the lines and the pieces of
    line they leave (cut short by a tilted picture's corners) are cleared away as clutter, or
    None when no more than a speck remains."""
    digit = _drop_clutter(mask & ~lines)
    return digit if digit is not None and _digit_sized(digit) else None


def _digit_sized(ink: np.ndarray) -> bool:
    """True when some ink spans at least a tenth of the picture's short side (not just a speck)."""
    return _ink_extent(ink) >= 0.1 * min(ink.shape)


def _ink_extent(mask: np.ndarray) -> int:
    """(H, W) bool -> the longer side of the box around its ink, in pixels (0 with no ink)."""
    if not mask.any():
        return 0
    rows, cols = np.nonzero(mask)
    return int(max(rows.max() - rows.min(), cols.max() - cols.min())) + 1


def _straight_runs(mask: np.ndarray, beyond: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W) bool -> (H, W) bool: ink on near-horizontal digital lines (slopes up to
    LINE_MAX_SLOPE, in half-pixel steps of drift) holding ink in LINE_SPAN of the columns.

    With `beyond` (first, last column of the digit), a line must also hold ink in LINE_OVERHANG
    of the width or more on both sides of those columns.
    """
    height, width = mask.shape
    runs = np.zeros_like(mask)
    # A line holding ink in LINE_SPAN of the columns needs that many columns with ink: most
    # digits on their own never get past this cheap test.
    if width < 16 or mask.any(axis=0).sum() < LINE_SPAN * width:
        return runs
    rows, cols = np.nonzero(mask)
    overhang = LINE_OVERHANG * width
    if beyond is not None:
        if min(beyond[0], width - 1 - beyond[1]) < overhang:
            return runs
        side = np.where(cols < beyond[0], 0, np.where(cols > beyond[1], 1, 2))
    steps = int(np.ceil(2 * LINE_MAX_SLOPE * width))
    lanes = height + 2 * steps + 1
    for step in range(-steps, steps + 1):
        lane = rows - np.rint(step * cols / (2.0 * width)).astype(np.int64) + steps
        full = np.bincount(lane, minlength=lanes) >= LINE_SPAN * width
        if beyond is not None and full.any():
            per_side = np.bincount(lane * 3 + side, minlength=3 * lanes).reshape(lanes, 3)
            full &= (per_side[:, 0] >= overhang) & (per_side[:, 1] >= overhang)
        if full.any():
            on_line = full[lane]
            runs[rows[on_line], cols[on_line]] = True
    return runs


def _run_lengths(mask: np.ndarray, axis: int) -> np.ndarray:
    """(H, W) bool -> (H, W) int: the length of the unbroken run of ink along `axis` through each
    pixel (0 on paper)."""
    structure = np.zeros((3, 3), dtype=bool)
    structure[:, 1] = axis == 0
    structure[1, :] = axis == 1
    labels, _ = ndimage.label(mask, structure=structure)
    return np.bincount(labels.ravel())[labels] * mask


def _median_stroke_width(mask: np.ndarray) -> float:
    """(H, W) bool ink -> its strokes' median width in pixels (twice the half-width on its centre line)."""
    centre = skeletonize(mask)
    if not centre.any():
        return 1.0
    return float(2.0 * np.median(ndimage.distance_transform_edt(mask)[centre]))


def _drop_clutter(mask: np.ndarray) -> np.ndarray | None:
    """Keep the digit's components: drop specks, and ruled lines or frames when a digit remains."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return None
    areas = np.bincount(labels.ravel())[1:]
    height, width = mask.shape
    boxes = ndimage.find_objects(labels)
    keep = np.zeros(count + 1, dtype=bool)
    is_line = np.zeros(count, dtype=bool)
    for index, box in enumerate(boxes):
        box_height = box[0].stop - box[0].start
        box_width = box[1].stop - box[1].start
        ruled_line = box_width >= 0.8 * width and box_height <= 0.12 * height
        frame = box_width >= FRAME_EXTENT * width and box_height >= FRAME_EXTENT * height and (
            areas[index] < 0.5 * box_width * box_height
        ) and _hugs_border(labels[box] == index + 1)
        is_line[index] = ruled_line or frame
    candidates = areas * ~is_line
    if candidates.max() == 0:
        return None  # nothing but ruled lines or a frame
    largest = candidates.max()
    min_area = max(2.0, 0.1 * largest)
    keep[1:] = candidates >= min_area
    kept = keep[labels]
    return kept if kept.any() else None


def _hugs_border(component: np.ndarray) -> bool:
    """True when most of a component's ink lies in the outer tenth of its box (a frame, not a 0)."""
    height, width = component.shape
    band_y, band_x = max(1, height // 10), max(1, width // 10)
    inner = component[band_y : height - band_y, band_x : width - band_x]
    return inner.sum() < 0.1 * component.sum()


def skeleton_points(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) bool digit mask -> (N, 2) float64 (row, col) points of its centre line, N >= 1,
    and (N,) float64 the ink's half-width at each point, in the same units.

    The crop is brought to about SKELETON_SIDE pixels first: shrinking uses block maximum so
    thin strokes survive, enlarging smooths the edges so the skeleton has no staircase spurs.
    """
    rows, cols = np.nonzero(mask)
    crop = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    long_side = max(crop.shape)
    if long_side > SKELETON_SIDE:
        factor = -(-long_side // SKELETON_SIDE)
        pad = [(0, (-n) % factor) for n in crop.shape]
        padded = np.pad(crop, pad)
        crop = padded.reshape(
            padded.shape[0] // factor, factor, padded.shape[1] // factor, factor
        ).any(axis=(1, 3))
    elif long_side < SKELETON_SIDE // 2:
        scale = SKELETON_SIDE / long_side
        shape = (max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale)))
        crop = resize(crop.astype(np.float64), shape, order=1, mode="edge", anti_aliasing=False) >= 0.5
    padded = np.pad(crop, 1)
    skeleton = skeletonize(padded)
    if not skeleton.any():
        skeleton = padded
    half_widths = ndimage.distance_transform_edt(padded)[skeleton]
    return np.argwhere(skeleton).astype(np.float64), half_widths


def filled_radii(half_widths: np.ndarray) -> np.ndarray:
    """(N,) half-widths along a centre line, N >= 1 -> (N,) radii to keep filled: the half-width
    where it exceeds FILLED_WIDTH times the median, 0 elsewhere (drawn with the usual pen).

    A bold writer's small loop is often solid ink (the lower loop of a thick 8, the head of a
    9); its skeleton is a short line, so a uniform pen turns the 9 into a bare stroke. Keeping
    such parts solid keeps them telling apart.
    """
    return np.where(half_widths > FILLED_WIDTH * np.median(half_widths), half_widths, 0.0)


def deslant(points: np.ndarray) -> np.ndarray:
    """(N, 2) (row, col) points -> the same points sheared so the digit's main axis is upright."""
    if len(points) < 3:
        return points
    centred = points - points.mean(axis=0)
    row_var = float((centred[:, 0] ** 2).mean())
    if row_var <= 1e-9:
        return points
    slant = float((centred[:, 0] * centred[:, 1]).mean()) / row_var
    slant = float(np.clip(slant, -MAX_SLANT, MAX_SLANT))
    upright = points.copy()
    upright[:, 1] = points[:, 1] - slant * centred[:, 0]
    return upright


def draw_with_pen(points: np.ndarray, filled: np.ndarray) -> np.ndarray:
    """(N, 2) (row, col) centre-line points -> (32, 32) bool bitmap drawn with a fixed round pen.

    `filled` (N,) gives, in the points' units, a radius kept solid around each point (0: only
    the pen); a filled part is drawn at the digit's scale, so it keeps its size within the digit.

    The points are scaled (aspect kept, except that a digit wider than MAX_ASPECT of its height
    is narrowed to it) so the longer side of their box fills the bitmap less the pen's radius,
    and the box is centred. Neighbouring points land at most ~3.5 canvas
    pixels apart (skeletons are at least SKELETON_SIDE/2 long), far less than the pen's width,
    so strokes stay whole without drawing segments.
    """
    canvas_side = BITMAP_SIDE * SUPERSAMPLE
    radius = PEN_RADIUS * SUPERSAMPLE
    low, scale = _fit(points, np.zeros(len(points)), canvas_side, radius)
    # A filled part no wider than the pen draws nothing new, so it must not widen the box either.
    filled = np.where((filled[:, None] * scale).max(axis=1) > radius, filled, 0.0)
    if filled.any():
        low, scale = _fit(points, filled, canvas_side, radius)
    placed = (points - low) * scale
    centre_line = np.zeros((canvas_side, canvas_side), dtype=bool)
    index = np.clip(np.rint(placed).astype(int), 0, canvas_side - 1)
    centre_line[index[:, 0], index[:, 1]] = True
    ink = ndimage.distance_transform_edt(~centre_line) <= radius
    for centre, reach in zip(placed[filled > 0], filled[filled > 0, None] * scale):
        _fill_ellipse(ink, centre, reach)
    blocks = ink.reshape(BITMAP_SIDE, SUPERSAMPLE, BITMAP_SIDE, SUPERSAMPLE).mean(axis=(1, 3))
    return blocks >= 0.5


def _fit(
    points: np.ndarray, filled: np.ndarray, canvas_side: int, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) origin and scale placing the points and their filled parts centred on the canvas."""
    low = (points - filled[:, None]).min(axis=0)
    span = np.maximum((points + filled[:, None]).max(axis=0) - low, 1.0)
    usable = canvas_side - 2 * radius - 1
    aspect = span[1] / span[0]
    # load_digits' forms scaled digits to the box's height only; scans that fill the box both
    # ways (ZIP-code cells) make digits wide, which would otherwise read as other digits.
    aspect = min(aspect, max(MAX_ASPECT, aspect / MAX_STRETCH))
    scale = usable * np.array([1.0, aspect]) / max(1.0, aspect) / span
    return low - (canvas_side - 1 - span * scale) / 2.0 / scale, scale


def _fill_ellipse(canvas: np.ndarray, centre: np.ndarray, reach: np.ndarray) -> None:
    """Set the pixels of a (H, W) bool canvas within an ellipse of (row, col) radii `reach`."""
    top, left = np.maximum(np.floor(centre - reach), 0).astype(int)
    bottom, right = np.minimum(np.ceil(centre + reach) + 1, canvas.shape).astype(int)
    rows, cols = np.ogrid[top:bottom, left:right]
    inside = ((rows - centre[0]) / reach[0]) ** 2 + ((cols - centre[1]) / reach[1]) ** 2 <= 1.0
    canvas[top:bottom, left:right] |= inside


def block_counts(bitmap: np.ndarray) -> np.ndarray:
    """(32, 32) bool bitmap -> (64,) float64 in [0, 16]: ink pixels per 4x4 block, row-major."""
    counts = bitmap.reshape(8, BLOCK, 8, BLOCK).sum(axis=(1, 3))
    return counts.astype(np.float64).ravel()


def ink_bitmap(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool digit mask -> (32, 32) bool: the ink itself, as load_digits' forms captured it
    (fitted into 32x32 with its aspect kept, centred), its slant removed and a thin pen thickened
    to CAPTURE_PEN of the digit's height.

    The pen drawing (skeleton, one pen) forgets how the strokes were shaped; a bold 8's lower
    loop filled in by the pen, which the skeleton makes a stem, still looks like an 8 here.
    """
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    # Cropped to the ink and the paper pixel beyond it, where the picture has one, so distances
    # to the paper (stroke width, thickening) are those of the whole picture, in less time.
    mask = mask[max(rows[0] - 1, 0):rows[-1] + 2, max(cols[0] - 1, 0):cols[-1] + 2]
    height = rows[-1] - rows[0] + 1
    thickening = int(round((CAPTURE_PEN * height - _median_stroke_width(mask)) / 2))
    if thickening >= 1:
        # Within `thickening` of the ink: a dilation by a disk of that radius, in linear time.
        mask = ndimage.distance_transform_edt(~np.pad(mask, thickening + 1)) <= thickening
    pixels = np.rint(deslant(np.argwhere(mask).astype(np.float64))).astype(int)
    pixels -= pixels.min(axis=0)
    upright = np.zeros(pixels.max(axis=0) + 1, dtype=bool)
    upright[pixels[:, 0], pixels[:, 1]] = True
    scale = BITMAP_SIDE / max(upright.shape)
    shape = tuple(max(1, min(BITMAP_SIDE, round(n * scale))) for n in upright.shape)
    fitted = resize(upright.astype(np.float64), shape, order=1, mode="constant", anti_aliasing=True) > 0.5
    bitmap = np.zeros((BITMAP_SIDE, BITMAP_SIDE), dtype=bool)
    top, left = (BITMAP_SIDE - shape[0]) // 2, (BITMAP_SIDE - shape[1]) // 2
    bitmap[top:top + shape[0], left:left + shape[1]] = fitted
    return bitmap


def _zone_weights() -> np.ndarray:
    """(ZONES, 32) float64 in (0, 1]: each zone's Gaussian weight of each row (or column) of a drawing."""
    spacing = BITMAP_SIDE / ZONES
    centres = (np.arange(ZONES) + 0.5) * spacing - 0.5
    offsets = np.arange(BITMAP_SIDE)[None, :] - centres[:, None]
    return np.exp(-0.5 * (offsets / (ZONE_SPREAD * spacing)) ** 2)


ZONE_WEIGHTS = _zone_weights()


def stroke_directions(bitmap: np.ndarray) -> np.ndarray:
    """(32, 32) bool drawing -> (DIRECTIONS * ZONES * ZONES,) float64 >= 0 (about 0..10): for each
    of 8 directions in which the ink lies across an outline (0: to the right, 2: below, counting
    45 degrees at a time), then each of 4x4 zones in row-major order, the square root of how much
    outline there is with the ink that way, around the zone, in steps of DIRECTION_STEP.

    Counts of ink per block say where ink is; a bold stroke and two thin ones, or a 6's closed
    loop and a 4's open corner, can count alike. Which way the outlines face tells them apart and
    moves little when a stroke shifts by a pixel. The gradient of the slightly blurred drawing
    (pointing from paper into ink) is split between its two nearest directions; the square root
    evens out long and short strokes.
    """
    smooth = ndimage.gaussian_filter(bitmap.astype(np.float64), EDGE_BLUR)
    down, right = ndimage.sobel(smooth, axis=0), ndimage.sobel(smooth, axis=1)
    strength = np.hypot(down, right)
    position = np.mod(np.arctan2(down, right), 2 * np.pi) * (DIRECTIONS / (2 * np.pi))
    lower = np.floor(position).astype(int) % DIRECTIONS
    upper_share = position - np.floor(position)
    per_direction = np.zeros((DIRECTIONS,) + bitmap.shape)
    rows, cols = np.indices(bitmap.shape)
    # Each pixel appears once per statement, so plain fancy indexing adds exactly as np.add.at would.
    per_direction[lower, rows, cols] = strength * (1.0 - upper_share)
    per_direction[(lower + 1) % DIRECTIONS, rows, cols] += strength * upper_share
    zoned = np.einsum("dij,zi,yj->dzy", per_direction, ZONE_WEIGHTS, ZONE_WEIGHTS)
    return np.round(np.sqrt(zoned).ravel() / DIRECTION_STEP) * DIRECTION_STEP


def glyph_from_image(rgb: np.ndarray) -> Glyph:
    """(H, W, 3) or (H, W) float picture in [0, 1] -> its canonical Glyph (features in load_digits' format)."""
    return glyph_from_ink(ink_map(rgb))


def glyph_from_ink(ink: np.ndarray, levels: tuple[float, float] | None = None, checked: bool = False) -> Glyph:
    """(H, W) ink map in [0, 1] (ink_map, or a digit's part of one) -> its canonical Glyph;
    `levels` and `checked` as digit_mask takes them."""
    mask, reason = digit_mask(ink, levels, checked)
    if mask is None:
        return Glyph(features=None, bitmap=None, reason=reason)
    points, half_widths = skeleton_points(mask)
    bitmap = draw_with_pen(deslant(points), filled_radii(half_widths))
    model_input = np.concatenate([stroke_directions(bitmap), stroke_directions(ink_bitmap(mask))])
    return Glyph(features=block_counts(bitmap), bitmap=bitmap, model_input=model_input)
