"""Synthetic handwriting: digits drawn from pen-stroke models of common writing styles.

load_digits holds the handwriting of a few writers, and some everyday styles are missing from it
(a plain 7 or one with a tick, a printed 1 with a foot, an open 4, a 2 with a loop at its foot or
drawn like a Z, the curly 2 whose foot is a large loop, a 4 like a Y, a 5 whose tail curls back
up, a 6 with a small loop low on the right, a 9 with a straight stem). Each style here is a few
strokes in a unit box (x right, y down); every drawing moves the control points at random, so no
two are alike, and the training pipeline then augments and passes them through the canonical
glyph.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

Stroke = list[tuple[float, float]]
SIDE = 96
SHAKE = 0.03  # each stroke lands this far (of the height) from where its style puts it: pens lift
WIDTH_RANGE = (0.3, 1.15)  # a drawing's width relative to its height
WIDEST = {1: 0.7}  # except that a wider 1's flag is a 7's bar


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Points on an ellipse from `start` to `end` degrees (0 = right, 90 = down)."""
    steps = max(6, int(abs(end - start) / 10))
    return [
        (cx + rx * math.cos(math.radians(t)), cy + ry * math.sin(math.radians(t)))
        for t in np.linspace(start, end, steps)
    ]


def _curve(*points: tuple[float, float]) -> Stroke:
    """A smooth curve through 3 control points (quadratic Bezier)."""
    (x0, y0), (x1, y1), (x2, y2) = points
    return [
        ((1 - t) ** 2 * x0 + 2 * (1 - t) * t * x1 + t * t * x2, (1 - t) ** 2 * y0 + 2 * (1 - t) * t * y1 + t * t * y2)
        for t in np.linspace(0, 1, 12)
    ]


