"""Safe decoding of an image file into an RGB float array, plus a small thumbnail."""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from batchdigits.errors import DecodeError

# Only decoders we trust and need; Pillow will not even try the others (EPS, PSD, ...).
ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
# A cap far above any scan (an A4 page at 600 dpi is ~35 Mpx) but far below a bomb.
MAX_PIXELS = 64_000_000
# Work is done at this long side at most: enough for thin strokes, cheap for 3000 px scans.
WORKING_SIDE = 256
# A picture this many times wider than high (or higher than wide) holds a line of digits: it is
# worked at this short side instead, so each digit keeps about the pixels a lone digit gets,
# within a budget of pixels (a 200-digit line of 64 px digits is 0.8 Mpx).
ELONGATED = 2.0
WORKING_PIXELS = 1 << 20
THUMBNAIL_SIDE = 96
THUMBNAIL_LINE_WIDTH = 4 * THUMBNAIL_SIDE  # a line of digits' thumbnail may be this wide
EXIF_ORIENTATION = 0x0112
# What a viewer does to show a picture stored under each EXIF orientation upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
THUMBNAIL_PNG_BUDGET = 3000  # bytes
CROP_LEVEL = 48  # grey levels below the paper that count as ink when a page is cut to its ink
CROP_MARGIN = 0.15  # paper kept around a page's ink, as a part of its bounding box's longer side


@dataclass(frozen=True)
class DecodedImage:
    """A decoded picture: `rgb` is (H, W, 3) float32 in [0, 1], upright and perhaps shrunk;
    `thumbnail` is PNG or JPEG bytes; `original_size` is the file's (width, height) as stored and
    `upright_size` as a viewer shows it (EXIF orientations 5 to 8 swap the two)."""

    rgb: np.ndarray
    thumbnail: bytes
    original_size: tuple[int, int]
    upright_size: tuple[int, int] | None = None


