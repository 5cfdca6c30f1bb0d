"""The model families side by side: the default SVC, k-nearest neighbours and a small MLP, each
trained on the same glyphs of the same data and measured on the same test images."""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from batchdigits.atomic import write_atomically
from batchdigits.errors import OutputFolderError
from batchdigits.output.evaluate import Evaluation, answers, measure

KNN_NEIGHBOURS = 5
MLP_HIDDEN = (128,)


@dataclass
class FamilyResult:
    """One model family's figures: its evaluation, seconds to train, milliseconds per image to predict."""

    family: str
    evaluation: Evaluation
    train_seconds: float
    predict_ms_per_image: float


def family_makers(training, seed: int, jobs: int = 1) -> dict:
    """Family name -> a function that returns a fitted estimator with predict_proba and classes_."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from batchdigits.learning.trainer import fit

    def svc():
        return fit(training, seed, jobs)

    def knn():
        return KNeighborsClassifier(n_neighbors=KNN_NEIGHBOURS).fit(training.features, training.labels)

    def mlp():
        network = make_pipeline(
            StandardScaler(),
            MLPClassifier(hidden_layer_sizes=MLP_HIDDEN, alpha=1e-3, early_stopping=True, max_iter=300,
                          random_state=seed),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the table reports what it reached
            return network.fit(training.features, training.labels)

    return {
        "SVC + vote calibration (default)": svc,
        f"k-nearest neighbours (k={KNN_NEIGHBOURS})": knn,
        f"MLP ({', '.join(map(str, MLP_HIDDEN))} hidden)": mlp,
    }


def compare_families(training, features: np.ndarray, truth: np.ndarray, *, source: str, seed: int,
                     review_below: float, jobs: int = 1) -> list[FamilyResult]:
    """Train each family on `training` and measure it on (N, MODEL_INPUT) model inputs (NaN = no digit)
    with (N,) digits."""
    from batchdigits.recognition.model import digit_probabilities

    results = []
    for family, make in family_makers(training, seed, jobs).items():
        started = time.perf_counter()
        estimator = make()
        trained = time.perf_counter()
        predicted, confidence = answers(features, lambda rows: digit_probabilities(estimator, rows))
        predicted_at = time.perf_counter()
        evaluation = measure(truth, predicted, confidence, source=source, model=family, review_below=review_below)
        results.append(FamilyResult(
            family=family,
            evaluation=evaluation,
            train_seconds=trained - started,
            predict_ms_per_image=1000 * (predicted_at - trained) / max(len(truth), 1),
        ))
    return results


def compare_on_split(*, review_below: float, jobs: int) -> list[FamilyResult]:
    """The families trained on the recipe's first half of load_digits, tested on its second half."""
    from batchdigits.learning.trainer import DEFAULT_SEED, default_split_sets

    training, features, truth = default_split_sets(jobs)
    return compare_families(training, features, truth, source="load_digits writer-disjoint split (second half)",
                            seed=DEFAULT_SEED, review_below=review_below, jobs=jobs)


def compare_on_folder(folder: Path, *, review_below: float, jobs: int) -> list[FamilyResult]:
    """The families trained on the whole default recipe, tested on a labelled folder through the scan path."""
    from batchdigits.recognition.runner import labelled_features
    from batchdigits.learning.trainer import DEFAULT_SEED, default_training_set

    truth, features = labelled_features(folder, jobs=jobs)  # first: a folder with no images fails fast
    training = default_training_set(jobs)
    return compare_families(training, features, truth, source=str(folder), seed=DEFAULT_SEED,
                            review_below=review_below, jobs=jobs)


def format_comparison(results: list[FamilyResult]) -> str:
    """One plain-text table: a row per family."""
    source = results[0].evaluation.source if results else ""
    threshold = results[0].evaluation.review_below if results else 0.0
    width = max([len("family")] + [len(result.family) for result in results])
    header = (f"{'family':<{width}} {'accuracy':>8} {'ECE':>6} {'wrong if >=' + format(threshold, '.2f'):>14} "
              f"{'flagged':>8} {'train s':>8} {'ms/image':>8}")
    lines = [f"model families on {source}", header]
    for result in results:
        evaluation = result.evaluation
        answered = max(evaluation.images - evaluation.no_prediction, 1)
        ece = "-" if evaluation.expected_calibration_error is None else f"{evaluation.expected_calibration_error:.3f}"
        wrong = "-" if evaluation.error_rate_unflagged is None else f"{evaluation.error_rate_unflagged:.4f}"
        lines.append(
            f"{result.family:<{width}} {evaluation.accuracy:>8.4f} {ece:>6} {wrong:>14} "
            f"{evaluation.flagged / answered:>8.4f} {result.train_seconds:>8.1f} {result.predict_ms_per_image:>8.3f}"
        )
    return "\n".join(lines)


def write_comparison(results: list[FamilyResult], out_dir: Path) -> Path:
    """Write comparison.json and comparison.html into `out_dir`; returns the HTML's path."""
    from batchdigits.output.report import render

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        payload = json.dumps([asdict(result) for result in results], indent=1) + "\n"
        write_atomically(out_dir / "comparison.json", payload.encode("utf-8"))
        html = render("comparison.html", results=results)
        write_atomically(out_dir / "comparison.html", html.encode("utf-8"))
    except OSError as exc:
        raise OutputFolderError(f"cannot write the comparison in {out_dir}: {exc.strerror}") from None
    return out_dir / "comparison.html"
