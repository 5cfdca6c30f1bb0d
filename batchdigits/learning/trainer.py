"""Building a model: training data through the canonical glyph, a calibrated SVC, a model card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from batchdigits.recognition.glyph import MODEL_INPUT
from batchdigits.recognition.model import WRITER_BLOCKS, ModelCard, digit_probabilities, make_classifier, save_model
from batchdigits.learning.pieces import NUMBERS, fit_one_digit_scorer
from batchdigits.learning.training import (
    DISTORTED_ELASTIC,
    ELASTIC,
    augmented_features,
    glyph_features,
    picture_from_8x8,
    synthetic_features,
)

DEFAULT_SEED = 0
DEFAULT_COPIES = 9  # augmented redraws per load_digits image, besides the plain redraw
DEFAULT_SYNTHETIC = 1000  # synthetic drawings per digit (batchdigits/learning/synthetic.py)
DISTORTED_WEIGHT = 0.5  # weight of each synthetic drawing's bent twin, in the SVC and its calibration (docs/model.md)
CHUNKS = 24  # work units handed to the worker processes
USER_STREAM = 3  # keeps the random streams of a person's images apart from load_digits' and the synthetic ones
USER_SIDE = 128  # a person's one-digit image is augmented at most this many pixels on its long side
# Each of a person's glyphs counts this many times in the fit: 300 images (3,000 glyphs with their
# redraws) against 38,000 of load_digits and synthetic strokes. Measured 2026-12-08 on the USPS
# dev set's other 200 images: weight 1 read 93.0%, weight 3 94.5% (none 92.0%), no other set fell.
USER_WEIGHT = 3.0


@dataclass
class TrainingSet:
    """Model inputs (N, MODEL_INPUT) (Glyph.model_input), labels (N,) in 0..9, writer groups (N,) for grouped folds,
    and each row's weight in the fit (N,) > 0 (None: every row 1)."""

    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    description: list[str]
    weights: np.ndarray | None = None

    def row_weights(self) -> np.ndarray:
        """(N,) float64 > 0: each row's weight in the fit."""
        return np.ones(len(self.labels)) if self.weights is None else np.asarray(self.weights, dtype=np.float64)


def load_digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """load_digits' writer-disjoint halves, as in scikit-learn's example: (train cells, labels, test cells, labels)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    half = len(digits.images) // 2
    return digits.images[:half], digits.target[:half], digits.images[half:], digits.target[half:]


def digits_training_set(
    cells: np.ndarray, labels: np.ndarray, *, seed: int, copies: int, jobs: int
) -> TrainingSet:
    """(N, 8, 8) load_digits cells and labels -> features of each plain and augmented redraw."""
    from joblib import Parallel, delayed

    chunks = [chunk for chunk in np.array_split(np.arange(len(cells)), CHUNKS) if len(chunk)]
    parts = Parallel(n_jobs=jobs)(
        delayed(augmented_features)(cells[chunk], labels[chunk], copies, seed, int(chunk[0]))
        for chunk in chunks
    )
    features = np.vstack(parts)
    per_image = copies + 1
    writer = np.arange(len(cells)) * WRITER_BLOCKS // max(len(cells), 1)
    return TrainingSet(
        features=features,
        labels=np.repeat(np.asarray(labels, dtype=int), per_image),
        groups=np.repeat(writer, per_image),
        description=[f"load_digits ({len(cells)} images, {copies} augmented copies each)"],
    )


def synthetic_training_set(per_digit: int, *, seed: int, jobs: int, first_group: int) -> TrainingSet:
    """`per_digit` synthetic drawings of each digit, augmented, as glyph features; then each
    drawing again, distorted more (DISTORTED_ELASTIC), weighted DISTORTED_WEIGHT."""
    from joblib import Parallel, delayed

    digits = np.tile(np.arange(10), per_digit)
    chunks = [chunk for chunk in np.array_split(np.arange(len(digits)), CHUNKS) if len(chunk)]
    parts = Parallel(n_jobs=jobs)(
        delayed(synthetic_features)(digits[chunk], seed, int(chunk[0]), elastic)
        for elastic in (ELASTIC, DISTORTED_ELASTIC)
        for chunk in chunks
    )
    # No writer behind them: spread them over the calibration folds, each twin with its drawing.
    groups = first_group + np.arange(len(digits)) % WRITER_BLOCKS
    return TrainingSet(
        features=np.vstack(parts) if parts else np.empty((0, MODEL_INPUT)),
        labels=np.tile(digits, 2),
        groups=np.tile(groups, 2),
        description=[f"synthetic handwriting ({len(digits)} drawings, and each again distorted more, "
                     f"weighted {DISTORTED_WEIGHT:g})"],
        weights=np.repeat([1.0, DISTORTED_WEIGHT], len(digits)),
    )


def mnist_training_set(folder: Path, *, jobs: int, first_group: int) -> TrainingSet:
    """MNIST's IDX training files -> glyph features; each 28x28 image drawn as dark ink on white."""
    from joblib import Parallel, delayed

    from batchdigits.files.datasets import read_mnist

    images, labels = read_mnist(folder)
    pictures = 1.0 - images.astype(np.float64) / 255.0
    chunks = [chunk for chunk in np.array_split(np.arange(len(pictures)), CHUNKS) if len(chunk)]
    parts = Parallel(n_jobs=jobs)(delayed(glyph_features)(list(pictures[chunk])) for chunk in chunks)
    return TrainingSet(
        features=np.vstack(parts) if parts else np.empty((0, MODEL_INPUT)),
        labels=labels,
        groups=first_group + np.arange(len(labels)) * WRITER_BLOCKS // max(len(labels), 1),
        description=[f"MNIST from {folder.name} ({len(labels)} images)"],
    )


