"""A hostile input folder, drawn by the tests: every row of reliability.md's table, with what users expect.

`build_hostile_corpus(root)` writes the folder and returns an `Expected` per file that must appear in
the results (keyed by the path results.json shows); everything else in the folder must be ignored.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from drawing import digit_image

# To store an upright picture under EXIF orientation N, apply the inverse of what a viewer does.
STORE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

HOSTILE_NAMES = [
    "<svg onload=alert(1)>.png",
    '"><img src=x onerror=alert(1)>.png',
    "a'b.png",
    "ünïcödé-数字.png",
    "name with spaces.png",
    "new\nline.png",
    "=cmd.png",
    "+sum.png",
    "-minus.png",
    "@at.png",
]
JUNK_NAMES = [".DS_Store", "Thumbs.db", "desktop.ini", "._x.png", "upload.png.part", ".hidden.png", "notes.txt"]
PADDING = 24  # ordinary drawings, so that a run with --jobs 2 really uses worker processes


@dataclass(frozen=True)
class Expected:
    """What results.json must say about one file: a status, and the digit or a reason fragment."""

    status: str
    digit: int | None = None
    reason: str | None = None


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    """The bytes of `image` saved in `fmt`."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header claims width x height pixels but holds almost no data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def gif_with_huge_screen() -> bytes:
    """A GIF whose logical screen is 65535x65535 around a 1x1 frame."""
    small = encoded(Image.new("P", (1, 1)), "GIF")
    return small[:6] + struct.pack("<HH", 65535, 65535) + small[10:]


def png_with_corrupt_data(image: Image.Image) -> bytes:
    """A PNG with correct chunk CRCs but garbage where the compressed pixels should be."""
    data = encoded(image, "PNG")
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    garbage = bytes(np.random.default_rng(3).integers(0, 256, length, dtype=np.uint8))
    return data[: start - 8] + _chunk(b"IDAT", garbage) + data[start + length + 4 :]


def _with_noise(image: Image.Image, fraction: float, seed: int) -> Image.Image:
    pixels = np.asarray(image.convert("L")).copy()
    rng = np.random.default_rng(seed)
    hit = rng.random(pixels.shape) < fraction
    pixels[hit] = rng.choice([0, 255], size=int(hit.sum()))
    return Image.fromarray(pixels)


def _with_ruled_line(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image.convert("RGB")).copy()
    for row in (60, 140):
        pixels[row : row + 2, :] = (170, 190, 230)  # a faint blue ruled line across the page
    return Image.fromarray(pixels)


def _sixteen_bit(image: Image.Image) -> Image.Image:
    return Image.fromarray((np.asarray(image.convert("L"), dtype=np.uint32) * 257).astype(np.uint16))


