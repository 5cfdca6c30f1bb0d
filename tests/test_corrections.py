"""Learning from a person's corrections: `train --labels CSV --images DIR` and the CSV's rules."""

from __future__ import annotations

import json

import numpy as np
import pytest

from batchdigits.files.labels import LabelsFileError, read_training_labels
from drawing import digit_image, number_image


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "scans"
    (folder / "inbox").mkdir(parents=True)
    for digit in (3, 7):
        digit_image(digit, size=96, width=6).save(folder / "inbox" / f"d{digit}.png")
    number_image("4711", gap=0.35)[0].save(folder / "inbox" / "n4711.png")
    return folder


def _csv(tmp_path, text: str):
    path = tmp_path / "corrections.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_corrections_file_names_images_in_order(tmp_path, images):
    found = read_training_labels(_csv(tmp_path, "path,text\ninbox/d3.png,3\n\ninbox/n4711.png, 4711\n"), images)
    assert [(image.relative, image.text, image.line) for image in found] == [
        ("inbox/d3.png", "3", 2), ("inbox/n4711.png", "4711", 4)]
    assert found[0].path == (images / "inbox" / "d3.png").resolve()


@pytest.mark.parametrize("content, message", [
    ("inbox/d3.png,3\ninbox/gone.png,5\n", "line 2: inbox/gone.png is not a file"),
    ("inbox/d3.png,3\ninbox/d3.png,3\n", "line 2: inbox/d3.png is already labelled on line 1"),
    ("inbox/d3.png,3\n../outside.png,3\n", "line 2: ../outside.png is outside"),
    ("inbox/d3.png,3\ninbox/d7.png,seven\n", "line 2: the text 'seven' is not digits 0-9"),
    ("inbox/d3.png,3\ninbox/d7.png\n", "line 2: expected `path,text`"),
    ("inbox/d3.png,3,1,x\n", "line 1: expected `path,text`"),
    ("inbox/d3.png,3,x\n", "line 1: the page 'x' is not a whole number from 1"),
    ("inbox/d3.png,3,2\ninbox/d3.png,3\n", "line 2: inbox/d3.png is already labelled on line 1"),
    ("inbox/d3.png,3\ninbox/d3.png,3,2\n", "line 2: page 2 of inbox/d3.png is already labelled on line 1"),
    ("path,text\n", "names no image"),
])
def test_a_bad_line_is_named(tmp_path, images, content, message):
    (tmp_path / "outside.png").write_bytes((images / "inbox" / "d3.png").read_bytes())
    with pytest.raises(LabelsFileError) as caught:
        read_training_labels(_csv(tmp_path, content), images)
    assert message in str(caught.value)


def test_a_corrections_file_that_is_not_text_is_a_clear_error(tmp_path, images):
    labels = tmp_path / "corrections.csv"
    labels.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(LabelsFileError, match="cannot read"):
        read_training_labels(labels, images)
    with pytest.raises(LabelsFileError, match="cannot read"):
        read_training_labels(tmp_path / "missing.csv", images)


