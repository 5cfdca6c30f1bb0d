"""Labelled images a user brings: folders named 0..9, and MNIST's IDX files."""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from batchdigits.files.discover import find_images
from batchdigits.errors import DatasetError
from batchdigits.files.labels import folder_label, folder_text

MNIST_IMAGES = ("train-images-idx3-ubyte", "train-images.idx3-ubyte")
MNIST_LABELS = ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte")


@dataclass(frozen=True)
class LabelledFile:
    """An image file whose digit is known from its folder; `path` is relative to the labelled root."""

    path: str
    absolute: Path
    label: int


def labelled_files(root: Path) -> list[LabelledFile]:
    """Every image under `root` in a folder named 0..9 (labels.folder_label), with its label;
    DatasetError if there are none."""
    return _labelled(root, folder_label, LabelledFile, "expected subfolders named 0 to 9 holding images")


@dataclass(frozen=True)
class LabelledText:
    """An image file whose text is known from its folder (`7/`, `90210/`); `path` relative to the root."""

    path: str
    absolute: Path
    text: str


def labelled_texts(root: Path) -> list[LabelledText]:
    """Every image under `root` in a folder named with digits (labels.folder_text), with its text;
    DatasetError if there are none."""
    return _labelled(root, folder_text, LabelledText,
                     "expected subfolders named 0 to 9 (or with a number's digits, like 90210) holding images")


def _labelled(root: Path, rule, kind, expected: str) -> list:
    """The images under `root` whose path `rule` labels, as `kind`(path, absolute, label)."""
    files = [kind(found.path, found.absolute, label) for found in find_images(root)
             if (label := rule(found.path)) is not None]
    if not files:
        raise DatasetError(f"no labelled images in {root}: {expected}")
    return files


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) -> its uint8 array, e.g. (N, 28, 28) images or (N,) labels."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes")
    dimensions = raw[3]
    header = 4 + 4 * dimensions
    if dimensions == 0 or len(raw) < header:
        raise DatasetError(f"{path} has a broken IDX header")
    shape = struct.unpack(f">{dimensions}I", raw[4:header])
    count = int(np.prod(shape))
    if len(raw) - header != count:
        raise DatasetError(f"{path} holds {len(raw) - header} bytes of data, its header promises {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_mnist(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training IDX files in `folder` -> ((N, 28, 28) uint8 images, ink high; (N,) labels)."""
    images_file = _find_idx(folder, MNIST_IMAGES)
    labels_file = _find_idx(folder, MNIST_LABELS)
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"MNIST files in {folder} do not match: {images.shape} images, {labels.shape} labels")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"MNIST labels in {labels_file} go beyond 9")
    return images, labels.astype(int)


def _find_idx(folder: Path, names: tuple[str, ...]) -> Path:
    """The first of `names` (or its .gz) present in `folder`."""
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DatasetError(f"no {names[0]} (or .gz) in {folder}")