def working_factor(width: int, height: int) -> int:
    """The integer factor (>= 1) by which a width x height picture is shrunk for the work."""
    long_side, short_side = max(width, height), max(1, min(width, height))
    if long_side < ELONGATED * short_side:
        return max(1, -(-long_side // WORKING_SIDE))
    budget = math.ceil(math.sqrt(width * height / WORKING_PIXELS))
    return max(1, -(-short_side // WORKING_SIDE), budget)


def decode_image(source: Path | bytes, frame: int | None = None) -> DecodedImage:
    """Decode a file (or bytes) safely: upright, transparency on white, 16-bit scaled. The first
    frame, or frame `frame` (0-based) of a multi-page file, a page cut to its ink (crop_to_ink)."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    # Warning filters are per process and do not reach joblib workers, so set them on every call.
    with warnings.catch_warnings():
        # Decoder chatter about odd metadata is not the user's problem (and cron mails stderr).
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(stream, formats=ALLOWED_FORMATS) as image:
                original_size = image.size
                if image.width * image.height > MAX_PIXELS:
                    raise DecodeError(
                        f"too large: {image.width}x{image.height} pixels (limit {MAX_PIXELS:,})"
                    )
                image.seek(frame or 0)
                if frame is not None:
                    if image.width * image.height > MAX_PIXELS:  # each frame has its own size
                        raise DecodeError(f"page {frame + 1} too large: {image.width}x{image.height} pixels "
                                          f"(limit {MAX_PIXELS:,})")
                    image = _page(image)
                    original_size = image.size
                if image.format == "JPEG":
                    # Let libjpeg decode at a reduced scale instead of decoding and shrinking.
                    factor = working_factor(*image.size)
                    if max(image.size) < ELONGATED * min(image.size):
                        image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
                    else:
                        image.draft("RGB", (image.width // factor, image.height // factor))
                image.load()
                orientation = image.getexif().get(EXIF_ORIENTATION, 1)
                small = _shrink(image)  # shrink first: turning a small picture upright is cheaper
                upright = small.transpose(UPRIGHT[orientation]) if orientation in UPRIGHT else small
                rgb = _to_rgb_float(upright)
        except DecodeError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DecodeError("too large: the image declares more pixels than allowed") from None
        except UnidentifiedImageError:
            raise DecodeError("not an image in a supported format (PNG, JPEG, BMP, GIF, TIFF, WebP)") from None
        except (FileNotFoundError, PermissionError):
            raise  # not the image's fault: the caller retries on a later run
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError, TypeError, IndexError) as exc:
            raise DecodeError(f"corrupt or truncated image ({_short(exc)})") from None
    upright_size = original_size[::-1] if orientation in (5, 6, 7, 8) else original_size
    return DecodedImage(rgb=rgb, thumbnail=_thumbnail(rgb), original_size=original_size,
                        upright_size=upright_size)


def decode_picture(image: Image.Image) -> DecodedImage:
    """A picture made in memory (a rendered PDF page, RGB) as decode_image gives a file's."""
    rgb = _to_rgb_float(_shrink(image))
    return DecodedImage(rgb=rgb, thumbnail=_thumbnail(rgb), original_size=image.size, upright_size=image.size)


def crop_to_ink(image: Image.Image) -> Image.Image:
    """An RGB page cut to the bounding box of its ink (darker than the paper by CROP_LEVEL) with
    a margin of paper; a page without ink is returned whole (it reads as no digit)."""
    gray = image.convert("L")
    factor = max(1, max(gray.size) // 1024)  # the box is found on a small copy: a page is mostly paper
    small = np.asarray(gray.reduce(factor) if factor > 1 else gray, dtype=np.int16)
    border = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
    inked = small < np.median(border) - CROP_LEVEL
    if inked.sum() < 4:
        return image
    rows, cols = np.nonzero(inked.any(axis=1))[0], np.nonzero(inked.any(axis=0))[0]
    top, bottom = int(rows[0]) * factor, (int(rows[-1]) + 1) * factor
    left, right = int(cols[0]) * factor, (int(cols[-1]) + 1) * factor
    margin = int(CROP_MARGIN * max(bottom - top, right - left)) + 2
    return image.crop((max(0, left - margin), max(0, top - margin), min(image.width, right + margin),
                       min(image.height, bottom + margin)))


def _page(image: Image.Image) -> Image.Image:
    """A frame of a multi-page file, loaded, as an RGB page cut to its ink (high-bit-depth frames,
    whose grey levels RGB would clip, are kept whole)."""
    image.load()
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        return image.copy()
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return crop_to_ink(Image.fromarray((_to_rgb_float(image) * 255 + 0.5).astype(np.uint8), "RGB")
                       if has_alpha else image.convert("RGB"))


def _short(exc: BaseException) -> str:
    """One short line describing an exception from a decoder."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _shrink(image: Image.Image) -> Image.Image:
    """Reduce by an integer factor (box average) to the working size (working_factor)."""
    factor = working_factor(*image.size)
    if factor <= 1:
        return image
    if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F", "I;16", "I;16B", "I;16L"):
        image = image.convert("RGBA")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    return image.reduce(factor)


def _to_rgb_float(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to (H, W, 3) float32 in [0, 1]; alpha composited onto white."""
    mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        gray = values / _full_scale(mode, values)
        return np.repeat(np.clip(gray, 0.0, 1.0)[:, :, None], 3, axis=2).astype(np.float32)
    if mode == "1":
        image = image.convert("L")
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if has_alpha:
        return _composite(image.convert("RGBA"))
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def _full_scale(mode: str, values: np.ndarray) -> float:
    """The value that means white for a high-bit-depth mode (scale, never clip, 16-bit scans)."""
    if mode.startswith("I;16"):
        return 65535.0
    peak = float(values.max()) if values.size else 1.0
    if mode == "F":
        return max(peak, 1.0)
    if peak <= 255:
        return 255.0
    if peak <= 65535:
        return 65535.0
    return max(peak, 1.0)


def _composite(rgba: Image.Image) -> np.ndarray:
    """An RGBA picture on white, or on black if that is what shows the ink -> (H, W, 3) float32 in [0, 1]."""
    on_white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    on_white.alpha_composite(rgba)
    on_black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    on_black.alpha_composite(rgba)
    # White ink on a clear background vanishes on white; keep whichever shows more contrast.
    if _spread(on_black, slice(0, 3)) > _spread(on_white, slice(0, 3)) + 64:
        chosen = on_black
    else:
        chosen = on_white
    return np.asarray(chosen.convert("RGB"), dtype=np.float32) / 255.0


def _spread(image: Image.Image, bands: slice) -> int:
    """The widest range (0..255) of values over the picture's `bands` (e.g. RGB of RGBA, CbCr of YCbCr)."""
    return max(high - low for low, high in image.getextrema()[bands])


def _thumbnail(rgb: np.ndarray) -> bytes:
    """A small image (long side THUMBNAIL_SIDE at most, aspect kept) re-encoded from decoded pixels.

    PNG keeps drawings crisp and small; a photo's PNG is large, so past THUMBNAIL_PNG_BUDGET bytes
    the smaller of PNG and JPEG is kept (the report stays near 3 KB per image).
    """
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")
    wide = image.width >= ELONGATED * image.height  # a line of digits: each digit stays legible
    image.thumbnail((THUMBNAIL_LINE_WIDTH if wide else THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
    if _spread(image.convert("YCbCr"), slice(1, 3)) <= 6:
        image = image.convert("L")  # no colour to speak of: one channel is a third of the bytes
    # Zlib's fastest level first: a noisy photo's PNG takes 4 times longer at the default level
    # (3 ms against 0.05 for its JPEG) only to lose to the JPEG anyway.
    quick_png = _encoded(image, "PNG", compress_level=1)
    if len(quick_png) <= THUMBNAIL_PNG_BUDGET:
        return _encoded(image, "PNG")  # within budget: the default level is about a fifth smaller
    return min(quick_png, _encoded(image, "JPEG", quality=80), key=len)


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    """A picture's bytes in an image format."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()
