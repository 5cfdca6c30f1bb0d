"""Draw the sample images in this folder: handwriting-like digits in the situations users meet.

Run `python samples/make_samples.py [FOLDER]` to redraw them (default: this folder). Each file
is named `<situation>-<digit>.<ext>` (or `blank-*` for pages without a digit), so a test can
check what `batchdigits scan samples` reads against the names. Deterministic: same files every run.
"""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Point = tuple[float, float]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 28) -> list[Point]:
    """Points on an ellipse from angle `start` to `end` degrees (y grows downwards)."""
    return [
        (cx + rx * math.cos(math.radians(t)), cy + ry * math.sin(math.radians(t)))
        for t in np.linspace(start, end, steps)
    ]


def _bezier(p0: Point, p1: Point, p2: Point, steps: int = 16) -> list[Point]:
    """Points on a quadratic Bezier curve."""
    return [
        ((1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * p1[0] + t**2 * p2[0],
         (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * p1[1] + t**2 * p2[1])
        for t in np.linspace(0, 1, steps)
    ]


# Pen strokes of each digit in a unit box (x right, y down), as a writer would draw them.
STROKES: dict[int, list[list[Point]]] = {
    0: [_arc(0.5, 0.5, 0.33, 0.46, -90, 275, 40)],
    1: [[(0.3, 0.22), (0.56, 0.04), (0.56, 0.96)]],
    2: [_arc(0.5, 0.31, 0.28, 0.26, 195, 380) + [(0.17, 0.95), (0.86, 0.95)]],
    3: [_arc(0.47, 0.27, 0.25, 0.22, 200, 450) + _arc(0.47, 0.72, 0.28, 0.24, 270, 515)],
    4: [[(0.66, 0.96), (0.66, 0.04), (0.12, 0.66), (0.9, 0.66)]],
    5: [[(0.8, 0.05), (0.3, 0.05), (0.26, 0.46)] + _arc(0.5, 0.67, 0.3, 0.28, 225, 510)],
    6: [_bezier((0.72, 0.05), (0.28, 0.12), (0.22, 0.68)) + _arc(0.5, 0.7, 0.28, 0.25, 180, 540)],
    7: [[(0.12, 0.06), (0.86, 0.06), (0.4, 0.96)]],
    8: [_arc(0.5, 0.27, 0.22, 0.21, 90, 450) + _arc(0.5, 0.72, 0.27, 0.24, -90, 270)],
    9: [_arc(0.5, 0.3, 0.26, 0.25, 0, 360) + [(0.76, 0.3), (0.7, 0.96)]],
}


def _hand(points: list[Point], rng: np.random.Generator, wobble: float) -> list[Point]:
    """The same stroke as a hand draws it: a smooth random wobble along its length."""
    count = len(points)
    offsets = np.cumsum(rng.normal(0, wobble, (count, 2)), axis=0)
    offsets -= np.linspace(0, 1, count)[:, None] * offsets[-1]  # keep the ends near their place
    return [(x + dx, y + dy) for (x, y), (dx, dy) in zip(points, offsets)]


def draw_digit(
    digit: int,
    canvas: Image.Image,
    box: tuple[float, float, float, float],
    *,
    width: int,
    ink: tuple[int, ...],
    rng: np.random.Generator,
    slant: float = 0.12,
) -> None:
    """Draw `digit` with a round pen of `width` pixels into `box` (left, top, right, bottom) of `canvas`."""
    left, top, right, bottom = box
    draw = ImageDraw.Draw(canvas)
    for stroke in STROKES[digit]:
        points = _hand(stroke, rng, 0.006)
        pixels = [
            (left + (x + slant * (1 - y)) / (1 + slant) * (right - left), top + y * (bottom - top))
            for x, y in points
        ]
        draw.line(pixels, fill=ink, width=width, joint="curve")
        radius = width / 2
        for x, y in (pixels[0], pixels[-1]):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=ink)


def draw_number(
    text: str,
    canvas: Image.Image,
    origin: tuple[float, float],
    *,
    height: float,
    width: int,
    ink: tuple[int, ...],
    rng: np.random.Generator,
    gap: float = 0.25,
    digit_width: float = 0.55,
) -> list[tuple[float, float, float, float]]:
    """Draw the digits of `text` left to right from `origin` (left, top) of `canvas`, each
    `height` tall and `digit_width` of it wide, `gap` of the height apart (negative: they touch
    or overlap); returns each digit's box (left, top, right, bottom)."""
    left, top = origin
    boxes = []
    for character in text:
        wobble = rng.uniform(-0.04, 0.04) * height  # a hand never keeps exactly to a line
        box = (left, top + wobble, left + digit_width * height, top + height + wobble)
        draw_digit(int(character), canvas, box, width=width, ink=ink, rng=rng)
        boxes.append(box)
        left += (digit_width + gap) * height
    return boxes


def draw_comb(canvas: Image.Image, origin: tuple[float, float], cells: int, cell: tuple[float, float], *,
              colour: tuple[int, ...], width: int = 2) -> None:
    """A printed comb box of a form: `cells` boxes of `cell` (width, height) side by side from `origin`."""
    left, top = origin
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((left, top, left + cells * cell[0], top + cell[1]), outline=colour, width=width)
    for index in range(1, cells):
        x = left + index * cell[0]
        draw.line([(x, top), (x, top + cell[1])], fill=colour, width=width)


def _paper(size: int, colour: tuple[int, int, int]) -> Image.Image:
    """A plain sheet of `colour`."""
    return Image.new("RGB", (size, size), colour)


def _noisy(image: Image.Image, rng: np.random.Generator, sigma: float, specks: float) -> Image.Image:
    """Scanner noise: Gaussian grain plus dark and light specks."""
    pixels = np.asarray(image, dtype=np.float64)
    pixels = pixels + rng.normal(0, sigma, pixels.shape[:2])[:, :, None]
    speck = rng.uniform(size=pixels.shape[:2])
    pixels[speck < specks / 2] = 40
    pixels[speck > 1 - specks / 2] = 255
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _uneven_light(image: Image.Image) -> Image.Image:
    """A shadow across a phone photo: brightness falls from one corner to the other."""
    pixels = np.asarray(image, dtype=np.float64)
    height, width = pixels.shape[:2]
    rows, cols = np.mgrid[0:height, 0:width]
    light = 1.0 - 0.55 * (rows / height + cols / width) / 2
    return Image.fromarray(np.clip(pixels * light[:, :, None], 0, 255).astype(np.uint8))


def _save(image: Image.Image, folder: Path, name: str, **options: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / name, **options)


def make_samples(root: Path) -> list[Path]:
    """Draw every sample under `root`; returns the files written."""
    rng = np.random.default_rng(2026)
    written_before = set(root.rglob("*"))
    black, white = (20, 20, 25), (255, 255, 255)

    # Thin mouse strokes on a Paint canvas.
    for digit in (3, 7, 2):
        image = _paper(400, white)
        draw_digit(digit, image, (110, 60, 290, 340), width=2, ink=black, rng=rng)
        _save(image, root / "paint", f"mouse-{digit}.png")
    # Thick marker.
    for digit in (4, 8):
        image = _paper(256, white)
        draw_digit(digit, image, (60, 30, 196, 226), width=20, ink=black, rng=rng)
        _save(image, root / "paint", f"marker-{digit}.png")
    # Pencil on noisy scanned paper, saved as JPEG.
    for digit in (5, 2):
        image = _paper(300, (232, 228, 220))
        draw_digit(digit, image, (90, 50, 210, 250), width=7, ink=(95, 95, 100), rng=rng)
        image = _noisy(image.filter(ImageFilter.GaussianBlur(0.8)), rng, sigma=9, specks=0.002)
        _save(image, root / "scans", f"scan-noisy-{digit}.jpg", quality=85)
    # A scanned form cell: the digit sits above a faint ruled line.
    image = _paper(240, (250, 250, 248))
    ImageDraw.Draw(image).line([(0, 222), (240, 222)], fill=(170, 185, 205), width=2)
    draw_digit(4, image, (70, 30, 170, 200), width=9, ink=black, rng=rng)
    _save(image, root / "scans", "scan-ruled-4.png")
    # Phone photos with a shadow across the page.
    for digit in (6, 9):
        image = _paper(480, (238, 236, 230))
        draw_digit(digit, image, (140, 90, 340, 390), width=14, ink=(30, 30, 40), rng=rng)
        image = _uneven_light(image.filter(ImageFilter.GaussianBlur(1.2)))
        _save(image, root / "photos", f"photo-shadow-{digit}.jpg", quality=88)
    # Chalk-like white ink on black.
    for digit in (0, 1):
        image = _paper(200, (15, 15, 15))
        draw_digit(digit, image, (55, 25, 145, 175), width=12, ink=(245, 245, 245), rng=rng)
        _save(image, root / "misc", f"white-on-black-{digit}.png")
    # Coloured ink on coloured paper.
    image = _paper(220, (250, 236, 120))
    draw_digit(2, image, (60, 30, 160, 190), width=10, ink=(25, 50, 190), rng=rng)
    _save(image, root / "misc", "blue-on-yellow-2.png")
    image = _paper(220, (210, 230, 250))
    draw_digit(8, image, (60, 30, 160, 190), width=10, ink=(200, 30, 30), rng=rng)
    _save(image, root / "misc", "red-on-blue-8.png")
    # Transparent backgrounds: clear white, and clear black (the RGB under alpha 0 is black).
    for digit, under in ((5, (255, 255, 255, 0)), (3, (0, 0, 0, 0))):
        image = Image.new("RGBA", (200, 200), under)
        draw_digit(digit, image, (55, 25, 145, 175), width=11, ink=(10, 10, 10, 255), rng=rng)
        name = "transparent-white" if under[0] else "transparent-black"
        _save(image, root / "misc", f"{name}-{digit}.png")
    # A small digit in the corner of a large canvas.
    image = _paper(700, white)
    draw_digit(7, image, (560, 520, 660, 670), width=6, ink=black, rng=rng)
    _save(image, root / "misc", "corner-7.png")
    # Other encodings: 16-bit grayscale, palette GIF, BMP, TIFF, WebP.
    image = _paper(160, white)
    draw_digit(6, image, (45, 20, 115, 140), width=9, ink=black, rng=rng)
    gray16 = (np.asarray(image.convert("L"), dtype=np.uint32) * 257).astype(np.uint16)
    _save(Image.fromarray(gray16), root / "formats", "sixteen-bit-6.png")
    image = _paper(160, white)
    draw_digit(9, image, (45, 20, 115, 140), width=9, ink=(40, 40, 120), rng=rng)
    _save(image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), root / "formats", "palette-9.gif")
    image = _paper(160, white)
    draw_digit(1, image, (45, 20, 115, 140), width=9, ink=black, rng=rng)
    _save(image, root / "formats", "bitmap-1.bmp")
    image = _paper(160, white)
    draw_digit(0, image, (45, 20, 115, 140), width=9, ink=black, rng=rng)
    _save(image.convert("L"), root / "formats", "scanner-0.tif", compression="tiff_lzw")
    image = _paper(160, white)
    draw_digit(4, image, (45, 20, 115, 140), width=9, ink=black, rng=rng)
    _save(image, root / "formats", "web-4.webp", lossless=True)
    # Pages with no digit.
    _save(_paper(300, white), root / "blank", "blank-page.png")
    _save(_noisy(_paper(300, (232, 228, 220)), rng, sigma=6, specks=0.0005), root / "blank", "blank-scan.jpg", quality=85)
    _make_numbers(root / "numbers", np.random.default_rng(90210))
    return sorted(set(root.rglob("*")) - written_before)


