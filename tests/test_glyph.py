"""The canonical glyph: load_digits' 8x8 format, stable under shifts, sizes and pen widths."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from PIL import Image, ImageDraw, ImageFilter

import batchdigits.recognition.glyph as glyph_module
from batchdigits.recognition.glyph import (
    MODEL_INPUT,
    block_counts,
    digit_mask,
    glyph_from_image,
    ink_bitmap,
    ink_map,
    neighbour_correlation,
    stroke_directions,
)
from drawing import as_rgb_float, digit_image

GOLDEN = Path(__file__).parent / "golden" / "glyph-mouse-3.json"


def pinned_drawing() -> np.ndarray:
    """A 3 drawn with a 2-pixel mouse line on a 200x200 canvas."""
    return as_rgb_float(digit_image(3, width=2, seed=11))


def test_glyph_is_load_digits_format():
    glyph = glyph_from_image(pinned_drawing())
    assert glyph.features.shape == (64,)
    assert glyph.features.dtype == np.float64
    assert glyph.features.min() >= 0 and glyph.features.max() <= 16
    assert np.array_equal(glyph.features, np.rint(glyph.features)), "block counts are whole numbers"
    assert glyph.bitmap.shape == (32, 32) and glyph.bitmap.dtype == bool
    assert np.array_equal(block_counts(glyph.bitmap), glyph.features)


def ink_drawing(picture: np.ndarray) -> np.ndarray:
    """The (32, 32) bool drawing of a picture's own ink, the model's second drawing."""
    return ink_bitmap(digit_mask(ink_map(picture))[0])


def test_glyph_matches_pinned_golden():
    """Guards the contract between training and scanning: a change here needs a retrained model."""
    golden = json.loads(GOLDEN.read_text())
    glyph = glyph_from_image(pinned_drawing())
    ink = block_counts(ink_drawing(pinned_drawing()))
    for actual, expected in ((glyph.features, golden["features"]), (ink, golden["ink"])):
        assert actual.reshape(8, 8).tolist() == np.array(expected, dtype=np.float64).reshape(8, 8).tolist()
    assert glyph.model_input.shape == (MODEL_INPUT,)
    assert glyph.model_input.tolist() == golden["model_input"]

    # Training and scanning must hand the classifier the same values in the same order.
    from batchdigits.recognition.runner import process_bytes
    from batchdigits.learning.training import glyph_features

    buffer = io.BytesIO()
    digit_image(3, width=2, seed=11).save(buffer, format="PNG")
    scanned = process_bytes(buffer.getvalue())
    trained = glyph_features([pinned_drawing()])[0]
    assert np.array_equal(scanned.model_input, trained) and trained.tolist() == golden["model_input"]
    assert np.array_equal(scanned.features, golden["features"])


def test_stroke_directions_tell_which_way_each_outline_faces():
    bar = np.zeros((32, 32), dtype=bool)
    bar[14:18, 4:28] = True  # a horizontal stroke across the middle
    directions = stroke_directions(bar).reshape(8, 4, 4)  # direction, zone row, zone column
    assert directions.min() >= 0 and np.array_equal(directions * 16, np.rint(directions * 16)), "steps of 1/16"
    # Along its top edge the ink lies below (direction 2: 90 degrees, counted from right towards
    # down), along its bottom edge above (6).
    by_direction = directions.sum(axis=(1, 2))
    assert set(np.argsort(by_direction)[-2:]) == {2, 6}
    assert by_direction[0] < 0.5 * by_direction[2] and by_direction[4] < 0.5 * by_direction[2]
    lower_half = np.zeros((32, 32), dtype=bool)
    lower_half[16:] = True
    one_edge = stroke_directions(lower_half).reshape(8, 4, 4).sum(axis=(1, 2))
    assert one_edge.argmax() == 2 and one_edge[6] < 0.01 * one_edge[2]
    # The middle rows of zones hold it, the top and bottom ones little of it.
    by_row = directions.sum(axis=(0, 2))
    assert min(by_row[1], by_row[2]) > 2 * max(by_row[0], by_row[3])
    # Moved by a pixel, the stroke faces the same ways, zone by zone, nearly as strongly.
    moved = stroke_directions(np.roll(bar, 1, axis=0))
    assert np.abs(moved - directions.ravel()).sum() < 0.15 * directions.sum()
    # The same stroke upright faces the other directions.
    upright = stroke_directions(bar.T).reshape(8, 4, 4).sum(axis=(1, 2))
    assert set(np.argsort(upright)[-2:]) == {0, 4}


@pytest.mark.parametrize("digit", [2, 4, 8])
def test_the_ink_drawing_brings_thin_pens_to_a_bold_width_and_removes_slant(digit, monkeypatch):
    thin, bold = as_rgb_float(digit_image(digit, width=2)), as_rgb_float(digit_image(digit, width=14))
    upright = digit_image(digit)
    italic = upright.transform(upright.size, Image.AFFINE, (1, 0.35, -35, 0, 1, 0), fillcolor=(255, 255, 255))
    upright, italic = as_rgb_float(upright), as_rgb_float(italic)

    def ink(picture):
        return block_counts(ink_drawing(picture))

    for counts in (ink(thin), ink(bold)):
        assert counts.shape == (64,) and counts.min() >= 0 and counts.max() <= 16
        assert np.array_equal(counts, np.rint(counts)), "block counts are whole numbers"
    # A 2-pixel line holds a fraction of a bold pen's ink until it is thickened.
    assert ink(thin).sum() > 0.8 * ink(bold).sum() and _distance(ink(thin), ink(bold)) < 1.0
    assert _distance(ink(upright), ink(italic)) < 1.0
    # Without the thickening or the slant correction, the same checks fail.
    monkeypatch.setattr(glyph_module, "CAPTURE_PEN", 0.0)
    assert ink(thin).sum() < 0.2 * ink(bold).sum() and _distance(ink(thin), ink(bold)) > 2.0
    monkeypatch.undo()
    monkeypatch.setattr(glyph_module, "MAX_SLANT", 0.0)
    assert _distance(ink(upright), ink(italic)) > 2.0


def test_ink_is_high_whatever_the_polarity():
    dark_on_white = as_rgb_float(digit_image(7))
    white_on_black = as_rgb_float(digit_image(7, ink=(240, 240, 240), paper=(10, 10, 10)))
    assert np.array_equal(glyph_from_image(dark_on_white).features, glyph_from_image(white_on_black).features)
    ink = ink_map(dark_on_white)
    assert ink[0, 0] == 0.0 and ink.max() > 0.8


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference per cell, in 0..16 units."""
    return float(np.abs(a - b).mean())


