"""Safe decoding: the same picture gives the same glyph in every encoding; bad files get a reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from batchdigits.files.decode import decode_image
from batchdigits.errors import DecodeError
from batchdigits.recognition.glyph import glyph_from_image
from drawing import digit_image
from hostile import STORE_FOR_ORIENTATION, encoded, png_claiming


def features_of(data: bytes) -> np.ndarray:
    return glyph_from_image(decode_image(data).rgb).features


PLAIN = digit_image(5, width=9)


def _rgba(background: tuple[int, int, int, int]) -> Image.Image:
    return digit_image(5, width=9, mode="RGBA", paper=background, ink=(20, 20, 20, 255))


def _palette_png_with_transparent_paper() -> bytes:
    image = PLAIN.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    return encoded(image, "PNG", transparency=image.getpixel((0, 0)))  # the paper's index


def _sixteen_bit() -> Image.Image:
    gray = np.asarray(PLAIN.convert("L"), dtype=np.uint32) * 257
    return Image.fromarray(gray.astype(np.uint16))


ENCODINGS = {
    "L png": lambda: encoded(PLAIN.convert("L"), "PNG"),
    "RGB png": lambda: encoded(PLAIN, "PNG"),
    "RGBA clear white": lambda: encoded(_rgba((255, 255, 255, 0)), "PNG"),
    "RGBA clear black": lambda: encoded(_rgba((0, 0, 0, 0)), "PNG"),
    "palette with tRNS": _palette_png_with_transparent_paper,
    "1-bit": lambda: encoded(PLAIN.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1"), "PNG"),
    "16-bit gray": lambda: encoded(_sixteen_bit(), "PNG"),
    "CMYK jpeg": lambda: encoded(PLAIN.convert("CMYK"), "JPEG", quality=95),
    "RGB jpeg": lambda: encoded(PLAIN, "JPEG", quality=90),
    "webp": lambda: encoded(PLAIN, "WEBP", lossless=True),
    "bmp": lambda: encoded(PLAIN, "BMP"),
    "tiff": lambda: encoded(PLAIN, "TIFF", compression="tiff_lzw"),
    "gif": lambda: encoded(PLAIN.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "GIF"),
}


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_every_encoding_gives_the_same_glyph(name):
    reference = features_of(encoded(PLAIN, "PNG"))
    assert np.abs(features_of(ENCODINGS[name]()) - reference).mean() < 0.5


def test_sixteen_bit_is_scaled_not_clipped():
    decoded = decode_image(ENCODINGS["16-bit gray"]())
    assert decoded.rgb.max() == pytest.approx(1.0)
    assert decoded.rgb.min() < 0.2  # the ink is still dark, not clipped to white


@pytest.mark.parametrize("orientation", sorted(STORE_FOR_ORIENTATION))
def test_exif_orientation_is_applied(orientation):
    stored = PLAIN.transpose(STORE_FOR_ORIENTATION[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encoded(stored, "JPEG", quality=95, exif=exif.tobytes())
    reference = features_of(encoded(PLAIN, "JPEG", quality=95))
    assert np.abs(features_of(data) - reference).mean() < 0.5


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
def test_first_frame_of_animations_and_multipage_files(fmt):
    first, second = digit_image(3, width=9), digit_image(8, width=9)
    data = encoded(first, fmt, save_all=True, append_images=[second])
    assert np.abs(features_of(data) - features_of(encoded(first, "PNG"))).mean() < 0.5


@pytest.mark.parametrize(
    "data, reason",
    [
        (png_claiming(50000, 50000), "too large"),
        (png_claiming(9000, 9000), "too large"),
        (encoded(PLAIN, "PNG")[:700], "corrupt or truncated"),
        (encoded(PLAIN, "JPEG")[:400], "corrupt or truncated"),
        (b"<html><body>not an image</body></html>", "not an image"),
        (b"%PDF-1.7\n", "not an image"),
    ],
    ids=["bomb-50000", "over-cap-9000", "truncated-png", "truncated-jpeg", "html", "pdf"],
)
def test_bad_files_raise_decode_error_with_reason(data, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_image(data)


def test_thumbnail_is_small_png_with_aspect_kept():
    landscape = Image.new("RGB", (400, 300), (255, 255, 255))
    thumbnail = Image.open(io.BytesIO(decode_image(encoded(landscape, "PNG")).thumbnail))
    assert thumbnail.format == "PNG"
    assert thumbnail.size == (96, 72)


def test_a_line_of_digits_keeps_a_legible_thumbnail_and_its_working_size():
    line = Image.new("RGB", (1600, 200), (255, 255, 255))  # eight digits of 200 px
    decoded = decode_image(encoded(line, "PNG"))
    assert Image.open(io.BytesIO(decoded.thumbnail)).size == (384, 48)
    assert decoded.rgb.shape[:2] == (200, 1600)  # each digit keeps the pixels a lone digit gets
    assert decoded.upright_size == (1600, 200)
    square = decode_image(encoded(Image.new("RGB", (1024, 1024), (255, 255, 255)), "PNG"))
    assert square.rgb.shape[:2] == (256, 256)  # a lone digit's working size is as it always was


def test_a_noisy_photo_gets_a_small_jpeg_thumbnail_and_a_drawing_a_gray_png():
    rng = np.random.default_rng(2)
    photo = Image.fromarray(rng.integers(0, 256, (600, 800, 3), dtype=np.uint8))
    thumbnail = decode_image(encoded(photo, "PNG")).thumbnail
    assert thumbnail.startswith(b"\xff\xd8") and len(thumbnail) < 8000
    drawing = Image.open(io.BytesIO(decode_image(encoded(PLAIN, "PNG")).thumbnail))
    assert drawing.format == "PNG" and drawing.mode == "L"