def _make_numbers(folder: Path, rng: np.random.Generator) -> None:
    """Numbers, as people scan them: a ZIP code, digits that touch, a boxed form field, and an
    amount written over a line on scanned paper. Named `<situation>-<text>.<ext>`."""
    black = (20, 20, 25)
    image = Image.new("RGB", (560, 160), (255, 255, 255))
    draw_number("90210", image, (30, 25), height=110, width=8, ink=black, rng=rng, gap=0.3)
    _save(image, folder, "zip-90210.png")
    image = Image.new("RGB", (330, 150), (255, 255, 255))
    draw_number("4711", image, (30, 25), height=100, width=7, ink=black, rng=rng, gap=-0.12)
    _save(image, folder, "touching-4711.png")
    image = Image.new("RGB", (520, 170), (252, 252, 250))
    draw_comb(image, (20, 20), 5, (96, 130), colour=(150, 170, 200))
    for index, character in enumerate("30417"):
        left = 20 + index * 96 + 20
        draw_number(character, image, (left, 35), height=100, width=7, ink=black, rng=rng)
    _save(image, folder, "comb-30417.png")
    image = Image.new("RGB", (480, 180), (232, 228, 220))
    draw_number("2718", image, (40, 25), height=120, width=9, ink=(60, 60, 70), rng=rng, gap=0.35)
    ImageDraw.Draw(image).line([(10, 158), (470, 158)], fill=(120, 120, 130), width=2)
    image = _noisy(image.filter(ImageFilter.GaussianBlur(0.8)), rng, sigma=7, specks=0.001)
    _save(image, folder, "underlined-2718.jpg", quality=88)


def main() -> None:
    """Command line: draw the samples into the given folder, or next to this script."""
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    make_samples(root)
    count = sum(1 for path in root.rglob("*") if path.is_file() and path.suffix != ".py")
    print(f"{count} sample images in {root}")


if __name__ == "__main__":
    main()
