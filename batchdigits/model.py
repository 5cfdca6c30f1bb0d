"""The classifier: train it, save it with its model card, load it only if it is intact, predict."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from batchdigits.atomic import write_atomically
from batchdigits.errors import ModelError

# Chosen by measurement (see README: "How the model is built").
SVC_C = 3.0
SVC_GAMMA = 0.001
CALIBRATION_FOLDS = 5
WRITER_BLOCKS = 13  # load_digits is in writer order; 13 contiguous blocks approximate the writers
MODEL_FORMAT = 1


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
        """(N, 64) glyph features in [0, 16] -> (N, 10) calibrated probabilities, one column per digit."""
        if len(features) == 0:
            return np.empty((0, 10))
        raw = self.estimator.predict_proba(np.asarray(features, dtype=np.float64))
        full = np.zeros((len(features), 10))
        full[:, np.asarray(self.estimator.classes_, dtype=int)] = raw
        return full


def card_path(model_path: Path) -> Path:
    """The model card that goes with a model file: same name, `.json`."""
    return model_path.with_suffix(".json")


def make_classifier(groups: np.ndarray, labels: np.ndarray, seed: int):
    """An SVC calibrated on writer-grouped folds (never a writer on both sides of a fold)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import GroupKFold
    from sklearn.svm import SVC

    folds = list(GroupKFold(n_splits=CALIBRATION_FOLDS).split(labels, labels, groups))
    svc = SVC(C=SVC_C, gamma=SVC_GAMMA, kernel="rbf", random_state=seed)
    return CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)


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
    rebuild = f"run `batchdigits train -o {path}` to rebuild it"
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
    import joblib

    card, payload = verify_model(path)
    try:
        estimator = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # the hash matched, so this is a broken build, not an attack
        raise ModelError(
            f"model {path} cannot be loaded ({type(exc).__name__}): run `batchdigits train -o {path}` to rebuild it"
        ) from None
    return LoadedModel(estimator=estimator, card=card, path=path)