def folder_training_set(folder: Path, *, jobs: int, first_group: int) -> TrainingSet:
    """A labelled folder (subfolders 0..9) -> glyph features through the real decoding path."""
    from batchdigits.recognition.runner import labelled_features

    labels, features = labelled_features(folder, jobs=jobs)
    found = int((~np.isnan(features).any(axis=1)).sum())
    return TrainingSet(
        features=features,  # rows without a digit are NaN; combine() drops them
        labels=labels,
        groups=np.full(len(labels), first_group),  # one user's folder: treat it as one writer
        description=[f"{folder.name} ({found} labelled images)"],
    )


def user_training_set(images: list, reader, *, seed: int, copies: int, jobs: int, first_group: int) -> tuple[TrainingSet, list[str]]:
    """A person's labelled images (files.labels.LabelledImage) -> (their training set, why each
    image that gave nothing was left out). A one-digit image gives its scan glyph and `copies`
    augmented redraws of it, as a load_digits image does; a number gives the glyph of each of
    its digits as a scan finds them with its count given (`reader`, a LoadedModel, reads them)."""
    from joblib import Parallel, delayed

    chunks = [chunk for chunk in np.array_split(np.arange(len(images)), CHUNKS) if len(chunk)]
    parts = Parallel(n_jobs=jobs)(
        delayed(user_features)([images[i] for i in chunk], seed, copies, int(chunk[0])) for chunk in chunks
    )
    rows, labels, left_out = [], [], []
    pending = []  # numbers: their candidates are classified here, where the model is
    for part in parts:
        for image, result in part:
            if isinstance(result, str):
                left_out.append(f"line {image.line}: {image.relative}{_page_of(image)}: {result}")
            elif isinstance(result, tuple):
                pending.append((image, result))
            else:
                rows.append(result)
                labels.extend([int(image.text)] * len(result))
    if pending:
        from batchdigits.recognition.reading import best_reading, classify

        classify([table for _, (table, _) in pending], [inputs for _, (_, inputs) in pending],
                 reader.probabilities, reader.one_digit_of)
        for image, (table, inputs) in pending:
            digits = image.text.replace(" ", "")
            reading = best_reading(table, len(digits))
            if reading is None or len(reading.rows) != len(digits) or reading.doubt:
                left_out.append(f"line {image.line}: {image.relative}{_page_of(image)}: its {len(digits)} digits were not found surely"
                                + (f" ({reading.doubt})" if reading is not None and reading.doubt else ""))
                continue
            rows.append(inputs[list(reading.rows)])
            labels.extend(int(digit) for digit in digits)
    features = np.vstack(rows) if rows else np.empty((0, MODEL_INPUT))
    used = len(images) - len(left_out)
    return TrainingSet(
        features=features,
        labels=np.asarray(labels, dtype=int),
        groups=np.full(len(labels), first_group),  # one person's images: treat them as one writer
        description=[f"user images ({used} of {len(images)} labelled, {copies} augmented copies of each lone digit, "
                     f"weighted {USER_WEIGHT:g})"],
        weights=np.full(len(labels), USER_WEIGHT),
    ), left_out


def _page_of(image) -> str:
    return "" if image.page is None else f" page {image.page}"


