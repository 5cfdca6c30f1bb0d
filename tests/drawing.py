"""Digits the tests draw themselves, with the same pen strokes as samples/make_samples.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"

_spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
make_samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_samples)


def digit_image(
    digit: int,
    *,
    size: int = 200,
    box: tuple[float, float, float, float] | None = None,
    width: int = 10,
    ink: tuple[int, ...] = (20, 20, 20),
    paper: tuple[int, ...] = (255, 255, 255),
    mode: str = "RGB",
    seed: int = 7,
) -> Image.Image:
    """A Pillow image of `digit` drawn with a round pen into `box` (default: the centre)."""
    image = Image.new(mode, (size, size), paper)
    if box is None:
        box = (size * 0.3, size * 0.12, size * 0.7, size * 0.88)
    make_samples.draw_digit(digit, image, box, width=width, ink=ink, rng=np.random.default_rng(seed))
    return image


def as_rgb_float(image: Image.Image) -> np.ndarray:
    """(H, W, 3) float in [0, 1] from an RGB Pillow image."""
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def number_image(
    text: str,
    *,
    height: int = 80,
    gap: float = 0.3,
    width: int = 6,
    ink: tuple[int, ...] = (20, 20, 20),
    paper: tuple[int, ...] = (255, 255, 255),
    margin: float = 0.4,
    seed: int = 3,
) -> tuple[Image.Image, list[tuple[float, float, float, float]]]:
    """A picture of the digits of `text` in a row (samples' pen strokes), `gap` of the digit
    height apart (negative: touching); returns it with each digit's drawn box (l, t, r, b)."""
    pad = int(margin * height)
    size = (int(2 * pad + len(text) * (0.55 + gap) * height), height + 2 * pad)
    image = Image.new("RGB", size, paper)
    boxes = make_samples.draw_number(text, image, (pad, pad), height=height, width=width, ink=ink,
                                     rng=np.random.default_rng(seed), gap=gap)
    return image, boxes