@pytest.mark.parametrize(
    "variant",
    [
        {"box": (10, 10, 90, 160)},  # moved to a corner
        {"size": 600, "box": (200, 80, 400, 520), "width": 30},  # three times larger
        {"size": 64, "box": (18, 6, 46, 58), "width": 3},  # small
        {"width": 22},  # thick marker
        {"width": 2},  # thin mouse line
    ],
    ids=["shifted", "larger", "smaller", "thicker", "thinner"],
)
@pytest.mark.parametrize("digit", [2, 4, 8])
def test_same_glyph_for_shifted_scaled_and_reweighted_drawings(digit, variant, bundled_model):
    reference = glyph_from_image(as_rgb_float(digit_image(digit)))
    changed = glyph_from_image(as_rgb_float(digit_image(digit, **variant)))
    assert _distance(reference.features, changed.features) < 1.5
    predicted = bundled_model.probabilities(np.array([reference.model_input, changed.model_input])).argmax(axis=1)
    assert predicted.tolist() == [digit, digit]


@pytest.mark.parametrize(
    "picture, reason",
    [
        (np.ones((100, 100, 3)), "blank"),
        (np.zeros((100, 100, 3)), "blank"),
        (np.full((100, 100, 3), 0.5), "blank"),
        (np.ones((1, 1, 3)), "too small"),
        (np.random.default_rng(0).uniform(size=(120, 120, 3)), "noise"),
    ],
    ids=["white", "black", "gray", "one-pixel", "uniform-noise"],
)
def test_no_digit_instead_of_a_guess(picture, reason):
    glyph = glyph_from_image(picture)
    assert glyph.features is None and glyph.bitmap is None
    assert reason in glyph.reason


