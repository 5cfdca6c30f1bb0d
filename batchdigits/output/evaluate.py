"""Measuring a model: accuracy, per-digit precision/recall/F1, confusion matrix, calibration."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from batchdigits import __version__
from batchdigits.atomic import write_atomically
from batchdigits.errors import OutputFolderError
from batchdigits.output.scores import compact, confusion_counts, text_scores

CALIBRATION_BINS = 10
REVIEW_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # candidates; the threshold in use is always added


@dataclass
class Evaluation:
    """Measured quality on one labelled set. `confusion[i][j]`: truth i predicted j (j = 10: none)."""

    source: str
    model: str
    images: int
    accuracy: float
    per_digit: list[dict]
    confusion: list[list[int]]
    no_prediction: int
    review_below: float
    flagged: int
    error_rate_unflagged: float | None
    expected_calibration_error: float | None
    reliability: list[dict]
    review_table: list[dict]
    tool_version: str = __version__
    # For folders of numbers: exact-string accuracy, character accuracy and the share read with
    # the right digit count (TextScores), over `text.labelled` images; None for lone digits.
    text: dict | None = None


def measure(truth: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, *, source: str, model: str,
            review_below: float) -> Evaluation:
    """Metrics for (N,) true digits, (N,) predicted digits (-1 = none) and (N,) confidences in [0, 1]."""
    truth = np.asarray(truth, dtype=int)
    predicted = np.asarray(predicted, dtype=int)
    confidence = np.asarray(confidence, dtype=np.float64)
    confusion = confusion_counts(truth, predicted)
    per_digit = []
    for digit in range(10):
        true_positive = confusion[digit, digit]
        predicted_as = confusion[:, digit].sum()
        actual = confusion[digit].sum()
        precision = true_positive / predicted_as if predicted_as else 0.0
        recall = true_positive / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_digit.append({"digit": digit, "precision": round(float(precision), 4), "recall": round(float(recall), 4),
                          "f1": round(float(f1), 4), "support": int(actual)})
    answered = predicted >= 0
    correct = predicted == truth
    unflagged = answered & (confidence >= review_below)
    ece, reliability = calibration(confidence[answered], correct[answered])
    return Evaluation(
        source=source,
        model=model,
        images=int(len(truth)),
        accuracy=round(float(correct.mean()), 4) if len(truth) else 0.0,
        per_digit=per_digit,
        confusion=confusion.tolist(),
        no_prediction=int((~answered).sum()),
        review_below=review_below,
        flagged=int((answered & ~unflagged).sum()),
        error_rate_unflagged=round(float(1 - correct[unflagged].mean()), 4) if unflagged.any() else None,
        expected_calibration_error=ece,
        reliability=reliability,
        review_table=review_table(confidence, answered, correct, review_below),
    )


def review_table(confidence: np.ndarray, answered: np.ndarray, correct: np.ndarray,
                 review_below: float) -> list[dict]:
    """For each candidate review threshold and the one in use (`review_below`), ascending: the share
    of answers flagged, and the error rate of the rest."""
    rows = []
    total = max(int(answered.sum()), 1)
    for threshold in sorted({*REVIEW_THRESHOLDS, review_below}):
        kept = answered & (confidence >= threshold)
        rows.append({
            "threshold": threshold,
            "flagged": round(float(1 - kept.sum() / total), 4),
            "error_rate_unflagged": round(float(1 - correct[kept].mean()), 4) if kept.any() else None,
        })
    return rows


def calibration(confidence: np.ndarray, correct: np.ndarray) -> tuple[float | None, list[dict]]:
    """Expected calibration error over equal-width bins, and the per-bin reliability table."""
    if len(confidence) == 0:
        return None, []
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    table, gap = [], 0.0
    for index in range(CALIBRATION_BINS):
        members = bins == index
        if not members.any():
            continue
        mean_confidence = float(confidence[members].mean())
        accuracy = float(correct[members].mean())
        gap += members.sum() / len(confidence) * abs(mean_confidence - accuracy)
        table.append({"from": round(float(edges[index]), 2), "to": round(float(edges[index + 1]), 2),
                      "count": int(members.sum()), "confidence": round(mean_confidence, 4),
                      "accuracy": round(accuracy, 4)})
    return round(float(gap), 4), table


def evaluate_split(*, review_below: float, jobs: int) -> Evaluation:
    """The training recipe on load_digits' writer-disjoint split (first half trains, second tests)."""
    from batchdigits.learning.trainer import DEFAULT_SEED, default_split_sets, split_predictions

    truth, predicted, probabilities = split_predictions(*default_split_sets(jobs), DEFAULT_SEED, jobs)
    return measure(truth, predicted, probabilities.max(axis=1),
                   source="load_digits writer-disjoint split (second half)",
                   model="the default recipe, trained on the first half", review_below=review_below)


def answers(features: np.ndarray, probabilities_of) -> tuple[np.ndarray, np.ndarray]:
    """(N, MODEL_INPUT) model inputs, NaN rows where no digit was found -> ((N,) digits, -1 for none;
    (N,) confidence).

    `probabilities_of` maps (M, MODEL_INPUT) model inputs to (M, 10) probabilities; rows with no
    digit get confidence 0.
    """
    predicted = np.full(len(features), -1, dtype=int)
    confidence = np.zeros(len(features))
    usable = ~np.isnan(features).any(axis=1)
    if usable.any():
        probabilities = probabilities_of(features[usable])
        predicted[usable] = probabilities.argmax(axis=1)
        confidence[usable] = probabilities.max(axis=1)
    return predicted, confidence


