"""The classifier: train it, save it with its model card, load it only if it is intact, predict."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from batchdigits.atomic import write_atomically
from batchdigits.errors import ModelError

# C and gamma: writer-grouped cross-validation (python -m batchdigits.learning.tuning; docs/model.md: "How the model is built").
SVC_C = 1.0
SVC_GAMMA = 0.0014
CALIBRATION_FOLDS = 5
CALIBRATION_C = 0.05  # regularisation of the calibrating logistic regression (measured: docs/model.md)
WRITER_BLOCKS = 13  # load_digits is in writer order; 13 contiguous blocks approximate the writers
# 5: as 4, with a judge of whether a candidate of a number is one digit (recognition/pieces.py);
# 4: as 3, stored as plain arrays (loading imports no scikit-learn); 3: one SVC on both drawings'
# stroke directions; 2: two SVCs on the drawings' 8x8 counts; 1: the pen drawing's only
MODEL_FORMAT = 5
# Where the classes of models pickled by earlier layouts live now (a model file names its classes' modules).
MOVED_MODULES = {"batchdigits.model": "batchdigits.recognition.model"}


@dataclass
class ModelCard:
    """What a model file is: how it was trained, how well it did, and how to check it is intact."""

    name: str
    sha256: str
    sklearn: str
    trained_on: str
    seed: int
    copies: int
    synthetic_per_digit: int
    training_images: int
    format: int = MODEL_FORMAT
    metrics: dict = field(default_factory=dict)
    hyperparameters: dict = field(default_factory=dict)
    user_images: int = 0  # a person's labelled images trained on (train --labels), and ...
    user_labels_sha256: str = ""  # ... the sha256 of the labels file that named them

    def to_json(self) -> str:
        """The card as pretty JSON text."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