def user_features(images: list, seed: int, copies: int, first_index: int) -> list[tuple[object, object]]:
    """Labelled images -> for each, (the image, its result): (1 + copies, MODEL_INPUT) model
    inputs for a one-digit image (row 0 its scan glyph, then augmented redraws, NaN where no
    digit was found), (candidate table, inputs) for a number, or the reason it gave nothing.
    Image i uses its own random stream from `seed` and `first_index` + i."""
    from skimage.transform import rescale

    from batchdigits.errors import DecodeError
    from batchdigits.files.documents import decode_page
    from batchdigits.recognition.glyph import glyph_from_image, ink_map
    from batchdigits.recognition.reading import candidates
    from batchdigits.recognition.runner import open_regular_file
    from batchdigits.learning.training import augment

    results = []
    for offset, image in enumerate(images):
        try:
            stream, _ = open_regular_file(image.path)  # as a scan opens it: no FIFO, nothing too large
            with stream:
                decoded = decode_page(stream, image.page)
        except (OSError, DecodeError) as exc:
            results.append((image, f"cannot be read ({exc})"))
            continue
        if len(image.text.replace(" ", "")) > 1:
            table, inputs, reason = candidates(decoded.rgb, decoded.upright_size)
            results.append((image, reason or (table, inputs)))
            continue
        glyph = glyph_from_image(decoded.rgb)
        if glyph.model_input is None:
            results.append((image, glyph.reason or "no digit found"))
            continue
        rng = np.random.default_rng([seed, USER_STREAM, first_index + offset])
        picture = 1.0 - ink_map(decoded.rgb)  # dark ink on white, whatever the image's colours
        side = max(picture.shape)
        if side > USER_SIDE:  # augmenting a scan at full size costs time and changes nothing the glyph keeps
            picture = rescale(picture, USER_SIDE / side, anti_aliasing=True)
        rows = [glyph.model_input]
        for _ in range(copies):
            copy = glyph_from_image(augment(picture, rng)).model_input
            rows.append(copy if copy is not None else np.full(MODEL_INPUT, np.nan))
        results.append((image, np.array(rows)))
    return results


def combine(sets: list[TrainingSet]) -> TrainingSet:
    """One training set from several, rows with no digit (NaN) dropped."""
    features = np.vstack([s.features for s in sets])
    labels = np.concatenate([s.labels for s in sets])
    groups = np.concatenate([s.groups for s in sets])
    weights = np.concatenate([s.row_weights() for s in sets])
    usable = ~np.isnan(features).any(axis=1)
    return TrainingSet(
        features=features[usable],
        labels=labels[usable],
        groups=groups[usable],
        description=[text for s in sets for text in s.description],
        weights=weights[usable],
    )


def fit(training: TrainingSet, seed: int, jobs: int = 1):
    """The calibrated SVC fitted on a training set (its calibration folds fitted side by side with jobs > 1)."""
    classifier = make_classifier(training.groups, training.labels, seed, jobs=jobs)
    classifier.fit(training.features, training.labels, training.row_weights())
    return classifier


def recipe_sets(cells: np.ndarray, labels: np.ndarray, synthetic: TrainingSet | None, *, seed: int,
                copies: int, jobs: int) -> list[TrainingSet]:
    """The default recipe's training data: load_digits cells redrawn and augmented, plus synthetic drawings."""
    sets = [digits_training_set(cells, labels, seed=seed, copies=copies, jobs=jobs)]
    return sets + [synthetic] if synthetic is not None else sets


def full_recipe_sets(synthetic: TrainingSet | None, *, seed: int, copies: int, jobs: int) -> list[TrainingSet]:
    """The default recipe on all of load_digits: what the bundled model is trained on."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return recipe_sets(digits.images, digits.target, synthetic, seed=seed, copies=copies, jobs=jobs)


def default_split_sets(jobs: int) -> tuple[TrainingSet, np.ndarray, np.ndarray]:
    """split_sets() for the default recipe (seed, copies and synthetic drawings as `batchdigits train`)."""
    synthetic = synthetic_set_or_none(DEFAULT_SYNTHETIC, seed=DEFAULT_SEED, jobs=jobs)
    return split_sets(seed=DEFAULT_SEED, copies=DEFAULT_COPIES, synthetic=synthetic, jobs=jobs)


def default_training_set(jobs: int) -> TrainingSet:
    """The default recipe on all of load_digits, as one training set: what the bundled model is fitted on."""
    synthetic = synthetic_set_or_none(DEFAULT_SYNTHETIC, seed=DEFAULT_SEED, jobs=jobs)
    return combine(full_recipe_sets(synthetic, seed=DEFAULT_SEED, copies=DEFAULT_COPIES, jobs=jobs))


def synthetic_set_or_none(per_digit: int, *, seed: int, jobs: int) -> TrainingSet | None:
    """The recipe's synthetic drawings (built once per run: the split and the model share them)."""
    if not per_digit:
        return None
    return synthetic_training_set(per_digit, seed=seed, jobs=jobs, first_group=WRITER_BLOCKS)


