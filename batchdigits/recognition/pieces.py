"""Whether a candidate digit of a number is one digit: not two touching digits read as one wide
digit, nor a fragment of one.

The digit classifier only knows ten classes, so it reads a merged pair ("50") or half a digit
as some digit, often surely. A second model, trained on numbers composed from the training
digits (learning/pieces.py), looks at each candidate's glyph, shape and the classifier's
probabilities and says how likely it is exactly one digit; reading.classify turns that into
part of the candidate's cost. It is a gradient-boosted tree ensemble, kept as plain arrays so
that a scan needs no scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURES = 94  # 64 glyph cells, 10 shape figures, the classifier's digit (one-hot) and its 10 probabilities
FLOOR = 1e-6


def piece_features(table: np.ndarray) -> np.ndarray:
    """A classified (K,) reading.CANDIDATE table -> (K, FEATURES) float64 features of each
    candidate (skip rows all zero): its glyph (0..1), its shape (width over height, height and
    width in its line's digit heights, atoms, shape cost, ...) and the classifier's probabilities."""
    features = np.zeros((len(table), FEATURES))
    real = np.nonzero(~table["skip"])[0]
    if len(real) == 0:
        return features
    rows = table[real]
    widths = rows["box"][:, 2].astype(np.float64)
    heights = np.maximum(rows["box"][:, 3], 1).astype(np.float64)
    atoms = (rows["end"] - rows["first"]).astype(np.float64)
    line_height = np.empty(len(rows))
    for line in np.unique(rows["line"]):
        members = rows["line"] == line
        single = heights[members & (atoms == 1)] if (members & (atoms == 1)).any() else heights[members]
        # As segment's digit height: the median of the atoms at least half the tallest's height,
        # so a digit cut into fragments (by a ruled line, a lifted pen) is not measured by them.
        line_height[members] = np.median(single[single >= 0.5 * single.max()])
    ordered = np.sort(rows["p"], axis=1)[:, ::-1]
    relative_width = widths / line_height
    features[real, :64] = rows["glyph"] / 16.0
    features[real, 64:74] = np.column_stack([
        widths / heights, heights / line_height, relative_width, np.log(np.maximum(ordered[:, 0], FLOOR)),
        ordered[:, 1], rows["cost"], atoms, rows["whole"].astype(np.float64), relative_width ** 2,
        np.log(np.maximum(ordered[:, 0] - ordered[:, 1], FLOOR)),
    ])
    features[real, 74 + rows["p"].argmax(axis=1)] = 1.0
    features[real, 84:94] = rows["p"]
    return features


@dataclass
class OneDigitScorer:
    """A fitted binary scikit-learn HistGradientBoostingClassifier as flat arrays of its trees'
    nodes (child indexes global, not per tree), predicting as it does for inputs without NaN."""

    baseline: float
    roots: np.ndarray  # (T,) int: each tree's first node
    feature: np.ndarray  # (nodes,) int
    threshold: np.ndarray  # (nodes,) float64: go left when the feature is at most this
    left: np.ndarray  # (nodes,) int
    right: np.ndarray  # (nodes,) int
    leaf: np.ndarray  # (nodes,) bool
    value: np.ndarray  # (nodes,) float64: a leaf's share of the raw score
    depth: int  # the deepest leaf's depth

    @classmethod
    def of(cls, boosted) -> "OneDigitScorer":
        """The arrays of a fitted binary HistGradientBoostingClassifier on numerical features."""
        trees = [predictors[0].nodes for predictors in boosted._predictors]
        sizes = np.array([len(nodes) for nodes in trees])
        offsets = np.r_[0, np.cumsum(sizes)[:-1]]
        nodes = np.concatenate(trees)
        shift = np.repeat(offsets, sizes)
        return cls(
            baseline=float(np.ravel(boosted._baseline_prediction)[0]),
            roots=offsets.astype(np.int64),
            feature=nodes["feature_idx"].astype(np.int64),
            threshold=nodes["num_threshold"].astype(np.float64),
            left=(nodes["left"].astype(np.int64) + shift),
            right=(nodes["right"].astype(np.int64) + shift),
            leaf=nodes["is_leaf"].astype(bool),
            value=nodes["value"].astype(np.float64),
            depth=int(nodes["depth"].max()),
        )

    def probability(self, features: np.ndarray) -> np.ndarray:
        """(N, FEATURES) piece_features rows -> (N,) probability in (0, 1) that each is one digit."""
        features = np.asarray(features, dtype=np.float64)
        if len(features) == 0:
            return np.zeros(0)
        node = np.broadcast_to(self.roots, (len(features), len(self.roots))).copy()
        rows = np.arange(len(features))[:, None]
        for _ in range(self.depth):
            inner = ~self.leaf[node]
            if not inner.any():
                break
            goes_left = features[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(inner, np.where(goes_left, self.left[node], self.right[node]), node)
        raw = self.baseline + self.value[node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-raw))
