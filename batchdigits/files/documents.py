"""Scanner documents: the pages of a PDF (rendered with PDFium) and the frames of a multi-page
TIFF (or any multi-frame file Pillow reads), each as a picture of its own.

A page is rendered at PDF_DPI, never beyond MAX_PAGE_INCHES a side, and cropped to its ink
(with a margin of paper), so a number in the middle of an A4 page keeps the pixels a photo of
the number would have. Nothing inside a PDF is run or followed: PDFium renders the page's
content only (no forms, no JavaScript, no links).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from PIL import Image

from batchdigits.files.decode import ALLOWED_FORMATS, MAX_PIXELS, DecodedImage, crop_to_ink, decode_image, decode_picture
from batchdigits.errors import DecodeError

PDF_DPI = 200  # a handwritten digit of 5 mm is 40 px: what the glyph wants, at little cost
MAX_PAGES = 1000  # more pages than this is not a batch of forms: the file fails with a reason
MAX_PAGE_INCHES = 50.0  # larger than A0 (46.8 in) is no scanner's page


def is_pdf(data: bytes) -> bool:
    """True when the bytes are a PDF (its header may follow a little junk, as readers allow)."""
    return b"%PDF-" in data[:1024]


def is_pdf_stream(stream: BinaryIO) -> bool:
    """is_pdf of a seekable binary stream's start; the stream is left at its start."""
    stream.seek(0)
    found = is_pdf(stream.read(1024))
    stream.seek(0)
    return found


def page_count(stream: BinaryIO) -> int:
    """How many pages (PDF) or frames (TIFF, GIF, WebP) a file (a seekable binary stream) holds;
    raises DecodeError with the reason when it cannot be read, holds none, or more than MAX_PAGES."""
    stream.seek(0)
    head = stream.read(1 << 16)
    if is_pdf(head):
        with _open_pdf(stream) as pdf:
            count = len(pdf)
    else:
        count = _frame_count(stream, head)
    if count == 0:
        raise DecodeError("the document has no pages")
    if count > MAX_PAGES:
        raise DecodeError(f"{count:,} pages (at most {MAX_PAGES:,} are read from one file)")
    return count


def decode_page(stream: BinaryIO, page: int | None) -> DecodedImage:
    """The picture of page `page` (1-based) of a PDF or multi-page file (a seekable binary
    stream), or with None the file's only picture (a one-page PDF's page); DecodeError if the
    file cannot be read, has no such page, or (page None) holds several."""
    count = page_count(stream)
    if page is None and count > 1:
        raise DecodeError(f"a document of {count} pages: name the page")
    index = 0 if page is None else page - 1
    if not 0 <= index < count:
        raise DecodeError(f"the document has {count} page{'s' if count != 1 else ''}, not a page {page}")
    if is_pdf_stream(stream):
        for _, picture in pdf_pages(stream, [index]):
            if isinstance(picture, DecodeError):
                raise picture
            return decode_picture(picture)
    stream.seek(0)
    return decode_image(stream, frame=None if page is None else index)


def pdf_pages(stream: BinaryIO, indexes: Sequence[int]) -> Iterator[tuple[int, Image.Image | DecodeError]]:
    """(0-based page index, its RGB picture cropped to the ink, or the reason it cannot be
    rendered) for each of `indexes` of a PDF (a seekable binary stream), opened once."""
    with _open_pdf(stream) as pdf:
        for index in indexes:
            try:
                yield index, _render(pdf, index)
            except DecodeError as exc:
                yield index, exc


def _open_pdf(stream: BinaryIO):
    """A PDFium document over a stream (a context manager), or DecodeError with the reason."""
    import pypdfium2 as pdfium  # only when a folder holds a PDF

    stream.seek(0)
    try:
        # PDFium reads what it needs from the stream: a long document is never in memory whole.
        return _Closing(pdfium.PdfDocument(stream))
    except pdfium.PdfiumError:
        # PDFium's error code outlives the call that set it, so the reason is read off the bytes
        # (a failed file only; its size was checked before it was opened).
        stream.seek(0)
        data = stream.read()
        if b"/Encrypt" in data:
            raise DecodeError("encrypted PDF: it needs a password") from None
        if re.search(rb"/Count\s+0\b", data) and not re.search(rb"/Count\s+[1-9]", data):
            raise DecodeError("the document has no pages") from None
        raise DecodeError("damaged or truncated PDF (PDFium cannot load it)") from None


class _Closing:
    """Close a PDFium document when the block ends (its memory is outside Python's)."""

    def __init__(self, document) -> None:
        self.document = document

    def __enter__(self):
        return self.document

    def __exit__(self, *exc: object) -> None:
        self.document.close()


def _render(pdf, index: int) -> Image.Image:
    """Page `index` of an open PDF, rendered at PDF_DPI and cropped to its ink."""
    import pypdfium2 as pdfium

    try:
        page = pdf[index]
    except (pdfium.PdfiumError, IndexError):
        raise DecodeError(f"page {index + 1} cannot be read") from None
    try:
        width, height = page.get_size()  # in points, 72 to the inch
        if not (0 < width and 0 < height):
            raise DecodeError(f"page {index + 1} has no size")
        if max(width, height) / 72 > MAX_PAGE_INCHES:
            raise DecodeError(f"page {index + 1} is {width / 72:.0f} x {height / 72:.0f} inches "
                              f"(at most {MAX_PAGE_INCHES:.0f} a side)")
        scale = PDF_DPI / 72
        if width * height * scale * scale > MAX_PIXELS:
            scale = (MAX_PIXELS / (width * height)) ** 0.5
        try:
            bitmap = page.render(scale=scale, may_draw_forms=False, grayscale=False)
            picture = bitmap.to_pil().convert("RGB")
        except pdfium.PdfiumError:
            raise DecodeError(f"page {index + 1} cannot be rendered") from None
    finally:
        page.close()
    return crop_to_ink(picture)


def _frame_count(stream: BinaryIO, head: bytes) -> int:
    """Frames of a picture file (1 for most, and for what Pillow cannot read: decoding says why);
    `head` is the start of the stream, up to 64 KiB."""
    if head.startswith((b"\xff\xd8", b"BM")) or (head.startswith(b"\x89PNG") and b"acTL" not in head):
        return 1  # JPEG and BMP hold one picture, a PNG without an animation chunk too: no second open
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(stream, formats=ALLOWED_FORMATS) as image:
                return int(getattr(image, "n_frames", 1))
        except Exception:
            return 1  # decoding proper says what is wrong with it