def split_sets(
    *, seed: int, copies: int, synthetic: TrainingSet | None, jobs: int
) -> tuple[TrainingSet, np.ndarray, np.ndarray]:
    """The recipe on load_digits' writer-disjoint split: (training set from the first half plus
    synthetic drawings, (N, MODEL_INPUT) model inputs of the second half, (N,) its digits)."""
    train_cells, train_labels, test_cells, test_labels = load_digits_split()
    training = combine(recipe_sets(train_cells, train_labels, synthetic, seed=seed, copies=copies, jobs=jobs))
    test_features = np.nan_to_num(glyph_features([picture_from_8x8(c) for c in test_cells]), nan=0.0)
    return training, test_features, np.asarray(test_labels, dtype=int)


def split_predictions(
    training: TrainingSet, test_features: np.ndarray, test_labels: np.ndarray, seed: int, jobs: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit the recipe's classifier on `training` (split_sets), predict the split's second half.

    Returns (labels (N,), predicted digits (N,), probabilities (N, 10)) for the second half.
    """
    probabilities = fit(training, seed, jobs).predict_proba(test_features)
    return test_labels, probabilities.argmax(axis=1), probabilities


def train_model(
    out: Path,
    *,
    seed: int = DEFAULT_SEED,
    copies: int = DEFAULT_COPIES,
    synthetic: int = DEFAULT_SYNTHETIC,
    extra: list[Path] = (),
    mnist: Path | None = None,
    labels: Path | None = None,
    images: Path | None = None,
    numbers: int = NUMBERS,
    jobs: int = -1,
    report: Callable[[str], None] = lambda message: None,
) -> ModelCard:
    """Build the model from load_digits (plus extra data, and a person's images named by a
    `labels` file of `path,text` lines under `images`), measure it, and save it with its card."""
    import hashlib

    from batchdigits.files.labels import read_training_labels

    user = read_training_labels(labels, images) if labels is not None else []
    labels_sha256 = hashlib.sha256(labels.read_bytes()).hexdigest() if user else ""
    synthetic_set = synthetic_set_or_none(synthetic, seed=seed, jobs=jobs)
    report("measuring the recipe on load_digits' writer-disjoint split")
    split_training, test_features, truth = split_sets(seed=seed, copies=copies, synthetic=synthetic_set, jobs=jobs)
    split_classifier = fit(split_training, seed, jobs)
    split = float((split_classifier.predict_proba(test_features).argmax(axis=1) == truth).mean())
    report(f"split accuracy {split:.4f}; composing {numbers} numbers from the second half's writers")
    # The judge learns from candidates read by a classifier that never saw their writers, as a scan's are.
    _, _, test_cells, test_labels = load_digits_split()
    one_digit, pieces = fit_one_digit_scorer(
        test_cells, test_labels, lambda inputs: digit_probabilities(split_classifier, inputs),
        numbers=numbers, seed=seed, jobs=jobs)
    report(f"judge of one digit fitted on {pieces['candidates']} candidates; training on all of load_digits")
    sets = full_recipe_sets(synthetic_set, seed=seed, copies=copies, jobs=jobs)
    next_group = 2 * WRITER_BLOCKS
    for folder in extra:
        sets.append(folder_training_set(folder, jobs=jobs, first_group=next_group))
        next_group += 1
    if mnist is not None:
        sets.append(mnist_training_set(mnist, jobs=jobs, first_group=next_group))
        next_group += 1
    if user:
        from batchdigits.recognition.model import load_model
        from batchdigits.resources import bundled_model_path

        report(f"reading {len(user)} labelled images from {images}")
        user_set, left_out = user_training_set(user, load_model(bundled_model_path()), seed=seed, copies=copies,
                                               jobs=jobs, first_group=next_group)
        for reason in left_out:
            report(f"left out: {reason}")
        sets.append(user_set)
    training = combine(sets)
    report(f"fitting the calibrated SVC on {len(training.labels)} glyphs")
    classifier = fit(training, seed, jobs)
    classifier.one_digit_ = one_digit
    card = ModelCard(
        name=out.stem,
        sha256="",
        sklearn="",
        trained_on="; ".join([*training.description, f"whether a candidate is one digit: {numbers} numbers "
                              "composed from load_digits' second half and synthetic drawings"]),
        seed=seed,
        copies=copies,
        synthetic_per_digit=synthetic,
        training_images=int(len(training.labels)),
        metrics={"load_digits_split_accuracy": round(split, 4)},
        hyperparameters={"C": classifier.C, "gamma": classifier.gamma, "calibration": classifier.method,
                         "calibration_C": classifier.calibration_C, "one_digit": pieces},
        user_images=len(user) - len(left_out) if user else 0,
        user_labels_sha256=labels_sha256,
    )
    return save_model(classifier, card, out)
