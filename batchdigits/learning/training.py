"""Training data: load_digits (plus a user's labelled images) redrawn through the canonical glyph."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.transform import AffineTransform, resize, warp

from batchdigits.recognition.glyph import MODEL_INPUT, glyph_from_image

SOURCE_SIDE = 96  # each 8x8 digit is enlarged to a 96x96 picture before augmenting
ASPECT_SPREAD = 0.4
SOURCE_GAMMA = 2.0  # darkest cells are the pen's path; this keeps loops of thick digits open
ROTATION = 15.0
SHEAR = 0.3
ELASTIC = 8.0
# Each synthetic drawing is used once more, bent up to this far: its strokes come from a few
# pen-stroke models, which need more bending than load_digits' real writers to cover other hands.
DISTORTED_ELASTIC = 16.0
ELASTIC_SMOOTHNESS = 8.0
FOOT_PROBABILITY = 0.4
SYNTHETIC_STREAM = 1  # keeps synthetic random streams apart from load_digits ones
SOURCE_PAD = 2  # cells of blank paper added around the 8x8 digit, so it never touches the edge


def picture_from_8x8(cells: np.ndarray) -> np.ndarray:
    """(8, 8) load_digits cells in [0, 16] -> (96, 96) float64 picture in [0, 1], dark ink on white."""
    ink = np.pad(np.asarray(cells, dtype=np.float64) / 16.0, SOURCE_PAD)
    enlarged = resize(ink, (SOURCE_SIDE, SOURCE_SIDE), order=3, mode="constant", anti_aliasing=False)
    return 1.0 - np.clip(enlarged, 0.0, 1.0) ** SOURCE_GAMMA


def add_foot(picture: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) picture, dark ink on white -> the same, a 1 sometimes given a printed foot.

    load_digits' 1s nearly all have a long flag and no foot, so a model trained on it alone
    reads a printed 1 (flag and foot) as a 2. The foot is drawn with about the digit's own pen.
    """
    if label != 1 or rng.random() >= FOOT_PROBABILITY:
        return picture
    ink = 1.0 - picture
    rows, cols = np.nonzero(ink > 0.5)
    if len(rows) == 0:
        return picture
    bottom = rows.max()
    height = bottom - rows.min() + 1
    pen = max(2, int(round(ink.sum() / height / 3)))  # about a third of the ink's width per row
    stem = cols[rows >= bottom - height // 8].mean()
    half = rng.uniform(0.18, 0.32) * height
    left, right = int(max(0, stem - half)), int(min(ink.shape[1], stem + half + 1))
    ink[bottom - pen + 1 : bottom + 1, left:right] = 1.0
    return 1.0 - ink


def augment(picture: np.ndarray, rng: np.random.Generator, elastic: float = ELASTIC) -> np.ndarray:
    """(H, W) picture in [0, 1], dark ink on white -> a new drawing of it (same shape and range).

    Rotation, shear, scale, elastic distortion (up to `elastic` pixels) and pen width change the
    way real writers do; the glyph removes slant and stroke width again, so these teach what
    survives that.
    """
    ink = 1.0 - picture
    height, width = ink.shape
    centre = np.array([width / 2.0, height / 2.0])
    transform = (
        AffineTransform(translation=-centre)
        + AffineTransform(
            rotation=np.deg2rad(rng.uniform(-ROTATION, ROTATION)),
            shear=rng.uniform(-SHEAR, SHEAR),
            scale=(rng.uniform(1 - ASPECT_SPREAD, 1 + ASPECT_SPREAD), rng.uniform(1 - ASPECT_SPREAD, 1 + ASPECT_SPREAD)),
        )
        + AffineTransform(translation=centre)
    )
    ink = warp(ink, transform.inverse, order=1, mode="constant", cval=0.0)
    ink = _elastic(ink, rng, strength=rng.uniform(0.0, elastic), smoothness=ELASTIC_SMOOTHNESS)
    pen = rng.integers(-1, 3)  # thinner, same, or thicker strokes
    if pen > 0:
        ink = ndimage.grey_dilation(ink, size=(2 * pen + 1, 2 * pen + 1))
    elif pen < 0:
        ink = ndimage.grey_erosion(ink, size=(3, 3))
    return 1.0 - np.clip(ink, 0.0, 1.0)


def _elastic(ink: np.ndarray, rng: np.random.Generator, strength: float, smoothness: float) -> np.ndarray:
    """Displace (H, W) pixels by a smooth random field of about `strength` pixels."""
    if strength <= 0:
        return ink
    shape = ink.shape
    fields = []
    for _ in range(2):
        field = ndimage.gaussian_filter(rng.uniform(-1, 1, shape), smoothness, mode="constant")
        peak = np.abs(field).max()
        fields.append(field / peak * strength if peak > 0 else field)
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return ndimage.map_coordinates(ink, [rows + fields[0], cols + fields[1]], order=1, mode="constant")


def glyph_features(pictures: list[np.ndarray]) -> np.ndarray:
    """Pictures (H, W) in [0, 1] -> (N, MODEL_INPUT) float64 model inputs (Glyph.model_input);
    a picture with no digit gives NaN."""
    rows = []
    for picture in pictures:
        model_input = glyph_from_image(picture).model_input
        rows.append(model_input if model_input is not None else np.full(MODEL_INPUT, np.nan))
    return np.array(rows).reshape(len(pictures), MODEL_INPUT)


def augmented_features(
    cells: np.ndarray, labels: np.ndarray, copies: int, seed: int, first_index: int = 0
) -> np.ndarray:
    """(N, 8, 8) load_digits cells and (N,) labels -> (N * (1 + copies), MODEL_INPUT) model inputs.

    Row i * (1 + copies) + k is copy k of digit i (k = 0 is the plain redraw); each digit has its
    own random stream derived from `seed` and its index in the whole set (`first_index` + i), so
    any chunking gives the same result.
    """
    rows = []
    for index, (digit, label) in enumerate(zip(cells, labels)):
        rng = np.random.default_rng([seed, first_index + index])
        source = picture_from_8x8(digit)
        variants = [source] + [augment(add_foot(source, int(label), rng), rng) for _ in range(copies)]
        rows.append(glyph_features(variants))
    return np.vstack(rows) if rows else np.empty((0, MODEL_INPUT))


def synthetic_features(
    digits: np.ndarray, seed: int, first_index: int = 0, elastic: float = ELASTIC
) -> np.ndarray:
    """(N,) digits -> (N, MODEL_INPUT) model inputs of new synthetic drawings of them, augmented.

    Drawing i uses its own random stream from `seed` and `first_index` + i, so any chunking
    gives the same result, and calls that differ only in `elastic` (the most elastic
    displacement, in pixels) give the same drawings, distorted more or less.
    """
    from batchdigits.learning.synthetic import synthetic_picture

    pictures = []
    for index, digit in enumerate(digits):
        rng = np.random.default_rng([seed, SYNTHETIC_STREAM, first_index + index])
        pictures.append(augment(synthetic_picture(int(digit), rng), rng, elastic))
    return glyph_features(pictures)
