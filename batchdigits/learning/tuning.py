"""Choosing the SVC's C and gamma by writer-grouped cross-validation on the recipe's training data.

load_digits is in writer order, so its contiguous blocks stand for writers; a fold never holds a
writer (or any augmented copy of that writer's digits) on both sides. Folds are scored on the
load_digits rows only: the synthetic drawings have no writer and would flatter every setting.

Run `python -m batchdigits.learning.tuning` to print the table behind the constants in `model.py`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

DEFAULT_GRID = ((0.5, 0.002), (1.0, 0.0014), (1.0, 0.002), (1.0, 0.0028), (3.0, 0.0014), (3.0, 0.002))


@dataclass(frozen=True)
class GridScore:
    """One (C, gamma) setting: the accuracy on held-out writers of each fold, in [0, 1]."""

    C: float
    gamma: float
    fold_accuracies: tuple[float, ...]

    @property
    def mean(self) -> float:
        """Mean held-out accuracy over the folds."""
        return float(np.mean(self.fold_accuracies))


def grouped_search(training, grid=DEFAULT_GRID, *, folds: int = 5, real_groups: int | None = None,
                   jobs: int = 1) -> list[GridScore]:
    """Score each (C, gamma) of `grid` by GroupKFold over `training.groups`.

    Rows whose group is below `real_groups` (load_digits' writers) are the ones scored; None
    scores every held-out row.
    """
    from joblib import Parallel, delayed
    from sklearn.model_selection import GroupKFold

    splits = list(GroupKFold(n_splits=folds).split(training.features, training.labels, training.groups))
    scored = np.ones(len(training.labels), dtype=bool) if real_groups is None else training.groups < real_groups
    tasks = [(C, gamma, train, test[scored[test]]) for C, gamma in grid for train, test in splits]
    accuracies = Parallel(n_jobs=jobs)(
        delayed(_fold_accuracy)(training.features, training.labels, training.row_weights(), C, gamma, train, test)
        for C, gamma, train, test in tasks
    )
    return [
        GridScore(C=C, gamma=gamma, fold_accuracies=tuple(accuracies[index * folds:(index + 1) * folds]))
        for index, (C, gamma) in enumerate(grid)
    ]


def _fold_accuracy(features, labels, weights, C, gamma, train, test) -> float:
    """Accuracy on rows `test` of the model's SVC (its vote picks the digit) fitted on rows `train`."""
    from batchdigits.recognition.model import fit_svc

    if len(test) == 0:
        return float("nan")
    svc = fit_svc(features[train], labels[train], weights[train], C=C, gamma=gamma)
    return float((svc.predict(features[test]) == labels[test]).mean())


def format_scores(scores: list[GridScore]) -> str:
    """A plain-text table, best setting first."""
    lines = ["C        gamma    mean    folds"]
    for score in sorted(scores, key=lambda s: -s.mean):
        folds = " ".join(f"{a:.4f}" for a in score.fold_accuracies)
        lines.append(f"{score.C:<8g} {score.gamma:<8g} {score.mean:.4f}  {folds}")
    return "\n".join(lines)


def main(jobs: int = 2) -> None:
    """Build the default recipe's training set and print the grouped search over DEFAULT_GRID."""
    from batchdigits.recognition.model import WRITER_BLOCKS
    from batchdigits.learning.trainer import default_training_set

    print(format_scores(grouped_search(default_training_set(jobs), real_groups=WRITER_BLOCKS, jobs=jobs)))


if __name__ == "__main__":
    main(jobs=int(sys.argv[1]) if len(sys.argv) > 1 else 2)