def _on_exif(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encoded(image.transpose(STORE_FOR_ORIENTATION[orientation]), "JPEG", quality=92, exif=exif.tobytes())


def _valid_images() -> dict[str, tuple[int, bytes]]:
    """Every encoding and condition that must still read as its digit: name -> (digit, bytes)."""
    plain = {digit: digit_image(digit, width=9) for digit in range(10)}
    palette = plain[6].convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    corner = Image.new("RGB", (1200, 1200), (255, 255, 255))
    corner.paste(digit_image(6, size=240, width=12), (940, 940))
    tiny = digit_image(0, size=160, width=14).convert("L").resize((16, 16), Image.Resampling.BOX)
    return {
        "plain.png": (7, encoded(plain[7], "PNG")),
        "animated.gif": (3, encoded(digit_image(3, width=9).convert("P"), "GIF", save_all=True,
                                    append_images=[digit_image(8, width=9).convert("P")], duration=100, loop=0)),
        "multipage.tiff": (4, encoded(plain[4], "TIFF", save_all=True, append_images=[plain[1]])),
        "scan-16bit.png": (2, encoded(_sixteen_bit(plain[2]), "PNG")),
        "cmyk.jpg": (5, encoded(plain[5].convert("CMYK"), "JPEG", quality=95)),
        "palette-transparent.png": (6, encoded(palette, "PNG", transparency=palette.getpixel((0, 0)))),
        "rgba-clear-black.png": (9, encoded(digit_image(9, width=9, mode="RGBA", paper=(0, 0, 0, 0),
                                                        ink=(20, 20, 20, 255)), "PNG")),
        "photo-orientation-6.jpg": (7, _on_exif(plain[7], 6)),
        "photo-orientation-8.jpg": (2, _on_exif(plain[2], 8)),
        "white-on-black.png": (4, encoded(digit_image(4, width=9, ink=(250, 250, 250), paper=(0, 0, 0)), "PNG")),
        "blue-on-yellow.png": (3, encoded(digit_image(3, width=9, ink=(30, 40, 200), paper=(250, 235, 120)), "PNG")),
        "faint-ruled-line.png": (5, encoded(_with_ruled_line(plain[5]), "PNG")),
        "salt-and-pepper.png": (2, encoded(_with_noise(plain[2], 0.04, seed=5), "PNG")),
        "corner-of-a-large-canvas.png": (6, encoded(corner, "PNG")),
        "scan-3000px.png": (8, encoded(digit_image(8, size=3000, width=120), "PNG")),
        "tiny-16px.png": (0, encoded(tiny, "PNG")),
        "drawing.webp": (1, encoded(plain[1], "WEBP", lossless=True)),
        "drawing.bmp": (8, encoded(plain[8], "BMP")),
    }


def _broken_files() -> dict[str, tuple[str, bytes]]:
    """Files that must fail with a reason: name -> (reason fragment, bytes)."""
    plain = encoded(digit_image(7, width=9), "PNG")
    jpeg = encoded(digit_image(7, width=9), "JPEG", quality=90)
    return {
        "zero-bytes.png": ("empty", b""),
        "text-saved-as.png": ("not an image", b"just some notes, not a picture\n"),
        "html-saved-as.png": ("not an image", b"<html><script>alert(1)</script></html>"),
        # Read as what it is, whatever its name says: a PDF (a broken one).
        "pdf-renamed.jpg": ("damaged or truncated PDF", b"%PDF-1.7\n1 0 obj << >> endobj\n"),
        "truncated.png": ("corrupt or truncated", plain[: len(plain) // 2]),
        "truncated.jpg": ("corrupt or truncated", jpeg[: len(jpeg) // 2]),
        "corrupt-data.png": ("corrupt or truncated", png_with_corrupt_data(digit_image(7, width=9))),
        "claims-50000x50000.png": ("too large", png_claiming(50000, 50000)),
        "gif-huge-screen.gif": ("too large", gif_with_huge_screen()),
    }


def _blank_pages() -> dict[str, bytes]:
    """Pages with no digit on them: name -> bytes."""
    noise = np.random.default_rng(11).integers(0, 256, (200, 200), dtype=np.uint8)
    return {
        "all-white.png": encoded(Image.new("L", (200, 200), 255), "PNG"),
        "all-black.png": encoded(Image.new("L", (200, 200), 0), "PNG"),
        "uniform-gray.jpg": encoded(Image.new("RGB", (200, 200), (128, 128, 128)), "JPEG"),
        "pure-noise.png": encoded(Image.fromarray(noise), "PNG"),
    }


def build_hostile_corpus(root: Path) -> dict[str, Expected]:
    """Write every hostile input under `root`; returns the expected result per reported path."""
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Expected] = {}
    for name, (digit, data) in _valid_images().items():
        (root / name).write_bytes(data)
        expected[name] = Expected("recognized", digit=digit)
    for name, (reason, data) in _broken_files().items():
        (root / name).write_bytes(data)
        expected[name] = Expected("failed", reason=reason)
    for name, data in _blank_pages().items():
        (root / name).write_bytes(data)
        expected[name] = Expected("no_digit")

    names = root / "names"
    names.mkdir()
    hostile_digit = digit_image(3, size=120, width=7)
    for name in HOSTILE_NAMES:
        hostile_digit.save(names / name, format="PNG")
        expected[f"names/{name}"] = Expected("recognized", digit=3)
    not_utf8 = os.fsencode(str(names)) + b"/caf\xe9-\xff.png"
    hostile_digit.save(os.fsdecode(not_utf8), format="PNG")
    expected["names/caf\\xe9-\\xff.png"] = Expected("recognized", digit=3)

    batch = root / "batch"
    batch.mkdir()
    for index in range(PADDING):
        digit = index % 10
        digit_image(digit, size=120, width=7, seed=index).save(batch / f"scan_{index + 1}.png")
        expected[f"batch/scan_{index + 1}.png"] = Expected("recognized", digit=digit)

    _add_ignored(root)
    return expected


def _add_ignored(root: Path) -> None:
    """Junk files, symlinks, a FIFO, a socket and (as root) a device: none may appear in the results."""
    for name in JUNK_NAMES:
        (root / name).write_bytes(encoded(digit_image(1), "PNG") if name.endswith(".png") else b"junk")
    synology = root / "@eaDir"
    synology.mkdir()
    digit_image(1).save(synology / "thumb.png")
    outside = root.parent / "outside-the-folder.png"
    digit_image(1).save(outside)
    os.symlink(outside, root / "link-to-outside.png")
    os.symlink(root / "loop-b.png", root / "loop-a.png")
    os.symlink(root / "loop-a.png", root / "loop-b.png")
    os.symlink(root.parent, root / "link-to-parent-folder")
    os.mkfifo(root / "fifo.png")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # only root may make a device node
        import stat

        os.mknod(root / "device.png", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "socket.png"))
    listener.close()  # the socket file stays behind, as a stale one would


def tree_snapshot(root: Path) -> dict[bytes, tuple]:
    """Every entry under `root` (not following links): type, size, mtime and a content digest."""
    import hashlib
    import stat

    snapshot = {}
    for directory, folders, files in os.walk(os.fsencode(root)):
        for name in folders + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            digest = None
            if stat.S_ISREG(info.st_mode) and info.st_mode & 0o400:
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                digest = os.readlink(path)
            snapshot[path] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, info.st_mode, digest)
    return snapshot
