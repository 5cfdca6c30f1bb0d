"""Model files: verified against their card before unpickling, refused with a one-line fix."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from batchdigits.errors import ModelError
from batchdigits.recognition.model import card_path, load_model
from batchdigits.resources import bundled_model_path
from drawing import digit_image


@pytest.fixture
def model_copy(tmp_path):
    source = bundled_model_path()
    target = tmp_path / "copy.joblib"
    shutil.copy(source, target)
    shutil.copy(card_path(source), card_path(target))
    return target


def test_bundled_model_has_a_complete_card(bundled_model):
    card = bundled_model.card
    assert len(card.sha256) == 64
    assert "load_digits" in card.trained_on
    assert card.metrics["load_digits_split_accuracy"] >= 0.95
    assert set(card.hyperparameters) >= {"C", "gamma", "calibration"}


def test_probabilities_are_calibrated_rows(bundled_model):
    from batchdigits.recognition.glyph import glyph_from_image
    from drawing import as_rgb_float

    features = np.array([glyph_from_image(as_rgb_float(digit_image(d))).model_input for d in range(10)])
    probabilities = bundled_model.probabilities(features)
    assert probabilities.shape == (10, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities.argmax(axis=1).tolist() == list(range(10))


def test_flipped_byte_is_refused_before_unpickling(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the sha256"):
        load_model(model_copy)


def test_truncated_model_is_refused(model_copy):
    model_copy.write_bytes(model_copy.read_bytes()[:1000])
    with pytest.raises(ModelError, match="batchdigits train"):
        load_model(model_copy)


def test_other_sklearn_version_is_refused(model_copy):
    card = json.loads(card_path(model_copy).read_text())
    card["sklearn"] = "0.24.2"
    card_path(model_copy).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="scikit-learn 0.24.2"):
        load_model(model_copy)


def test_file_without_card_is_refused(tmp_path):
    stranger = tmp_path / "stranger.joblib"
    stranger.write_bytes(b"not ours")
    with pytest.raises(ModelError, match="card .* is missing"):
        load_model(stranger)


def test_scan_with_a_damaged_model_exits_three_with_one_line(model_copy, tmp_path, cli):
    data = bytearray(model_copy.read_bytes())
    data[-10] ^= 0x01
    model_copy.write_bytes(bytes(data))
    folder = tmp_path / "in"
    folder.mkdir()
    digit_image(3, size=80).save(folder / "three.png")
    result = cli("scan", str(folder), "-o", str(tmp_path / "out"), "--model", str(model_copy))
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert "batchdigits train" in result.stderr
    assert not (tmp_path / "out" / "report.html").exists()


def test_the_verified_bytes_are_what_gets_unpickled(model_copy, bundled_model):
    from batchdigits.recognition.glyph import glyph_from_image
    from batchdigits.recognition.model import unpickle_model, verify_model
    from drawing import as_rgb_float

    card, payload = verify_model(model_copy)
    model_copy.write_bytes(b"replaced after the check")  # as if swapped while a scan decodes
    model = unpickle_model(model_copy, card, payload)
    features = np.array([glyph_from_image(as_rgb_float(digit_image(d))).model_input for d in (3, 8)])
    assert model.card.sha256 == bundled_model.card.sha256
    assert np.array_equal(model.probabilities(features), bundled_model.probabilities(features))
