"""Finding the image files in an input folder: allow-listed, junk ignored, links and specials skipped."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from batchdigits.errors import InputFolderError

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)
DOCUMENT_SUFFIXES = frozenset({".pdf"})
READ_SUFFIXES = IMAGE_SUFFIXES | DOCUMENT_SUFFIXES
# Files that file managers, sync tools and NAS boxes leave behind, and partial downloads.
JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini", "@eadir", "#recycle", "$recycle.bin", "lost+found"})
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".swp")


@dataclass(frozen=True)
class FoundFile:
    """An image file found under the input folder; `path` is relative, with POSIX separators."""

    path: str
    absolute: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SkippedFile:
    """A file under the input folder that is not read, and why (e.g. "unsupported type (.docx)")."""

    path: str
    reason: str


def display_path(relative: str) -> str:
    """A relative path as text for people: bytes that are not UTF-8 are shown as \\xNN escapes."""
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def natural_key(text: str) -> list[object]:
    """Sort key that puts `scan_2` before `scan_10`."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def is_ignored_name(name: str) -> bool:
    """True for hidden files, macOS resource forks, OS and NAS junk, and partial downloads."""
    lowered = name.lower()
    return (
        name.startswith(".")
        or name.startswith("~$")
        or lowered in JUNK_NAMES
        or lowered.endswith(PARTIAL_SUFFIXES)
    )


def find_images(
    input_dir: Path, *, recursive: bool = True, exclude: Path | None = None,
    skipped: list[SkippedFile] | None = None,
) -> list[FoundFile]:
    """Every image and PDF file under `input_dir`, naturally sorted by relative path; the files
    not read, with the reason, are added to `skipped` (naturally sorted).

    Symbolic links are never followed (files or folders), FIFOs, sockets and devices are never
    opened, and the folder `exclude` (the report folder, if it lies inside) is not entered.
    Hidden files, partial downloads and the junk of file managers are left out without a word.
    """
    try:
        root_stat = input_dir.stat()
    except FileNotFoundError:
        raise InputFolderError(f"input folder not found: {input_dir}") from None
    except OSError as exc:
        raise InputFolderError(f"cannot read input folder {input_dir}: {exc.strerror}") from None
    if not stat.S_ISDIR(root_stat.st_mode):
        raise InputFolderError(f"input is not a folder: {input_dir}")
    if not os.access(input_dir, os.R_OK | os.X_OK):
        raise InputFolderError(f"cannot read input folder {input_dir}: permission denied")
    excluded = _identity(exclude) if exclude is not None else None
    found: list[FoundFile] = []
    passed: list[SkippedFile] = []
    _walk(input_dir, "", recursive, excluded, found, passed, top=True)
    found.sort(key=lambda item: natural_key(item.path))
    if skipped is not None:
        skipped.extend(sorted(passed, key=lambda item: natural_key(item.path)))
    return found


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, or None if it does not exist yet."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _walk(
    folder: Path,
    prefix: str,
    recursive: bool,
    excluded: tuple[int, int] | None,
    found: list[FoundFile],
    skipped: list[SkippedFile],
    top: bool = False,
) -> None:
    """Collect the files to read below `folder` into `found`, the others into `skipped`."""
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        if top:
            raise InputFolderError(f"cannot read input folder {folder}: {exc.strerror}") from None
        skipped.append(SkippedFile(prefix.rstrip("/") + "/", f"folder cannot be read ({exc.strerror})"))
        return
    for entry in entries:
        if is_ignored_name(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # vanished or unreadable between listing and stat
        relative = f"{prefix}{entry.name}"
        suffix = os.path.splitext(entry.name)[1].lower()
        if stat.S_ISDIR(info.st_mode):
            if recursive and (info.st_dev, info.st_ino) != excluded:
                _walk(Path(entry.path), relative + "/", recursive, excluded, found, skipped)
        elif stat.S_ISREG(info.st_mode) and suffix in READ_SUFFIXES:
            found.append(FoundFile(relative, Path(entry.path), info.st_size, info.st_mtime_ns))
        elif stat.S_ISREG(info.st_mode):
            skipped.append(SkippedFile(relative, f"unsupported type ({suffix or 'no extension'})"))
        elif stat.S_ISLNK(info.st_mode):
            skipped.append(SkippedFile(relative, "a symbolic link, not followed"))
        else:
            skipped.append(SkippedFile(relative, "not a regular file"))