def test_speckles_are_not_a_digit():
    picture = np.ones((200, 200, 3))
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, 200, 40), rng.integers(0, 200, 40)
    picture[rows, cols] = 0.0
    assert glyph_from_image(picture).features is None


def test_noise_scores_low_and_strokes_high():
    rng = np.random.default_rng(1)
    assert neighbour_correlation(rng.uniform(size=(80, 80))) < 0.1
    ink = 1.0 - as_rgb_float(digit_image(1, width=1)).mean(axis=2)
    assert neighbour_correlation(ink) > 0.3


def test_stopping_early_keeps_the_smoothness_verdict():
    rng = np.random.default_rng(2)
    stripes = np.tile([0.0, 0.0, 1.0, 1.0], (40, 10))  # smooth down the columns only
    drawing = 1.0 - as_rgb_float(digit_image(7, width=2)).mean(axis=2)
    # Smooth in one direction only, tried first (stripes) or second (stripes.T): smooth either way.
    for ink in (stripes, stripes.T):
        assert neighbour_correlation(ink) == pytest.approx(1.0)
        assert all(neighbour_correlation(ink, enough=enough) >= enough for enough in (0.1, 0.6, 0.95))
    assert neighbour_correlation(drawing, enough=0.3) >= 0.3
    assert neighbour_correlation(rng.uniform(size=(60, 60)), enough=0.1) < 0.1


def test_salt_and_pepper_noise_keeps_the_digit(bundled_model):
    picture = as_rgb_float(digit_image(5, width=8))
    rng = np.random.default_rng(5)
    noise = rng.uniform(size=picture.shape[:2])
    picture[noise < 0.02] = 0.0
    picture[noise > 0.98] = 1.0
    glyph = glyph_from_image(picture)
    assert bundled_model.probabilities(glyph.model_input[None]).argmax() == 5


def test_ruled_line_is_dropped():
    plain = digit_image(4, size=200)
    ruled = digit_image(4, size=200)
    ImageDraw.Draw(ruled).line([(0, 192), (200, 192)], fill=(150, 160, 190), width=2)
    a = glyph_from_image(as_rgb_float(plain)).features
    b = glyph_from_image(as_rgb_float(ruled)).features
    assert np.array_equal(a, b)


def _ink_disagreement(a: np.ndarray, b: np.ndarray) -> float:
    """The part of two (32, 32) glyph bitmaps' ink that only one of them has."""
    return float((a ^ b).sum()) / max(1, int((a | b).sum()))