def test_train_refuses_a_bad_corrections_file_at_once_in_one_line(tmp_path, images, cli):
    labels = _csv(tmp_path, "inbox/d3.png,3\ninbox/d3.png,3\n")
    result = cli("train", "--labels", str(labels), "--images", str(images), "-o", str(tmp_path / "m.joblib"), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "line 2" in result.stderr and "Traceback" not in result.stderr
    alone = cli("train", "--labels", str(labels), "-o", str(tmp_path / "m.joblib"), timeout=60)
    assert alone.returncode == 2 and "--images" in alone.stderr
    assert not (tmp_path / "m.joblib").exists()


def test_user_images_become_glyphs_reproducibly(tmp_path, images, bundled_model):
    from batchdigits.learning.trainer import user_training_set

    (images / "inbox" / "blank.png").write_bytes(_blank_png())
    labels = _csv(tmp_path, "inbox/d3.png,3\ninbox/n4711.png,4711\ninbox/blank.png,5\ninbox/d7.png,7\n")
    found = read_training_labels(labels, images)
    training, left_out = user_training_set(found, bundled_model, seed=1, copies=2, jobs=1, first_group=40)
    # Each lone digit: its scan glyph and two redraws; the number: its four digits.
    assert training.labels.tolist() == [3, 3, 3, 7, 7, 7, 4, 7, 1, 1]
    assert len(left_out) == 1 and left_out[0].startswith("line 3: inbox/blank.png:")
    assert (training.groups == 40).all()
    from batchdigits.learning.trainer import USER_WEIGHT

    assert USER_WEIGHT > 1 and (training.row_weights() == USER_WEIGHT).all()  # a person's own writing counts more
    again, _ = user_training_set(found, bundled_model, seed=1, copies=2, jobs=2, first_group=40)
    assert np.array_equal(training.features, again.features)
    other, _ = user_training_set(found, bundled_model, seed=2, copies=2, jobs=1, first_group=40)
    assert not np.array_equal(training.features, other.features)
    assert np.array_equal(training.features[[0, 3, 6]], other.features[[0, 3, 6]])  # the scan glyphs stay


def test_the_report_s_export_reads_back_formula_guarded_paths_and_pages(tmp_path, images, bundled_model):
    """corrections.csv as the report writes it: results.csv's ' before a formula-like path, and a
    page column, empty for a whole file."""
    from batchdigits.files.labels import read_labels_file
    from batchdigits.learning.trainer import user_training_set

    digit_image(5, size=96, width=6).save(images / "inbox" / "=5.png")
    digit_image(1, size=96, width=6).save(images / "inbox" / "doc.tif", save_all=True,
                                         append_images=[digit_image(2, size=96, width=6)])
    exported = _csv(tmp_path, "path,text,page\n'inbox/=5.png,5,\ninbox/doc.tif,2,2\ninbox/d3.png,3,\n")
    assert read_labels_file(exported) == {"'inbox/=5.png": "5", ("inbox/doc.tif", 2): "2", "inbox/d3.png": "3"}
    guarded = _csv(tmp_path, "'=5.png,5\n")
    assert read_labels_file(guarded) == {"'=5.png": "5", "=5.png": "5"}  # as results.csv shows it, and as it is

    found = read_training_labels(_csv(tmp_path, "'=5.png,5\ndoc.tif,2,2\ndoc.tif,1,1\n"), images / "inbox")
    assert [(image.path.name, image.page) for image in found] == [("=5.png", None), ("doc.tif", 2), ("doc.tif", 1)]
    training, left_out = user_training_set(found, bundled_model, seed=1, copies=0, jobs=1, first_group=40)
    assert left_out == [] and training.labels.tolist() == [5, 2, 1]
    assert not np.array_equal(training.features[1], training.features[2])  # each page its own glyph
    for line, reason in [("doc.tif,2,3", "doc.tif page 3: cannot be read (the document has 2 pages, not a page 3)"),
                         ("doc.tif,1", "doc.tif: cannot be read (a document of 2 pages: name the page)")]:
        wrong = read_training_labels(_csv(tmp_path, line + "\n"), images / "inbox")
        _, left_out = user_training_set(wrong, bundled_model, seed=1, copies=0, jobs=1, first_group=40)
        assert left_out == [f"line 1: {reason}"]


def test_a_model_trained_with_user_images_records_them_and_scans(tmp_path, images, cli):
    import hashlib

    from batchdigits.learning.trainer import train_model
    from batchdigits.recognition.model import load_model

    labels = _csv(tmp_path, "inbox/d3.png,3\ninbox/d7.png,7\ninbox/n4711.png,4711\n")
    out = tmp_path / "my-model.joblib"
    card = train_model(out, copies=0, synthetic=0, numbers=24, labels=labels, images=images, jobs=2)
    assert card.user_images == 3 and card.user_labels_sha256 == hashlib.sha256(labels.read_bytes()).hexdigest()
    assert "user images (3 of 3 labelled" in card.trained_on
    assert json.loads(out.with_suffix(".json").read_text())["user_images"] == 3
    assert load_model(out).one_digit_of is not None
    result = cli("scan", str(images), "-o", str(tmp_path / "report"), "--model", str(out), "-q")
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "report" / "results.json").read_text())
    assert document["model"]["sha256"] == card.sha256 and document["summary"]["files"] == 3


def _blank_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, "PNG")
    return buffer.getvalue()