def evaluate_folder(folder: Path, model_path: Path, *, review_below: float, jobs: int) -> Evaluation:
    """A model on a labelled folder (subfolders named 0..9, or with a number's digits), each image
    read through the real scan path: its digits found, read, and the best reading kept.

    Per-digit figures pair each known digit with the digit read in its place when the count is
    right (with none otherwise); for numbers, string figures (TextScores) are added.
    """
    from batchdigits.files.datasets import labelled_texts
    from batchdigits.recognition.model import load_model

    model = load_model(model_path)
    files = labelled_texts(folder)
    readings = read_files([item.absolute for item in files], model.probabilities, jobs=jobs,
                          one_digit_of=model.one_digit_of)
    truth, predicted, confidence = [], [], []
    for item, reading in zip(files, readings):
        known = compact(item.text)
        said = [] if reading is None else list(reading.digits)
        aligned = len(said) == len(known)
        for position, digit in enumerate(known):
            truth.append(int(digit))
            predicted.append(said[position].digit if aligned else -1)
            confidence.append(said[position].confidence if aligned else 0.0)
    evaluation = measure(np.array(truth), np.array(predicted), np.array(confidence), source=str(folder),
                         model=f"{model.card.name} ({model.card.sha256[:12]})", review_below=review_below)
    if any(len(compact(item.text)) > 1 for item in files):
        scores = text_scores([(item.text, None if reading is None else reading.text)
                              for item, reading in zip(files, readings)])
        evaluation.text = asdict(scores)
    return evaluation


def read_files(paths: list[Path], probabilities_of, *, jobs: int, digits: int | None = None,
               one_digit_of=None) -> list:
    """Image files -> the Reading of each (None where no digit was found or the file failed), as a
    scan reads them; `probabilities_of` maps (M, MODEL_INPUT) model inputs to (M, 10), and
    `one_digit_of` judges candidates of numbers (reading.classify)."""
    from batchdigits.recognition.reading import best_reading, classify
    from batchdigits.recognition.runner import iter_processed

    readings: list = [None] * len(paths)
    for index, processed in iter_processed(paths, jobs=jobs):
        if processed.outcome == "glyph":
            classify([processed.candidates], [processed.candidate_inputs], probabilities_of, one_digit_of)
            readings[index] = best_reading(processed.candidates, digits)
    return readings


def format_text(evaluation: Evaluation) -> str:
    """A plain-text summary for the terminal."""
    lines = [f"{evaluation.source}: {evaluation.images} {'digits' if evaluation.text else 'images'}, "
             f"model {evaluation.model}"]
    if evaluation.text:
        text = evaluation.text
        lines.append(f"numbers: {text['labelled']} images; exact {text['exact']:.4f}, characters "
                     f"{text['characters']:.4f}, digit count right {text['count_right']:.4f}")
    lines.append(f"accuracy {evaluation.accuracy:.4f}; no digit or failed: {evaluation.no_prediction}")
    if evaluation.expected_calibration_error is not None:
        lines.append(f"expected calibration error {evaluation.expected_calibration_error:.4f}")
    if evaluation.error_rate_unflagged is not None:
        lines.append(
            f"flagged for review (confidence < {evaluation.review_below:.2f}): {evaluation.flagged}; "
            f"error rate among the rest {evaluation.error_rate_unflagged:.4f}"
        )
    if evaluation.review_table:
        lines.append("review threshold  flagged  wrong among the rest")
        for row in evaluation.review_table:
            rest = "-" if row["error_rate_unflagged"] is None else f"{row['error_rate_unflagged']:.4f}"
            lines.append(f"{row['threshold']:>16.2f}  {row['flagged']:7.4f}  {rest:>20}")
    lines.append("digit  precision  recall  f1      support")
    for row in evaluation.per_digit:
        lines.append(f"{row['digit']:>5}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:6.4f}  {row['support']:>7}")
    lines.append("confusion (rows: true digit; columns: predicted 0-9, then none)")
    lines.append("      " + " ".join(f"{c:>4}" for c in [*map(str, range(10)), "none"]))
    for digit, row in enumerate(evaluation.confusion):
        lines.append(f"{digit:>5} " + " ".join(f"{v:>4}" for v in row))
    return "\n".join(lines)


def write_evaluation(evaluation: Evaluation, out_dir: Path) -> Path:
    """Write evaluation.json and evaluation.html into `out_dir`; returns the HTML's path."""
    from batchdigits.output.report import render

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(out_dir / "evaluation.json", (json.dumps(asdict(evaluation), indent=1) + "\n").encode("utf-8"))
        html = render("evaluation.html", evaluation=evaluation)
        write_atomically(out_dir / "evaluation.html", html.encode("utf-8"))
    except OSError as exc:
        raise OutputFolderError(f"cannot write the evaluation in {out_dir}: {exc.strerror}") from None
    return out_dir / "evaluation.html"
