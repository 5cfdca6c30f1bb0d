"""Training is deterministic for a seed and goes through the glyph; evaluation measures honestly."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from batchdigits.files.datasets import read_idx, read_mnist
from batchdigits.errors import DatasetError
from batchdigits.output.evaluate import calibration, measure
from batchdigits.recognition.glyph import MODEL_INPUT
from batchdigits.scan import DEFAULT_REVIEW_BELOW
from batchdigits.learning.training import augment, augmented_features, picture_from_8x8
from drawing import REPO, digit_image


def test_augmentation_is_deterministic_and_independent_of_chunking():
    from sklearn.datasets import load_digits

    digits = load_digits()
    cells, labels = digits.images[:6], digits.target[:6]
    whole = augmented_features(cells, labels, copies=2, seed=3)
    parts = np.vstack([augmented_features(cells[:4], labels[:4], 2, 3),
                       augmented_features(cells[4:], labels[4:], 2, 3, first_index=4)])
    assert whole.shape == (18, MODEL_INPUT)
    assert np.array_equal(whole, parts)
    assert not np.array_equal(whole, augmented_features(cells, labels, copies=2, seed=4))


def test_synthetic_drawings_are_deterministic_and_read_as_their_digit(bundled_model):
    from batchdigits.learning.synthetic import synthetic_picture
    from batchdigits.learning.training import synthetic_features

    picture = synthetic_picture(7, np.random.default_rng(0))
    assert picture.shape == (96, 96) and picture.min() == 0.0 and picture.max() == 1.0
    assert np.array_equal(picture, synthetic_picture(7, np.random.default_rng(0)))
    digits = np.repeat(np.arange(10), 3)
    features = synthetic_features(digits, seed=0)
    assert np.array_equal(features[5:], synthetic_features(digits[5:], seed=0, first_index=5))
    predicted = bundled_model.probabilities(features).argmax(axis=1)
    assert (predicted == digits).mean() >= 0.8


def test_every_synthetic_style_reads_as_its_digit(bundled_model):
    """Each pen-stroke style draws its own digit: a style that drew something else would teach
    the model a wrong answer for every drawing of it."""
    from batchdigits.recognition.glyph import glyph_from_image
    from batchdigits.learning.synthetic import style_count, synthetic_picture

    read, drawn = [], []
    for digit in range(10):
        assert style_count(digit) >= 2
        for style in range(style_count(digit)):
            features = [glyph_from_image(synthetic_picture(digit, np.random.default_rng([digit, style, k]), style)).model_input
                        for k in range(4)]
            predicted = bundled_model.probabilities(np.array(features)).argmax(axis=1)
            assert (predicted == digit).sum() >= 3, (digit, style, predicted)
            read.extend(predicted)
            drawn.extend([digit] * 4)
    assert np.mean(np.array(read) == np.array(drawn)) >= 0.9


def test_a_chosen_style_changes_only_the_strokes():
    from batchdigits.learning.synthetic import style_count, synthetic_picture

    pictures = {synthetic_picture(2, np.random.default_rng(1), style).tobytes() for style in range(style_count(2))}
    assert len(pictures) == style_count(2)  # each style draws differently
    # The same random numbers are drawn whatever the style, so the random choice is one of them.
    assert synthetic_picture(2, np.random.default_rng(1)).tobytes() in pictures


def test_distorted_synthetic_twins_are_the_same_drawings_weighted_less_in_the_same_fold():
    from batchdigits.learning.trainer import DISTORTED_WEIGHT, synthetic_training_set
    from batchdigits.learning.training import DISTORTED_ELASTIC, ELASTIC, synthetic_features

    digits = np.arange(10)
    plain = synthetic_features(digits, seed=0)
    assert np.array_equal(plain, synthetic_features(digits, seed=0, elastic=ELASTIC))
    distorted = synthetic_features(digits, seed=0, elastic=DISTORTED_ELASTIC)
    assert not np.array_equal(plain, distorted)
    # The same drawing bent further: most of its ink stays put (other drawings of a digit share ~0.45).
    overlap = np.minimum(plain, distorted).sum(axis=1) / np.maximum(plain, distorted).sum(axis=1)
    assert np.median(overlap) > 0.65

    training = synthetic_training_set(2, seed=0, jobs=1, first_group=13)
    assert training.features.shape == (40, MODEL_INPUT)
    assert np.array_equal(training.features[20:], synthetic_features(np.tile(digits, 2), 0, elastic=DISTORTED_ELASTIC))
    assert np.array_equal(training.labels[:20], training.labels[20:])
    assert np.array_equal(training.groups[:20], training.groups[20:])
    assert set(training.row_weights()[:20]) == {1.0} and set(training.row_weights()[20:]) == {DISTORTED_WEIGHT}


def test_the_svcs_vote_picks_the_digit_and_the_calibration_says_how_sure():
    from sklearn.datasets import load_digits

    from batchdigits.recognition.model import (
        SVC_C,
        SVC_GAMMA,
        WRITER_BLOCKS,
        SVCArrays,
        fit_svc,
        make_classifier,
        pair_scores,
        rbf_pair_margins,
    )

    digits = load_digits()
    features, labels = digits.data[:900], digits.target[:900]
    groups = np.arange(len(labels)) * WRITER_BLOCKS // len(labels)
    model = make_classifier(groups, labels, seed=0, jobs=2).fit(features, labels)
    unseen = digits.data[900:]
    probabilities = model.predict_proba(unseen)
    assert model.calibrator_.coef_.shape == (10, 55)
    votes = pair_scores(model.svc_, unseen)[:, -10:]
    assert np.array_equal(probabilities.argmax(axis=1), votes.argmax(axis=1))
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    # Prediction computes the SVC's margins itself (one matrix product); they must be libsvm's.
    svc = fit_svc(features, labels, np.ones(len(labels)), C=SVC_C, gamma=SVC_GAMMA)
    margins = rbf_pair_margins(SVCArrays.of(svc), unseen, chunk=100)
    assert np.abs(margins - svc.decision_function(unseen)).max() < 1e-9
    assert np.array_equal(SVCArrays.of(svc).support_vectors_, model.svc_.support_vectors_)

    class Doubtful:
        """A calibration that always favours 3, whatever the SVC says."""

        classes_ = np.arange(10)

        def predict_proba(self, scores):
            return np.tile([0.02, 0.05, 0.03, 0.6, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03], (len(scores), 1))

    model.calibrator_ = Doubtful()
    sevens = unseen[digits.target[900:] == 7][:3]
    swapped = model.predict_proba(sevens)
    assert (swapped.argmax(axis=1) == 7).all()
    assert np.allclose(swapped[:, 7], 0.6) and np.allclose(swapped[:, 3], 0.04)
    assert np.allclose(swapped[:, [0, 1, 2, 4]], [0.02, 0.05, 0.03, 0.1])


def test_the_calibration_as_arrays_gives_scikit_learns_probabilities():
    from sklearn.linear_model import LogisticRegression

    from batchdigits.recognition.model import SoftmaxArrays

    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=(300, 55)), rng.integers(0, 10, 300)
    regression = LogisticRegression(C=0.05, max_iter=3000).fit(scores, labels)
    unseen = rng.normal(size=(50, 55)) * 3
    assert np.array_equal(SoftmaxArrays.of(regression).predict_proba(unseen), regression.predict_proba(unseen))


def test_loading_the_model_imports_no_scikit_learn():
    """A scan pays neither the second nor the memory that importing scikit-learn costs."""
    from batchdigits.resources import bundled_model_path

    code = (
        "import sys; from batchdigits.recognition.model import load_model; "
        f"model = load_model(__import__('pathlib').Path({str(bundled_model_path())!r})); "
        "model.probabilities(__import__('numpy').zeros((1, 256))); "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'sklearn'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_row_weights_reach_the_svc():
    from sklearn.datasets import load_digits

    from batchdigits.recognition.model import WRITER_BLOCKS, make_classifier

    digits = load_digits()
    features, labels = digits.data[:600], digits.target[:600]
    groups = np.arange(len(labels)) * WRITER_BLOCKS // len(labels)
    even = make_classifier(groups, labels, seed=0).fit(features, labels)
    weights = np.where(labels == 8, 0.01, 1.0)  # 8s barely count: fewer of them hold the margin
    light = make_classifier(groups, labels, seed=0).fit(features, labels, weights)
    unseen_eights = digits.data[600:][digits.target[600:] == 8]
    def eights(model):
        return (model.predict_proba(unseen_eights).argmax(axis=1) == 8).sum()

    assert eights(light) < eights(even)


def test_augment_keeps_shape_and_range():
    from sklearn.datasets import load_digits

    picture = picture_from_8x8(load_digits().images[0])
    assert picture.shape == (96, 96) and picture.min() >= 0 and picture.max() <= 1
    changed = augment(picture, np.random.default_rng(0))
    assert changed.shape == picture.shape and 0 <= changed.min() and changed.max() <= 1
    assert not np.array_equal(changed, picture)


def test_training_twice_with_one_seed_gives_the_same_model(tmp_path):
    from batchdigits.learning.trainer import train_model

    first = train_model(tmp_path / "a.joblib", seed=5, copies=0, synthetic=20, jobs=1)
    second = train_model(tmp_path / "b.joblib", seed=5, copies=0, synthetic=20, jobs=1)
    assert first.sha256 == second.sha256
    assert first.metrics["load_digits_split_accuracy"] > 0.9
    card = json.loads((tmp_path / "a.json").read_text())
    assert card["seed"] == 5 and card["sha256"] == first.sha256
    assert "synthetic handwriting (200 drawings, and each again distorted more, weighted 0.5)" in card["trained_on"]


def test_measure_counts_by_hand():
    truth = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, -1])
    confidence = np.array([0.9, 0.6, 0.95, 0.85, 0.0])
    evaluation = measure(truth, predicted, confidence, source="t", model="m", review_below=0.8)
    assert evaluation.accuracy == 0.6
    assert evaluation.confusion[0][:2] == [1, 1] and evaluation.confusion[2][10] == 1
    assert evaluation.per_digit[1]["precision"] == round(2 / 3, 4) and evaluation.per_digit[1]["recall"] == 1.0
    assert evaluation.no_prediction == 1 and evaluation.flagged == 1
    assert evaluation.error_rate_unflagged == 0.0


def test_review_table_lists_the_threshold_in_use_among_the_candidates():
    truth = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, -1])
    confidence = np.array([0.9, 0.6, 0.95, 0.85, 0.0])
    evaluation = measure(truth, predicted, confidence, source="t", model="m", review_below=0.87)
    thresholds = [row["threshold"] for row in evaluation.review_table]
    assert thresholds == [0.5, 0.6, 0.7, 0.8, 0.87, 0.9, 0.95]
    in_use = evaluation.review_table[thresholds.index(0.87)]
    # Of the four answers, the 0.6 and 0.85 ones fall below 0.87; the two kept are both right.
    assert in_use["flagged"] == 0.5 and in_use["error_rate_unflagged"] == 0.0
    at_default = measure(truth, predicted, confidence, source="t", model="m", review_below=DEFAULT_REVIEW_BELOW)
    assert DEFAULT_REVIEW_BELOW in [row["threshold"] for row in at_default.review_table]


def test_calibration_error_of_a_perfectly_calibrated_set_is_zero():
    confidence = np.array([0.75] * 4)
    correct = np.array([True, True, True, False])
    ece, table = calibration(confidence, correct)
    assert ece == 0.0 and table[0]["count"] == 4


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_mnist_idx_files_plain_and_gzipped(tmp_path):
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[:, 5:23, 13:15] = 255
    labels = np.array([1, 1, 1], dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(labels))
    read_images, read_labels = read_mnist(tmp_path)
    assert read_images.shape == (3, 28, 28) and read_labels.tolist() == [1, 1, 1]
    (tmp_path / "broken").write_bytes(_idx(images)[:-5])
    with pytest.raises(DatasetError, match="promises"):
        read_idx(tmp_path / "broken")


def test_mnist_training_set_goes_through_the_glyph(tmp_path):
    from batchdigits.learning.trainer import mnist_training_set

    images = np.zeros((2, 28, 28), dtype=np.uint8)
    images[:, 4:24, 12:16] = 255
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(images))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.array([1, 1], dtype=np.uint8)))
    training = mnist_training_set(tmp_path, jobs=1, first_group=13)
    assert training.features.shape == (2, MODEL_INPUT) and training.labels.tolist() == [1, 1]


def _labelled_folder(root, digits=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)):
    for digit in digits:
        (root / str(digit)).mkdir(parents=True)
        for width in (4, 9):
            digit_image(digit, size=120, width=width, seed=digit + width).save(root / str(digit) / f"{width}.png")
    return root


def test_evaluate_a_labelled_folder_through_the_cli(tmp_path, cli):
    folder = _labelled_folder(tmp_path / "labelled")
    result = cli("evaluate", str(folder), "-o", str(tmp_path / "eval"))
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and "confusion" in result.stdout
    evaluation = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert evaluation["images"] == 20
    assert evaluation["accuracy"] >= 0.9
    assert len(evaluation["confusion"]) == 10 and len(evaluation["confusion"][0]) == 11
    assert (tmp_path / "eval" / "evaluation.html").read_text().count("<tr>") >= 20


def test_train_with_an_extra_folder(tmp_path):
    from batchdigits.learning.trainer import folder_training_set

    training = folder_training_set(_labelled_folder(tmp_path / "extra", digits=(3, 8)), jobs=1, first_group=13)
    assert training.features.shape == (4, MODEL_INPUT) and sorted(training.labels.tolist()) == [3, 3, 8, 8]


def test_evaluate_on_an_empty_folder_is_a_clear_error(tmp_path, cli):
    (tmp_path / "nothing").mkdir()
    result = cli("evaluate", str(tmp_path / "nothing"), "-o", str(tmp_path / "eval"))
    assert result.returncode == 3 and "subfolders named 0 to 9" in result.stderr


def test_evaluate_split_trains_on_first_half_and_tests_on_second(monkeypatch, tmp_path):
    import batchdigits.learning.trainer
    from batchdigits.output.evaluate import evaluate_split, format_text, write_evaluation

    # The recipe with less augmentation and fewer synthetic drawings, for speed.
    monkeypatch.setattr(batchdigits.learning.trainer, "DEFAULT_COPIES", 0)
    monkeypatch.setattr(batchdigits.learning.trainer, "DEFAULT_SYNTHETIC", 20)
    evaluation = evaluate_split(review_below=0.8, jobs=1)
    assert evaluation.images == 1797 - 1797 // 2
    assert evaluation.accuracy > 0.9
    assert sum(map(sum, evaluation.confusion)) == evaluation.images
    assert 0 <= evaluation.expected_calibration_error < 0.2
    assert "accuracy" in format_text(evaluation)
    assert write_evaluation(evaluation, tmp_path).is_file()


@pytest.fixture
def small_recipe(monkeypatch):
    """The default recipe with no augmented copies and few synthetic drawings, for speed."""
    import batchdigits.learning.trainer

    monkeypatch.setattr(batchdigits.learning.trainer, "DEFAULT_COPIES", 0)
    monkeypatch.setattr(batchdigits.learning.trainer, "DEFAULT_SYNTHETIC", 20)


def test_compare_trains_each_family_on_the_same_split(small_recipe, tmp_path):
    from batchdigits.output.compare import compare_on_split, format_comparison, write_comparison

    results = compare_on_split(review_below=0.9, jobs=1)
    assert [result.family.split()[0] for result in results] == ["SVC", "k-nearest", "MLP"]
    for result in results:
        evaluation = result.evaluation
        assert evaluation.images == 1797 - 1797 // 2
        assert sum(map(sum, evaluation.confusion)) == evaluation.images
        assert evaluation.accuracy > 0.85
        assert 0 <= evaluation.expected_calibration_error < 0.3
        assert result.train_seconds > 0 and result.predict_ms_per_image > 0
    # The families are different models, not one model measured three times.
    assert len({tuple(map(tuple, result.evaluation.confusion)) for result in results}) == 3
    table = format_comparison(results).splitlines()
    assert len(table) == 2 + len(results) and "ECE" in table[1]
    html = write_comparison(results, tmp_path)
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert [row["family"] for row in saved] == [result.family for result in results]
    assert saved[0]["evaluation"]["accuracy"] == results[0].evaluation.accuracy
    assert html.read_text().count("<tr>") >= 3 + 3 * 11


def test_evaluate_compare_on_a_labelled_folder(small_recipe, tmp_path):
    from typer.testing import CliRunner

    from batchdigits.cli import app

    folder = _labelled_folder(tmp_path / "labelled", digits=(0, 1, 7))
    result = CliRunner().invoke(app, ["evaluate", str(folder), "--compare", "-j", "1", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith(("SVC", "k-nearest", "MLP"))]
    assert len(rows) == 3
    saved = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert all(row["evaluation"]["images"] == 6 for row in saved)
    assert saved[0]["evaluation"]["source"] == str(folder)


def test_evaluate_compare_refuses_a_model(tmp_path, cli):
    result = cli("evaluate", "--compare", "--model", str(tmp_path / "m.joblib"), "-o", str(tmp_path / "out"))
    assert result.returncode == 2 and "--compare" in result.stderr
    assert not (tmp_path / "out").exists()


def test_grouped_search_scores_held_out_writers_and_ranks_a_bad_gamma_last():
    from sklearn.datasets import load_digits

    from batchdigits.recognition.model import WRITER_BLOCKS
    from batchdigits.learning.trainer import TrainingSet
    from batchdigits.learning.tuning import format_scores, grouped_search

    digits = load_digits()
    writer = np.arange(len(digits.target)) * WRITER_BLOCKS // len(digits.target)
    training = TrainingSet(features=digits.data, labels=digits.target, groups=writer, description=[])
    scores = grouped_search(training, grid=((3.0, 0.001), (3.0, 1.0)), folds=3, real_groups=WRITER_BLOCKS)
    good, bad = scores
    assert len(good.fold_accuracies) == 3 and good.mean > 0.9
    assert bad.mean < 0.5  # a kernel this narrow knows only its training points, not new writers
    assert format_scores(scores).splitlines()[1].startswith("3 ")


def test_the_models_setting_is_among_those_the_grouped_search_scores():
    from batchdigits.recognition.model import SVC_C, SVC_GAMMA
    from batchdigits.learning.tuning import DEFAULT_GRID

    assert (SVC_C, SVC_GAMMA) in DEFAULT_GRID


def test_evaluate_and_the_report_label_files_by_the_same_folder_rule(tmp_path):
    from batchdigits.files.datasets import labelled_files
    from batchdigits.files.labels import item_label

    for relative in ("4/a.png", "set/7/b.png", "3/day-2/c.png", "notes/d.png", "12/e.png"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        digit_image(1, size=40, width=3).save(tmp_path / relative)
    labelled = {item.path: item.label for item in labelled_files(tmp_path)}
    assert labelled == {"4/a.png": 4, "set/7/b.png": 7, "3/day-2/c.png": 3}
    paths = ["4/a.png", "set/7/b.png", "3/day-2/c.png", "notes/d.png", "12/e.png", "7/3/f.png", "90210/g.png"]
    # The innermost folder named with digits counts: a lone digit, or a number for the report.
    assert [item_label(path, None) for path in paths] == ["4", "7", "3", None, "12", "3", "90210"]


def test_the_judge_of_one_digit_as_arrays_gives_scikit_learns_probabilities():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from batchdigits.recognition.pieces import OneDigitScorer

    rng = np.random.default_rng(0)
    features = rng.normal(size=(600, 94))
    truth = (features[:, 3] + features[:, 70] * features[:, 5] > 0.2).astype(int)
    boosted = HistGradientBoostingClassifier(max_iter=40, early_stopping=False, random_state=0).fit(features, truth)
    scorer = OneDigitScorer.of(boosted)
    fresh = rng.normal(size=(300, 94))
    assert np.allclose(scorer.probability(fresh), boosted.predict_proba(fresh)[:, 1], atol=1e-12)
    assert scorer.probability(np.empty((0, 94))).shape == (0,)


def test_composed_numbers_are_deterministic_and_their_candidates_labelled_by_the_drawn_digits():
    from batchdigits.learning.pieces import composed_candidates, one_digit_labels
    from batchdigits.learning.trainer import load_digits_split

    _, _, cells, labels = load_digits_split()
    cells, labels = cells[:300], labels[:300]
    whole = composed_candidates(cells, labels, 6, seed=1)
    assert len(whole) >= 4
    parts = composed_candidates(cells, labels, 3, seed=1) + composed_candidates(cells, labels, 3, seed=1, first_index=3)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2]) for a, b in zip(whole, parts))
    for table, inputs, truth in whole:
        assert len(inputs) == len(table) and ((truth == -1) == table["skip"]).all()
        assert set(truth[~table["skip"]].tolist()) <= {0, 1} and truth.max() == 1
    # By hand: two drawn digits, a candidate on each, one over both, the left half of one, its
    # bottom third (cut off by a printed line), and a skip row.
    from batchdigits.recognition.reading import CANDIDATE

    table = np.zeros(6, CANDIDATE)
    table["box"] = [(10, 0, 20, 30), (40, 0, 22, 30), (10, 0, 52, 30), (10, 0, 10, 30), (10, 20, 20, 10), (0, 0, 0, 0)]
    table["skip"][5] = True
    assert one_digit_labels(table, [(10, 2, 20, 28), (41, 1, 20, 29)]).tolist() == [1, 1, 0, 0, 0, -1]