def _ruled(image: Image.Image, rows=(), cols=(), fill=(60, 80, 160), width=2) -> Image.Image:
    """The image with straight lines across it at the given rows and columns (ruled or squared
    paper, printed dark enough to pass the ink threshold, as a photocopy does)."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    for y in rows:
        draw.line([(0, y), (image.width, y)], fill=fill, width=width)
    for x in cols:
        draw.line([(x, 0), (x, image.height)], fill=fill, width=width)
    return image


def _without_line_removal(monkeypatch) -> None:
    """No run of ink can hold more than the whole width, so no line is ever found."""
    monkeypatch.setattr(glyph_module, "LINE_SPAN", 2.0)


@pytest.mark.parametrize("digit", [2, 4, 5, 7])
def test_a_ruled_line_through_the_digit_is_removed_and_the_strokes_it_crosses_kept(monkeypatch, digit):
    plain = digit_image(digit, width=12)
    ruled = _ruled(plain, rows=(45, 100, 155))  # notebook lines, two of them through the digit
    clean = glyph_from_image(as_rgb_float(plain)).bitmap
    assert _ink_disagreement(clean, glyph_from_image(as_rgb_float(ruled)).bitmap) < 0.12
    _without_line_removal(monkeypatch)
    assert _ink_disagreement(clean, glyph_from_image(as_rgb_float(ruled)).bitmap) > 0.3


def test_squared_paper(monkeypatch):
    plain = digit_image(8, width=12)
    squared = _ruled(plain, rows=range(10, 200, 24), cols=range(5, 200, 24), fill=(70, 80, 100), width=2)
    clean = glyph_from_image(as_rgb_float(plain)).bitmap
    assert _ink_disagreement(clean, glyph_from_image(as_rgb_float(squared)).bitmap) < 0.15
    _without_line_removal(monkeypatch)
    assert _ink_disagreement(clean, glyph_from_image(as_rgb_float(squared)).bitmap) > 0.3


@pytest.mark.parametrize("paper, degrees", [("lined", 3), ("lined", 6), ("squared", 2)])
def test_lines_of_a_slightly_tilted_photo(monkeypatch, paper, degrees):
    plain = digit_image(8, width=12)
    if paper == "lined":
        lines = _ruled(plain, rows=range(20, 200, 40))
    else:
        lines = _ruled(plain, rows=range(10, 200, 24), cols=range(5, 200, 24), fill=(70, 80, 100), width=2)
    tilted = as_rgb_float(lines.rotate(degrees, resample=Image.BILINEAR, fillcolor=(255, 255, 255)))
    clean = glyph_from_image(as_rgb_float(plain)).bitmap
    assert _ink_disagreement(clean, glyph_from_image(tilted).bitmap) < 0.12
    _without_line_removal(monkeypatch)
    assert _ink_disagreement(clean, glyph_from_image(tilted).bitmap) > 0.3


@pytest.mark.parametrize("margin", [4, 12, 20])
def test_a_digit_in_a_printed_box_reads_as_the_digit_alone(margin):
    plain = digit_image(6, width=12)
    boxed = plain.copy()
    ImageDraw.Draw(boxed).rectangle((margin, margin, 199 - margin, 199 - margin), outline=(30, 30, 30), width=3)
    clean = glyph_from_image(as_rgb_float(plain)).bitmap
    assert _ink_disagreement(clean, glyph_from_image(as_rgb_float(boxed)).bitmap) < 0.12


def test_a_box_whose_sides_cross_the_digit_is_removed(monkeypatch):
    plain = digit_image(0, width=12)  # the 0 spans columns 60 to 140 and rows 24 to 176
    boxed = plain.copy()  # a cell narrower than the writing: its sides run through the 0
    ImageDraw.Draw(boxed).rectangle((70, 8, 130, 192), outline=(30, 30, 30), width=2)
    ImageDraw.Draw(boxed).rectangle((0, 8, 199, 192), outline=(30, 30, 30), width=2)
    clean = glyph_from_image(as_rgb_float(plain)).bitmap
    assert _ink_disagreement(clean, glyph_from_image(as_rgb_float(boxed)).bitmap) < 0.12
    _without_line_removal(monkeypatch)
    assert _ink_disagreement(clean, glyph_from_image(as_rgb_float(boxed)).bitmap) > 0.3


@pytest.mark.parametrize("digit", [1, 4, 7])
def test_a_tightly_cropped_digit_keeps_its_own_long_strokes(monkeypatch, digit):
    drawing = digit_image(digit, width=14)
    ink = np.asarray(drawing.convert("L")) < 128
    rows, cols = np.nonzero(ink)
    tight = drawing.crop((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))  # a ZIP-code cell
    assert min(tight.size) >= 16
    with_search = glyph_from_image(as_rgb_float(tight)).features
    _without_line_removal(monkeypatch)
    assert np.array_equal(with_search, glyph_from_image(as_rgb_float(tight)).features)


def test_grainy_pencil_is_read_as_smooth_strokes(monkeypatch):
    rng = np.random.default_rng(3)
    ink = ndimage.gaussian_filter(1.0 - as_rgb_float(digit_image(5, width=24))[:, :, 0], 5)
    paper = 0.96 + ndimage.gaussian_filter(rng.normal(0, 0.08, ink.shape), 1.0)  # the paper's tooth
    pencil = paper - 0.3 * ink * (1 - 0.35 * rng.random(ink.shape))  # faint graphite, unevenly laid
    clean = glyph_from_image(as_rgb_float(digit_image(5, width=24))).bitmap
    assert _raggedness_seen(pencil, monkeypatch) >= glyph_module.RAGGED
    assert _ink_disagreement(clean, glyph_from_image(pencil).bitmap) < 0.2
    monkeypatch.setattr(glyph_module, "RAGGED", np.inf)
    assert _ink_disagreement(clean, glyph_from_image(pencil).bitmap) > 0.3


def _raggedness_seen(picture: np.ndarray, monkeypatch) -> float:
    """The raggedness the glyph measures on a picture's thresholded ink, before any smoothing."""
    seen = []
    measure = glyph_module.raggedness
    with monkeypatch.context() as patch:
        patch.setattr(glyph_module, "raggedness", lambda mask: seen.append(measure(mask)) or seen[-1])
        glyph_from_image(picture)
    return seen[0]


