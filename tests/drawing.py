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


def pdf_document(
    pictures: list[Image.Image],
    *,
    points_per_pixel: float = 0.5,
    catalog_extra: str = "",
    page_extra: str = "",
    page_size: tuple[float, float] | None = None,
    encrypted: bool = False,
) -> bytes:
    """A PDF written by hand: one page per picture (an uncompressed image filling the page), with
    optional extra catalog and page entries (JavaScript, links), a forced page size in points, or
    a Standard security handler whose password nobody knows."""
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    add(b"")  # 1: catalog, filled in below
    add(b"")  # 2: the page tree
    kids = []
    for picture in pictures:
        rgb = picture.convert("RGB")
        width, height = page_size or (rgb.width * points_per_pixel, rgb.height * points_per_pixel)
        data = rgb.tobytes()
        image = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                    b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (rgb.width, rgb.height, len(data))
                    + data + b"\nendstream")
        content = f"q {width:.2f} 0 0 {height:.2f} 0 0 cm /Im0 Do Q".encode()
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(add(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:.2f} {height:.2f}] "
                        f"/Resources << /XObject << /Im0 {image} 0 R >> >> /Contents {stream} 0 R {page_extra} >>".encode()))
    objects[0] = f"<< /Type /Catalog /Pages 2 0 R {catalog_extra} >>".encode()
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{kid} 0 R' for kid in kids)}] /Count {len(kids)} >>".encode()
    trailer_extra = ""
    if encrypted:
        key = add(b"<< /Filter /Standard /V 1 /R 2 /O <" + b"ab" * 32 + b"> /U <" + b"cd" * 32 + b"> /P -44 >>")
        trailer_extra = f" /Encrypt {key} 0 R /ID [<{'01' * 16}> <{'01' * 16}>]"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