def _styles(digit: int, r: np.random.Generator) -> list[list[Stroke]]:
    """Every style of `digit`, with this drawing's random proportions.

    Only that digit's styles draw random numbers, so a style added to one digit leaves every
    other digit's drawings as they were.
    """
    u = r.uniform
    mid = u(0.42, 0.58)  # where the upper and lower parts of 3, 5, 8 meet
    styles = {
        0: lambda: [
            [_arc(0.5, 0.5, u(0.3, 0.45), 0.46, s := u(-120, -60), s + u(350, 380))],
            [_arc(0.5, 0.5, u(0.25, 0.4), 0.46, s := u(-100, -80), s + u(330, 360)) + [(0.55 + u(-0.05, 0.1), 0.06)]],
        ],
        1: lambda: [
            [[(0.5 + u(-0.05, 0.05), 0.04), (0.5 + u(-0.05, 0.05), 0.96)]],
            [[(0.5 - u(0.15, 0.3), u(0.15, 0.3)), (0.55, 0.04), (0.55 + u(-0.05, 0.05), 0.96)]],
            [[(0.5 - u(0.15, 0.3), u(0.15, 0.3)), (0.55, 0.04), (0.55, 0.96)], [(0.55 - (f := u(0.15, 0.3)), 0.96), (0.55 + f, 0.96)]],
        ],
        2: lambda: [
            [_arc(0.5, 0.3, u(0.25, 0.35), u(0.2, 0.28), u(170, 200), u(360, 400)) + [(u(0.1, 0.25), 0.95), (u(0.75, 0.95), 0.95 + u(-0.05, 0.03))]],
            [_arc(0.5, 0.3, 0.3, 0.25, u(170, 200), u(360, 400)) + [(0.3, 0.8)]
             + _arc(0.28, 0.86, (loop := u(0.06, 0.18)), loop * 0.8, -60, 200) + [(u(0.75, 0.95), 0.93)]],
            [_arc(0.5, 0.3, 0.3, 0.25, u(180, 200), 360) + _curve((0.8, 0.3), (0.7, 0.7), (0.15, 0.95)) + [(0.85, 0.95)]],
            [_arc(0.5, 0.28, u(0.25, 0.33), 0.24, u(180, 210), 360) + _curve((0.8, 0.28), (0.8, 0.6), (0.5, 0.66))
             + _arc(0.45, 0.8, u(0.2, 0.3), (ry := u(0.1, 0.16)), -90, -450) + [(u(0.75, 0.95), 0.8 + ry + u(-0.05, 0.05))]],
            [[(u(0.1, 0.2), 0.06), (u(0.8, 0.9), 0.06), (u(0.1, 0.2), 0.94), (u(0.8, 0.95), 0.94)]],
            # the curly 2 of everyday writing: its foot is a loop on the left, as large as a third of the digit
            [_arc(0.55, 0.27, u(0.22, 0.32), u(0.18, 0.26), u(180, 215), u(350, 390))
             + _arc(u(0.22, 0.4), (ly := u(0.62, 0.78)), u(0.14, 0.34), (lry := u(0.12, 0.26)), u(-20, 20), u(380, 430))
             + [(u(0.75, 0.95), min(0.97, ly + lry + u(-0.05, 0.05)))]],
        ],
        3: lambda: [
            [_arc(0.47, mid / 2 + 0.02, u(0.22, 0.3), mid / 2, u(190, 220), 450) + _arc(0.47, (1 + mid) / 2, u(0.25, 0.33), (1 - mid) / 2, 270, u(490, 520))],
            [[(0.15, 0.05), (0.8, 0.05), (0.4, mid)] + _arc(0.47, (1 + mid) / 2, 0.3, (1 - mid) / 2, 260, u(490, 520))],
        ],
        4: lambda: [
            [[(0.55 + u(-0.1, 0.05), 0.04), (0.12, 0.66), (0.9, 0.66)], [(0.68, 0.3 + u(-0.1, 0.1)), (0.68, 0.96)]],
            [[(0.7, 0.96), (0.7, 0.04), (0.12, 0.66), (0.9, 0.66)]],
            [[(0.25, 0.04), (0.15, 0.58), (0.85, 0.58)], [(0.7, 0.04), (0.7, 0.96)]],
            # the left stroke bends into the stem without crossing it, as a Y or a quick ч
            [_curve((u(0.1, 0.3), 0.04), (u(0.1, 0.3), u(0.5, 0.7)), ((sx := u(0.65, 0.8)), (sy := u(0.5, 0.65)))),
             [(sx + u(-0.05, 0.1), 0.04), (sx, sy), (sx + u(-0.1, 0.05), 0.96)]],
        ],
        5: lambda: [
            [[(0.8, 0.05), (0.3, 0.05), (0.26, mid - 0.05)] + _arc(0.5, (1 + mid) / 2 + 0.02, 0.3, (1 - mid) / 2, 225, u(480, 520))],
            [[(0.3, 0.05), (0.26, mid - 0.05)] + _arc(0.5, (1 + mid) / 2 + 0.02, 0.3, (1 - mid) / 2, 225, u(480, 520)), [(0.3, 0.05), (0.82, 0.05 + u(-0.03, 0.03))]],
            [_curve((0.85, 0.06), (0.3, u(-0.05, 0.1)), (0.28, mid - 0.05)) + _arc(0.5, (1 + mid) / 2 + 0.02, u(0.26, 0.34), (1 - mid) / 2, 215, u(480, 530))],
            # a short, tilted bar and a bowl whose tail curls back up towards the stem
            [[(u(0.6, 0.9), u(0.02, 0.12)), (u(0.3, 0.4), 0.05), (u(0.22, 0.32), mid - 0.05)]
             + _arc(0.5, (1 + mid) / 2 + 0.02, u(0.25, 0.35), (1 - mid) / 2, 215, u(500, 540))],
        ],
        6: lambda: [
            [_curve((u(0.55, 0.85), 0.04), (u(0.15, 0.4), u(0.1, 0.35)), (0.5 - (rx := u(0.12, 0.32)), 1 - (ry := u(0.1, 0.28)) - 0.02))
             + _arc(0.5, 1 - ry - 0.02, rx, ry, 180, 540)],
            [_curve((u(0.6, 0.9), 0.04), (u(0.0, 0.3), u(0.3, 0.6)), (0.3, 0.96)) + _arc(0.48, 1 - (ry := u(0.1, 0.2)) - 0.04, u(0.15, 0.25), ry, 120, 470)],
            [[(u(0.5, 0.8), 0.04), (0.5 - (rx := u(0.18, 0.3)), 1 - (ry := u(0.15, 0.26)) - 0.02)] + _arc(0.5, 1 - ry - 0.02, rx, ry, 180, 540)],
            # a small loop low on the right, closed on the way round (a loop drawn anticlockwise)
            [_curve((u(0.45, 0.85), 0.04), (u(-0.05, 0.2), u(0.25, 0.6)), ((cx := u(0.5, 0.72)) - (rx := u(0.14, 0.3)), (cy := 1 - (ry := u(0.1, 0.2)) - 0.03)))
             + _arc(cx, cy, rx, ry, 180, u(-200, -140))],
        ],
        7: lambda: [
            [[(0.12, 0.06), (0.88, 0.06), (0.4 + u(-0.15, 0.15), 0.96)]],
            [[(0.12, 0.06 + u(0.0, 0.1)), (0.88, 0.06), (0.45, 0.96)], [(0.4, 0.5), (0.85, 0.5)]],
            [[(0.12, 0.06), (0.88, 0.06)] + _curve((0.88, 0.06), (0.5, 0.45), (0.45, 0.96))],
            [[(0.12, u(0.2, 0.3)), (0.12, 0.06), (0.88, 0.06), (0.5 + u(-0.1, 0.1), 0.96)]],
        ],
        8: lambda: [
            [_arc(0.5, mid / 2 + 0.02, u(0.18, 0.26), mid / 2, 90, 450) + _arc(0.5, (1 + mid) / 2, u(0.24, 0.32), (1 - mid) / 2, -90, 270)],
            [_curve((0.75, 0.15), (0.5, -0.05), (0.25, 0.2)) + _curve((0.25, 0.2), (0.3, 0.45), (0.7, 0.7)) + _arc(0.5, 0.75, 0.22, 0.2, 0, 180) + _curve((0.28, 0.75), (0.5, 0.45), (0.75, 0.15))],
        ],
        9: lambda: [
            [_arc(0.5, (ry := u(0.15, 0.28)) + 0.04, rx := u(0.18, 0.32), ry, 0, 360) + [(0.5 + rx, ry + 0.04), (0.5 + rx + u(-0.15, 0.05), 0.96)]],
            [_arc(0.5, (ry := u(0.15, 0.28)) + 0.04, 0.28, ry, 0, 360) + _curve((0.78, ry), (0.78, 0.9), (u(0.2, 0.5), 0.92))],
            [_arc(0.45, (ry := u(0.17, 0.27)) + 0.04, (rx := u(0.22, 0.32)), ry, -30, 330) + [(0.45 + rx * 0.87, 0.04 + ry * 0.5), (0.45 + rx - u(0.0, 0.25), 0.96)]],
        ],
    }
    return styles[digit]()


