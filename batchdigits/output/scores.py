"""Counting how well texts and digits were read: exact strings, characters, digit counts, confusions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NONE_COLUMN = 10  # confusion-matrix column for images with no digit found or that failed


@dataclass(frozen=True)
class TextScores:
    """How read texts compare with known ones: `exact` share read exactly, `characters` character
    accuracy (1 - edit distance / length, summed over the texts), `count_right` share read with
    the right number of digits; each in [0, 1] over `labelled` texts."""

    labelled: int
    exact: float
    characters: float
    count_right: float


def compact(text: str | None) -> str:
    """A text without the spaces between its lines ("" for None): what labels are compared on."""
    return "" if text is None else text.replace(" ", "")


def edit_distance(first: str, second: str) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions from one to the other."""
    previous = list(range(len(second) + 1))
    for row, a in enumerate(first, 1):
        current = [row]
        for column, b in enumerate(second, 1):
            current.append(min(previous[column] + 1, current[column - 1] + 1, previous[column - 1] + (a != b)))
        previous = current
    return previous[-1]


def text_scores(pairs: list[tuple[str, str | None]]) -> TextScores:
    """(known text, read text or None) pairs -> their TextScores (texts compared without spaces)."""
    if not pairs:
        return TextScores(0, 0.0, 0.0, 0.0)
    known = [compact(truth) for truth, _ in pairs]
    read = [compact(said) for _, said in pairs]
    errors = sum(edit_distance(truth, said) for truth, said in zip(known, read))
    length = max(1, sum(len(truth) for truth in known))
    return TextScores(
        labelled=len(pairs),
        exact=round(sum(truth == said for truth, said in zip(known, read)) / len(pairs), 4),
        characters=round(max(0.0, 1 - errors / length), 4),
        count_right=round(sum(len(truth) == len(said) for truth, said in zip(known, read)) / len(pairs), 4),
    )


def confusion_counts(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(N,) true digits and (N,) predicted digits (-1 = none) -> (10, 11) int counts, [truth, said]; column 10 is none."""
    columns = np.where(np.asarray(predicted) < 0, NONE_COLUMN, predicted)
    confusion = np.zeros((10, NONE_COLUMN + 1), dtype=int)
    np.add.at(confusion, (np.asarray(truth, dtype=int), columns), 1)
    return confusion