@dataclass
class LoadedModel:
    """A verified classifier and its card."""

    estimator: object
    card: ModelCard
    path: Path

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(N, MODEL_INPUT) model inputs (glyph.Glyph.model_input) -> (N, 10) calibrated probabilities,
        one column per digit."""
        return digit_probabilities(self.estimator, features)

    @property
    def one_digit_of(self):
        """The model's judge of whether a candidate of a number is one digit ((M, pieces.FEATURES)
        piece features -> (M,) probability), or None when it has none (reading.classify)."""
        scorer = getattr(self.estimator, "one_digit_", None)
        return None if scorer is None else scorer.probability


def digit_probabilities(estimator: object, features: np.ndarray) -> np.ndarray:
    """(N, MODEL_INPUT) model inputs -> (N, 10) an estimator's probabilities, one column per digit.

    A digit the estimator never saw in training gets probability 0.
    """
    if len(features) == 0:
        return np.empty((0, 10))
    raw = estimator.predict_proba(np.asarray(features, dtype=np.float64))
    full = np.zeros((len(features), 10))
    full[:, np.asarray(estimator.classes_, dtype=int)] = raw
    return full


def card_path(model_path: Path) -> Path:
    """The model card that goes with a model file: same name, `.json`."""
    return model_path.with_suffix(".json")


def make_classifier(groups: np.ndarray, labels: np.ndarray, seed: int, jobs: int = 1) -> "VoteCalibratedSVC":
    """The SVC calibrated on writer-grouped folds (never a writer on both sides of a fold)."""
    from sklearn.model_selection import GroupKFold

    folds = list(GroupKFold(n_splits=CALIBRATION_FOLDS).split(labels, labels, groups))
    return VoteCalibratedSVC(C=SVC_C, gamma=SVC_GAMMA, folds=folds, seed=seed, jobs=jobs)


def fit_svc(features: np.ndarray, labels: np.ndarray, weights: np.ndarray, *, C: float, gamma: float,
            seed: int = 0):
    """An RBF SVC fitted on (N, MODEL_INPUT) model inputs and (N,) digits with (N,) row weights > 0."""
    from sklearn.svm import SVC

    svc = SVC(C=C, gamma=gamma, kernel="rbf", decision_function_shape="ovo", random_state=seed)
    return svc.fit(features, labels, sample_weight=weights)


class VoteCalibratedSVC:
    """An RBF SVC on both drawings' stroke directions whose vote picks the digit, and whose
    probabilities come from a logistic regression on its pairwise scores.

    An SVC's one-vs-rest scores are mostly pairwise votes, so Platt or temperature scaling of
    them squeezes every confidence into a narrow band. A multinomial logistic regression fitted
    on the SVC's 45 one-vs-one decision values (and vote scores), from SVCs that did not see the
    row's writer (out of fold), learns which patterns of pairwise margins are trustworthy.
    """

    def __init__(self, *, C: float, gamma: float, folds: list, seed: int, calibration_C: float = CALIBRATION_C,
                 jobs: int = 1):
        self.C, self.gamma, self.folds, self.seed, self.calibration_C = C, gamma, folds, seed, calibration_C
        self.jobs = jobs
        self.method = "logistic regression on out-of-fold one-vs-one scores; the SVC's vote picks the digit"

    def fit(
        self, features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> "VoteCalibratedSVC":
        """Fit on (N, MODEL_INPUT) model inputs and (N,) digits; `sample_weight` (N,) > 0 scales each
        row's weight, in the SVC and in the calibration alike."""
        from joblib import Parallel, delayed
        from sklearn.linear_model import LogisticRegression

        weights = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        rows = [train for train, _ in self.folds] + [np.arange(len(labels))]
        # The fold SVCs and the final one are independent: fitted side by side with jobs > 1.
        *fold_svcs, final_svc = Parallel(n_jobs=self.jobs)(
            delayed(fit_svc)(features[train], labels[train], weights[train], C=self.C, gamma=self.gamma,
                             seed=self.seed)
            for train in rows
        )
        self.svc_ = SVCArrays.of(final_svc)
        classes = len(self.svc_.classes_)
        out_of_fold = np.zeros((len(labels), classes * (classes - 1) // 2 + classes))
        for svc, (_, test) in zip(fold_svcs, self.folds):
            out_of_fold[test] = pair_scores(SVCArrays.of(svc), features[test])
        self.calibrator_ = SoftmaxArrays.of(LogisticRegression(C=self.calibration_C, max_iter=3000).fit(
            out_of_fold, labels, sample_weight=weights
        ))
        self.classes_ = self.calibrator_.classes_
        self.folds = None  # not needed to predict; keeps the model file small
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(N, MODEL_INPUT) model inputs -> (N, len(classes_)) calibrated probabilities, the SVC's digit highest.

        The calibration learns the training writers' patterns of margins; on other writers its
        own favourite is right less often than the SVC's vote (measured: docs/model.md), so the vote
        picks the digit. Where the two differ, the digit takes the largest probability and the
        calibration's favourite the digit's, so the answer and its alternatives stay in order;
        such confidences are low, so they go to review.
        """
        scores = pair_scores(self.svc_, features)
        probabilities = self.calibrator_.predict_proba(scores)
        # The SVC and the calibration were fitted on the same labels: their classes_ are one list.
        chosen = scores[:, -probabilities.shape[1]:].argmax(axis=1)
        favourite = probabilities.argmax(axis=1)
        rows = np.arange(len(features))
        highest, given = probabilities[rows, favourite], probabilities[rows, chosen]
        probabilities[rows, favourite] = given
        probabilities[rows, chosen] = highest
        return probabilities


@dataclass
class SVCArrays:
    """A fitted scikit-learn RBF SVC as the plain arrays its one-vs-one decisions need, so that a
    saved model loads without importing scikit-learn (about a second and 100 MB per scan)."""

    support_vectors_: np.ndarray  # (S, D) float64
    dual_coef_: np.ndarray  # (classes - 1, S) float64
    n_support_: np.ndarray  # (classes,) int: support vectors per class, in class order
    intercept_: np.ndarray  # (classes * (classes - 1) / 2,) float64, one per pair
    gamma: float
    classes_: np.ndarray  # (classes,) int

    @classmethod
    def of(cls, svc) -> "SVCArrays":
        """The arrays of a fitted sklearn.svm.SVC with an RBF kernel."""
        return cls(svc.support_vectors_, svc.dual_coef_, svc.n_support_, svc.intercept_, float(svc._gamma),
                   svc.classes_)


@dataclass
class SoftmaxArrays:
    """A fitted multinomial scikit-learn LogisticRegression as plain arrays, predicting as it does."""

    coef_: np.ndarray  # (classes, D) float64
    intercept_: np.ndarray  # (classes,) float64
    classes_: np.ndarray  # (classes,) int

    @classmethod
    def of(cls, regression) -> "SoftmaxArrays":
        """The arrays of a fitted LogisticRegression on three or more classes."""
        return cls(regression.coef_, regression.intercept_, regression.classes_)

    def predict_proba(self, scores: np.ndarray) -> np.ndarray:
        """(N, D) -> (N, classes) probabilities: the softmax of the linear scores, computed in the same
        order of operations as scikit-learn's, so the numbers are the same."""
        decision = scores @ self.coef_.T + self.intercept_
        decision -= decision.max(axis=1).reshape(-1, 1)
        np.exp(decision, out=decision)
        decision /= decision.sum(axis=1).reshape(-1, 1)
        return decision


def pair_scores(svc: SVCArrays, features: np.ndarray) -> np.ndarray:
    """(N, D) an SVC's inputs -> (N, 55): the 45 one-vs-one decision values, then the 10 one-vs-rest vote scores."""
    pairwise = rbf_pair_margins(svc, features)
    classes = len(svc.classes_)
    votes = np.zeros((len(features), classes))
    confidence = np.zeros((len(features), classes))
    pair = 0
    for first in range(classes):
        for second in range(first + 1, classes):
            margin = pairwise[:, pair]
            votes[:, first] += margin > 0
            votes[:, second] += margin <= 0
            confidence[:, first] += margin
            confidence[:, second] -= margin
            pair += 1
    # As scikit-learn's one-vs-rest shape: votes, with summed margins squeezed into (-1/3, 1/3) as tie-breaks.
    scaled = confidence / (3 * (np.abs(confidence).max(axis=1, keepdims=True) + 1))
    return np.hstack([pairwise, votes + scaled])


def rbf_pair_margins(svc: SVCArrays, features: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(N, D) -> (N, 45): the one-vs-one decision values of an RBF SVC fitted on 3 or more digits
    (scikit-learn flips a two-digit SVC's sign), as its decision_function gives them (to about
    1e-12), computed as one matrix product per chunk of rows.

    libsvm evaluates the kernel row by row; with some 10,000 support vectors that was most of
    the time a scan spends classifying. Pair (i, j) sums class i's support vectors weighted by
    their coefficients against j and class j's against i, plus the pair's intercept.
    """
    classes = len(svc.n_support_)
    vectors, coefficients, starts = svc.support_vectors_, svc.dual_coef_, np.cumsum(np.r_[0, svc.n_support_])
    weights = np.zeros((len(vectors), classes * (classes - 1) // 2))
    pair = 0
    for first in range(classes):
        for second in range(first + 1, classes):
            own, other = slice(starts[first], starts[first + 1]), slice(starts[second], starts[second + 1])
            weights[own, pair] = coefficients[second - 1, own]
            weights[other, pair] = coefficients[first, other]
            pair += 1
    squared_norms = (vectors * vectors).sum(axis=1)
    features = np.asarray(features, dtype=np.float64)
    margins = np.empty((len(features), weights.shape[1]))
    for begin in range(0, len(features), chunk):
        rows = features[begin:begin + chunk]
        kernel = rows @ vectors.T  # one (chunk, support vectors) buffer, worked in place
        kernel *= -2.0
        kernel += (rows * rows).sum(axis=1)[:, None]
        kernel += squared_norms
        np.maximum(kernel, 0.0, out=kernel)
        kernel *= -svc.gamma
        np.exp(kernel, out=kernel)
        margins[begin:begin + chunk] = kernel @ weights
    return margins + svc.intercept_


def save_model(estimator: object, card: ModelCard, path: Path) -> ModelCard:
    """Write the estimator and its card (with the file's sha256) atomically; returns the final card."""
    import joblib
    import sklearn

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer, compress=3)
    payload = buffer.getvalue()
    card.sha256 = hashlib.sha256(payload).hexdigest()
    card.sklearn = sklearn.__version__
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, payload)
    write_atomically(card_path(path), card.to_json().encode("utf-8"))
    return card


def read_card(path: Path) -> ModelCard:
    """The model card beside `path`; ModelError with a one-line fix if missing or unreadable."""
    location = card_path(path)
    try:
        data = json.loads(location.read_text(encoding="utf-8"))
        return ModelCard(**data)
    except FileNotFoundError:
        raise ModelError(
            f"model card {location} is missing: run `batchdigits train -o {path}` to rebuild the model"
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(
            f"model card {location} is unreadable ({exc}): run `batchdigits train -o {path}`"
        ) from None


def verify_model(path: Path) -> tuple[ModelCard, bytes]:
    """(card, file bytes) once the file's sha256, scikit-learn version and format match its card.

    Nothing is unpickled and scikit-learn is not imported: a run with nothing to read stays cheap.
    """
    from importlib.metadata import version

    card = read_card(path)
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model {path}: {exc.strerror}") from None
    rebuild = _rebuild_hint(path)
    if hashlib.sha256(payload).hexdigest() != card.sha256:
        raise ModelError(f"model {path} does not match the sha256 in its card (damaged or altered): {rebuild}")
    installed = version("scikit-learn")
    if card.sklearn != installed:
        raise ModelError(f"model {path} was built with scikit-learn {card.sklearn}, this is {installed}: {rebuild}")
    if card.format != MODEL_FORMAT:
        raise ModelError(f"model {path} has format {card.format}, expected {MODEL_FORMAT}: {rebuild}")
    return card, payload


def load_model(path: Path) -> LoadedModel:
    """Load a model only after its sha256 and scikit-learn version match its card (never unpickle first)."""
    return unpickle_model(path, *verify_model(path))


def unpickle_model(path: Path, card: ModelCard, payload: bytes) -> LoadedModel:
    """The model from the file bytes that verify_model(path) returned with `card` (checked, so safe to unpickle)."""
    import joblib

    _alias_moved_modules()
    try:
        estimator = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # the hash matched, so this is a broken build, not an attack
        raise ModelError(f"model {path} cannot be loaded ({type(exc).__name__}): {_rebuild_hint(path)}") from None
    return LoadedModel(estimator=estimator, card=card, path=path)


def _alias_moved_modules() -> None:
    """Let models pickled before the package was split into layers (2026-12-07) find their classes."""
    import sys

    for old, new in MOVED_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)


def _rebuild_hint(path: Path) -> str:
    """What to do about a model file that cannot be used."""
    return f"run `batchdigits train -o {path}` to rebuild it"