def test_clean_strokes_are_not_ragged(monkeypatch):
    for width in (6, 10, 16):  # thinner strokes are never smoothed
        assert _raggedness_seen(as_rgb_float(digit_image(3, width=width)), monkeypatch) < 0.15


def test_a_line_along_the_edge_is_not_taken_for_the_paper(monkeypatch):
    edged = _ruled(digit_image(3, width=10), rows=(0,), cols=(0,), fill=(120, 120, 120), width=3)
    glyph = glyph_from_image(as_rgb_float(edged))
    assert glyph.features is not None
    clean = glyph_from_image(as_rgb_float(digit_image(3, width=10))).bitmap
    assert _ink_disagreement(clean, glyph.bitmap) < 0.12
    monkeypatch.setattr(glyph_module, "BORDER_BAND", 0.0)  # the outermost pixels only
    assert _ink_disagreement(clean, glyph_from_image(as_rgb_float(edged)).bitmap) > 0.3


def test_a_page_with_only_ruled_lines_has_no_digit():
    page = Image.new("RGB", (200, 200), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    for y in (50, 100, 150):
        draw.line([(0, y), (200, y)], fill=(140, 150, 190), width=2)
    glyph = glyph_from_image(as_rgb_float(page))
    assert glyph.features is None and "lines" in glyph.reason


def _enclosed_paper(bitmap: np.ndarray) -> int:
    """Paper pixels of a (32, 32) bitmap that ink encloses: the insides of its loops."""
    return int((ndimage.binary_fill_holes(bitmap) & ~bitmap).sum())


def _blurred_bold_ring() -> np.ndarray:
    """A bold 0 with a narrow inside, blurred like a low-resolution scan: (120, 120, 3) in [0, 1]."""
    image = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(image).ellipse((35, 20, 85, 100), outline=0, width=24)
    return as_rgb_float(image.filter(ImageFilter.GaussianBlur(6)))


def test_a_loop_the_blur_filled_in_stays_a_loop(monkeypatch):
    ring = _blurred_bold_ring()
    # Its ends are far bolder than its sides, so they are kept filled, but the loop stays open.
    assert _enclosed_paper(glyph_from_image(ring).bitmap) > 0
    monkeypatch.setattr(glyph_module, "FILLED_WIDTH", np.inf)
    assert _enclosed_paper(glyph_from_image(ring).bitmap) > 50
    # The same picture read without the loop search: the threshold alone fills the loop.
    monkeypatch.setattr(glyph_module, "LOOP_DEPTH", np.inf)
    assert _enclosed_paper(glyph_from_image(ring).bitmap) == 0


def test_crisp_drawings_are_untouched_by_the_loop_search(monkeypatch):
    drawings = [as_rgb_float(digit_image(digit, width=width)) for digit in (0, 6, 8) for width in (3, 14)]
    with_search = [glyph_from_image(d).features for d in drawings]
    monkeypatch.setattr(glyph_module, "LOOP_DEPTH", np.inf)
    assert all(np.array_equal(a, glyph_from_image(d).features) for a, d in zip(with_search, drawings))


def test_one_colour_drawings_skip_the_loop_search_that_would_cut_nothing(monkeypatch):
    """The loop search is skipped only where it cannot cut: no masked pixel is LOOP_DEPTH lighter
    than the darkest ink. Grey ink (a blurred ring) is still searched."""
    searched = []
    real_loop_depth = glyph_module.loop_depth
    monkeypatch.setattr(glyph_module, "loop_depth", lambda *args: searched.append(1) or real_loop_depth(*args))
    for digit in (0, 6, 8):
        ink = ink_map(as_rgb_float(digit_image(digit, width=14)))
        peak = float(np.percentile(ink, 99.9))
        mask, _ = glyph_module._separate_digit(ink, peak)
        assert not (real_loop_depth(ink, mask)[mask] > glyph_module.LOOP_DEPTH * peak).any()
        assert np.array_equal(digit_mask(ink)[0], mask)
    assert not searched
    digit_mask(ink_map(_blurred_bold_ring()))
    assert searched


def test_peaks_touching_the_edge_mean_reconstruction_changes_nothing():
    """The shortcut taken before each grey reconstruction: it says every peak touches the edge
    exactly when the reconstruction from the edge would give the values back (the light
    correction), and every low exactly when filling from the edge would (the loop search)."""
    from skimage.morphology import reconstruction

    rng = np.random.default_rng(7)
    verdicts, lows = [], []
    for trial in range(300):
        shape = tuple(rng.integers(3, 24, 2))
        values = ndimage.gaussian_filter(rng.random(shape), rng.uniform(0, 3))
        values = np.round(values * rng.integers(2, 12)) / 4.0  # few levels: plateaus and ties
        seed = np.zeros_like(values)
        seed[0, :], seed[-1, :], seed[:, 0], seed[:, -1] = values[0, :], values[-1, :], values[:, 0], values[:, -1]
        unchanged = np.array_equal(reconstruction(seed, values, method="dilation"), values)
        assert glyph_module._peaks_touch_the_edge(values) == unchanged
        verdicts.append(unchanged)
        # The loop search's dual: basins filled from a zero border (erosion) change nothing exactly
        # when every low of the values touches the edge.
        basin = np.pad(values, 1)
        above = np.full_like(basin, basin.max())
        above[0, :] = above[-1, :] = above[:, 0] = above[:, -1] = 0.0
        filled = np.array_equal(reconstruction(above, basin, method="erosion"), basin)
        assert glyph_module._peaks_touch_the_edge(-basin) == filled
        lows.append(filled)
    assert 50 < sum(verdicts) < 250 and 50 < sum(lows) < 250  # both answers were put to the test


def test_block_minima_of_uneven_blocks():
    values = np.random.default_rng(4).random((11, 7))
    for factor in (1, 2, 3, 4):
        expected = [[values[r:r + factor, c:c + factor].min() for c in range(0, 7, factor)] for r in range(0, 11, factor)]
        assert np.array_equal(glyph_module._block_minima(values, factor), np.array(expected))


def _nine_with_a_solid_head() -> np.ndarray:
    """A 9 whose head is a solid disc of ink (a bold writer's small loop): (200, 200, 3) in [0, 1]."""
    image = Image.new("L", (200, 200), 255)
    draw = ImageDraw.Draw(image)
    draw.ellipse((70, 30, 130, 90), fill=0)
    draw.line([(127, 60), (120, 170)], fill=0, width=10)
    return as_rgb_float(image)


def _eight_with_a_solid_lower_loop() -> np.ndarray:
    """A bold 8 whose lower loop is filled in: (200, 200, 3) in [0, 1]."""
    image = Image.new("L", (200, 200), 255)
    draw = ImageDraw.Draw(image)
    draw.ellipse((75, 20, 125, 80), outline=0, width=10)
    draw.ellipse((65, 75, 135, 180), fill=0)
    return as_rgb_float(image)


def _largest_solid_square(bitmap: np.ndarray) -> int:
    """The side of the largest all-ink square in a bool bitmap."""
    side = 0
    while ndimage.binary_erosion(bitmap, np.ones((side + 1, side + 1)), border_value=0).any():
        side += 1
    return side


def test_a_solid_loop_is_kept_solid(monkeypatch):
    nine = _nine_with_a_solid_head()
    bitmap = glyph_from_image(nine).bitmap
    assert _largest_solid_square(bitmap) >= 8
    rows, _ = np.nonzero(ndimage.binary_erosion(bitmap, np.ones((8, 8))))
    assert rows.max() < 16  # the solid part is the head, in the upper half
    # With one pen for every stroke the head shrinks to a line: the 9 becomes a bare stroke.
    monkeypatch.setattr(glyph_module, "FILLED_WIDTH", np.inf)
    assert _largest_solid_square(glyph_from_image(nine).bitmap) <= 5


def test_a_solid_loop_filling_a_tight_crop_is_ink_not_shadow(bundled_model):
    """A scan cell cropped close to a bold 9: its solid head is wider than the light correction's
    window, yet it is ink inside the digit, not light coming in from the picture's edge."""
    nine = _nine_with_a_solid_head()[20:180, 55:145]
    assert ink_map(nine)[40, 45] > 0.9  # the middle of the head
    glyph = glyph_from_image(nine)
    assert _largest_solid_square(glyph.bitmap) >= 8
    assert int(bundled_model.probabilities(glyph.model_input[None]).argmax()) == 9


def test_light_falling_off_across_a_photo_is_removed(monkeypatch):
    plain = np.asarray(digit_image(3, width=4, ink=(90, 90, 90)).convert("L"), dtype=np.float64) / 255.0
    light = np.linspace(1.0, 0.45, plain.shape[1])[None, :]  # a shadow from the right-hand edge
    shaded = np.repeat((plain * light)[:, :, None], 3, axis=2)
    clean = glyph_from_image(np.repeat(plain[:, :, None], 3, axis=2)).bitmap
    assert _ink_disagreement(clean, glyph_from_image(shaded).bitmap) < 0.12
    monkeypatch.setattr(glyph_module, "paper_light", np.zeros_like)
    assert glyph_from_image(shaded).bitmap is None or _ink_disagreement(clean, glyph_from_image(shaded).bitmap) > 0.3


def test_digits_with_solid_loops_read_right(bundled_model):
    pictures = {9: _nine_with_a_solid_head(), 8: _eight_with_a_solid_lower_loop()}

    def read(picture):
        return int(bundled_model.probabilities(glyph_from_image(picture).model_input[None]).argmax())

    assert {digit: read(picture) for digit, picture in pictures.items()} == {9: 9, 8: 8}


def test_even_strokes_draw_the_same_with_or_without_filled_parts(monkeypatch):
    drawings = [as_rgb_float(digit_image(digit, width=width)) for digit in range(10) for width in (3, 14)]
    kept = [glyph_from_image(d).features for d in drawings]
    monkeypatch.setattr(glyph_module, "FILLED_WIDTH", np.inf)
    assert all(np.array_equal(a, glyph_from_image(d).features) for a, d in zip(kept, drawings))


def _ink_box(bitmap: np.ndarray) -> tuple[int, int]:
    """(height, width) of the ink's bounding box in a bitmap."""
    rows, cols = np.nonzero(bitmap)
    return int(np.ptp(rows)) + 1, int(np.ptp(cols)) + 1


def test_a_wide_digit_is_narrowed_and_a_narrow_one_kept():
    wide_zero = as_rgb_float(digit_image(0, box=(20, 60, 180, 140), width=6))  # twice as wide as tall
    height, width = _ink_box(glyph_from_image(wide_zero).bitmap)
    assert height == 32 and 0.7 <= width / height <= 0.85
    narrow_one = as_rgb_float(digit_image(1, box=(90, 20, 110, 180), width=6))
    height, width = _ink_box(glyph_from_image(narrow_one).bitmap)
    assert height == 32 and width / height < 0.5


def test_a_long_dash_is_not_stretched_into_a_block():
    page = Image.new("RGB", (200, 200), (255, 255, 255))
    ImageDraw.Draw(page).line([(40, 96), (160, 104)], fill=(0, 0, 0), width=3)
    height, width = _ink_box(glyph_from_image(as_rgb_float(page)).bitmap)
    assert width == 32 and height < 16