def style_count(digit: int) -> int:
    """How many pen-stroke styles `digit` has."""
    return len(_styles(digit, np.random.default_rng(0)))


def synthetic_picture(digit: int, rng: np.random.Generator, style: int | None = None) -> np.ndarray:
    """A new random drawing of `digit`: (96, 96) float64 in [0, 1], dark ink on white.

    The style is random, or `style` (0 .. style_count(digit) - 1); either way the same random
    numbers are drawn, so the drawing's other proportions do not depend on the choice.
    """
    styles = _styles(digit, rng)
    chosen = rng.integers(len(styles))
    strokes = styles[chosen if style is None else style]
    width = rng.uniform(WIDTH_RANGE[0], WIDEST.get(digit, WIDTH_RANGE[1]))
    wobble = rng.uniform(0.0, 0.02)
    image = Image.new("L", (SIDE, SIDE), 255)
    draw = ImageDraw.Draw(image)
    pen = int(rng.integers(3, 10))
    height = SIDE * 0.7
    left = (SIDE - width * height) / 2
    top = (SIDE - height) / 2
    for stroke in strokes:
        jitter = rng.normal(0.0, wobble, (len(stroke), 2)).cumsum(axis=0) / max(1, len(stroke)) ** 0.5
        jitter = jitter + rng.normal(0.0, SHAKE, 2)
        points = [
            (left + (x + dx) * width * height, top + (y + dy) * height)
            for (x, y), (dx, dy) in zip(stroke, jitter)
        ]
        draw.line(points, fill=0, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=0)
    return np.asarray(image, dtype=np.float64) / 255.0
