"""Numbers: an image's digits found in reading order and read one by one (segment.py, reading.py),
and what scans, the results and the report make of them."""

from __future__ import annotations

import csv
import json
import sqlite3
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from batchdigits.files.decode import decode_image
from batchdigits.recognition.model import load_model
from batchdigits.recognition.reading import best_reading, candidates, classify
from batchdigits.resources import bundled_model_path
from drawing import make_samples, number_image


@pytest.fixture(scope="module")
def model():
    return load_model(bundled_model_path())


def read(image: Image.Image, model, digits: int | None = None, fmt: str = "PNG"):
    """An image through the scan's path: decoded from its file bytes, segmented, classified, read."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    decoded = decode_image(buffer.getvalue())
    table, inputs, reason = candidates(decoded.rgb, decoded.upright_size)
    if reason is not None:
        return reason
    classify([table], [inputs], model.probabilities, model.one_digit_of)
    return best_reading(table, digits)


def draw_strokes(image: Image.Image, box, strokes, width: int) -> None:
    """Pen strokes given in a unit box (x right, y down), drawn into `box` of `image`."""
    left, top, right, bottom = box
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        points = [(left + x * (right - left), top + y * (bottom - top)) for x, y in stroke]
        draw.line(points, fill=(20, 20, 20), width=width, joint="curve")


@pytest.mark.parametrize("text, gap", [("90210", 0.3), ("4711", 0.3), ("306", 0.0), ("8532", 0.6)])
def test_a_number_is_read_in_order_whatever_the_gaps(model, text, gap):
    image, _ = number_image(text, gap=gap)
    reading = read(image, model)
    assert reading.text == text
    lefts = [digit.box[0] for digit in reading.digits]
    assert lefts == sorted(lefts)


@pytest.mark.parametrize("text, gap, seed", [("6384", -0.15, 3), ("4692", -0.12, 6), ("2645", -0.14, 8)])
def test_touching_digits_are_split(model, text, gap, seed):
    image, _ = number_image(text, gap=gap, width=7, seed=seed)
    assert _components(image) < len(text), "the test must draw digits that touch"
    assert read(image, model).text == text


def _components(image: Image.Image) -> int:
    from scipy import ndimage

    ink = np.asarray(image.convert("L")) < 128
    return ndimage.label(ink, structure=np.ones((3, 3)))[1]


def test_broken_strokes_join_their_digit(model):
    image = Image.new("RGB", (330, 180), "white")
    # A 4 in two strokes (the bar stops short of the stem), and a 5 whose flag is detached.
    draw_strokes(image, (30, 30, 120, 150), [[(0.5, 0.0), (0.05, 0.66), (0.62, 0.66)], [(0.78, 0.05), (0.78, 1.0)]], 7)
    body = make_samples._arc(0.5, 0.67, 0.3, 0.28, 225, 510)
    draw_strokes(image, (180, 30, 280, 150), [[(0.3, 0.12), (0.26, 0.46)] + body, [(0.4, 0.02), (0.85, 0.02)]], 7)
    assert _components(image) == 4
    reading = read(image, model)
    assert reading.text == "45"
    assert all(digit.box[3] > 100 for digit in reading.digits)  # each digit's box holds all its strokes


def test_comb_boxes_are_print_not_digits(model):
    image = Image.new("RGB", (560, 190), "white")
    make_samples.draw_comb(image, (20, 20), 5, (100, 140), colour=(40, 40, 40), width=2)
    for index, character in enumerate("30582"):
        make_samples.draw_number(character, image, (45 + index * 100, 40), height=100, width=7,
                                 ink=(20, 20, 20), rng=np.random.default_rng(index))
    reading = read(image, model)
    assert reading.text == "30582"  # no 1s from the comb's ticks, no 7 from its corners


def test_an_underline_and_specks_are_not_ink_of_the_digits(model):
    image, _ = number_image("5093", gap=0.35)
    draw = ImageDraw.Draw(image)
    draw.line([(5, image.height - 20), (image.width - 5, image.height - 20)], fill=(20, 20, 20), width=3)
    rng = np.random.default_rng(4)
    for _ in range(25):
        x, y = rng.integers(0, image.width), rng.integers(0, image.height)
        draw.point((int(x), int(y)), fill=(30, 30, 30))
    assert read(image, model).text == "5093"


def test_a_little_skew_of_the_whole_line(model):
    image, _ = number_image("27364", gap=0.3)
    tilted = image.rotate(4, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC)
    assert read(tilted, model).text == "27364"


def test_a_digit_written_lighter_than_the_rest_is_read(model):
    # One pen pressed less: the 7 is a light grey beside black digits, and keeps more than its core.
    image, boxes = number_image("3715", gap=0.35)
    light, _ = number_image("3715", gap=0.35, ink=(175, 175, 175))
    left, _, right, _ = boxes[1]
    margin = 0.1 * (boxes[2][0] - boxes[1][2])
    region = (int(left - margin), 0, int(right + margin), image.height)
    image.paste(light.crop(region), region[:2])
    grey = np.asarray(image.convert("L"))
    assert grey[:, region[0]:region[2]].min() >= 150 and grey.min() < 60, "the test must draw one light digit"
    reading = read(image, model)
    assert reading.text == "3715"
    assert reading.digits[1].box[3] > 0.8 * max(digit.box[3] for digit in reading.digits)


def test_a_judge_of_one_digit_decides_between_a_merged_pair_and_its_parts(model):
    # Touching digits: the same candidates read under a judge that trusts only candidates about
    # one digit wide and under one that trusts only wider ones give four digits and fewer.
    image, _ = number_image("4692", gap=-0.12, width=7, seed=6)
    assert _components(image) < 4, "the test must draw digits that touch"
    decoded = decode_image(_png(image))
    table, inputs, _ = candidates(decoded.rgb, decoded.upright_size)
    from batchdigits.recognition.pieces import FEATURES, piece_features

    def one_wide(features):
        assert features.shape[1] == FEATURES
        return np.where((features[:, 66] > 0.35) & (features[:, 66] < 0.7), 0.99, 0.01)  # width / digit height

    def wider(features):
        return np.where(features[:, 66] >= 0.7, 0.99, 0.01)

    readings = {}
    for name, judge in (("one wide", one_wide), ("wider", wider)):
        judged = table.copy()
        classify([judged], [inputs], model.probabilities, judge)
        readings[name] = best_reading(judged)
    assert readings["one wide"].text == "4692" and len(readings["wider"].digits) < 4
    assert (piece_features(table)[table["skip"]] == 0).all()


def test_a_judge_of_one_digit_never_doubts_a_picture_read_whole(model):
    # A 5 on ruled paper: the page's lines cut it in three, so it has candidates to choose among.
    from drawing import digit_image

    pixels = np.asarray(digit_image(5, width=9).convert("RGB")).copy()
    for row in (60, 140):
        pixels[row:row + 2, :] = (170, 190, 230)
    decoded = decode_image(_png(Image.fromarray(pixels)))
    table, inputs, _ = candidates(decoded.rgb, decoded.upright_size)
    assert len(table) > 1 and table["whole"].any(), "the test must draw a digit with several candidates"
    # A judge that doubts the whole picture most, and its parts a little, is not heard on the whole.
    classify([table], [inputs], model.probabilities, lambda features: np.where(features[:, 71] == 1, 0.01, 0.3))
    assert best_reading(table).text == "5"


def _png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_two_lines_are_read_top_to_bottom(model):
    top, _ = number_image("123", gap=0.35)
    bottom, _ = number_image("4560", gap=0.35, seed=9)
    image = Image.new("RGB", (max(top.width, bottom.width), top.height + bottom.height), "white")
    image.paste(top, (0, 0))
    image.paste(bottom, (0, top.height))
    reading = read(image, model)
    assert reading.text == "123 4560"
    assert [digit.line for digit in reading.digits] == [0, 0, 0, 1, 1, 1, 1]


def test_an_empty_image_has_no_digit(model):
    assert read(Image.new("RGB", (900, 200), "white"), model) == "no ink found: the image is blank or uniform"


def test_a_200_digit_line_is_read_whole(model):
    rng = np.random.default_rng(200)
    text = "".join(str(d) for d in rng.integers(0, 10, 200))
    image, _ = number_image(text, height=40, gap=0.35, width=4)
    started = time.perf_counter()
    reading = read(image, model)
    assert time.perf_counter() - started < 60
    assert len(reading.text) == 200
    right = sum(a == b for a, b in zip(reading.text, text))
    assert right >= 180


def test_a_huge_image_is_worked_at_a_bounded_size_and_boxes_come_back_in_its_pixels(model):
    image, boxes = number_image("8061", height=1800, gap=0.4, width=100)
    assert image.width * image.height > 20_000_000
    reading = read(image, model, fmt="PNG")
    assert reading.text == "8061"
    for digit, (left, top, right, bottom) in zip(reading.digits, boxes):
        x, y, w, h = digit.box
        # The drawn box is the pen's path; the ink reaches past it by half the pen, inside by the strokes' shape.
        assert left - 120 <= x <= left + 0.4 * (right - left) and top - 120 <= y <= top + 200
        assert x + w <= right + 120 and y + h <= bottom + 200


def test_the_expected_count_guides_the_reading_and_another_count_is_flagged(model):
    image, _ = number_image("90210", gap=0.3)
    guided = read(image, model, digits=5)
    assert guided.text == "90210" and guided.doubt is None
    other = read(image, model, digits=4)
    assert len(other.text) == 4 and "expected 4 digits" in other.doubt
    forced = read(image, model, digits=9)
    assert forced.doubt.startswith("expected 9 digits")


def test_a_lone_digit_keeps_its_glyph_and_reading(model):
    from batchdigits.recognition.glyph import glyph_from_image
    from drawing import as_rgb_float, digit_image

    picture = digit_image(6, size=160, width=9)
    reading = read(picture, model)
    whole = glyph_from_image(as_rgb_float(picture))
    assert reading.text == "6" and reading.doubt is None
    assert reading.digits[0].glyph == tuple(int(v) for v in whole.features)
    probabilities = model.probabilities(whole.model_input.reshape(1, -1))[0]
    assert reading.confidence == round(float(probabilities.max()), 4)


def test_scan_with_digits_labels_and_number_folders(tmp_path, cli):
    folder = tmp_path / "in"
    (folder / "90210").mkdir(parents=True)
    number_image("90210", gap=0.3)[0].save(folder / "90210" / "zip.png")
    number_image("4711", gap=0.3)[0].save(folder / "short.png")
    labels = tmp_path / "labels.csv"
    labels.write_text("path,text\nshort.png,4711\n", encoding="utf-8")
    out = tmp_path / "out"
    result = cli("scan", str(folder), "-o", str(out), "--digits", "5", "--labels", str(labels))
    assert result.returncode == 0, result.stderr
    items = {item["path"]: item for item in json.loads((out / "results.json").read_text())["items"]}
    assert items["90210/zip.png"]["text"] == "90210" and items["90210/zip.png"]["label"] == "90210"
    short = items["short.png"]
    assert short["label"] == "4711" and short["review"] is True and "expected 5 digits" in short["review_reason"]
    with open(out / "results.csv", newline="", encoding="utf-8") as stream:
        rows = {row["path"]: row for row in csv.DictReader(stream)}
    assert rows["90210/zip.png"]["text"] == "90210"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Character accuracy" in html and "digit count right" in html
    assert "Each image should hold <strong>5</strong> digits" in html
    # Another --digits reads the same stored candidates again: nothing is decoded.
    again = cli("scan", str(folder), "-o", str(out))
    assert again.returncode == 0 and "0 read now" in again.stdout
    items = {item["path"]: item for item in json.loads((out / "results.json").read_text())["items"]}
    assert items["short.png"]["text"] == "4711" and items["short.png"]["review_reason"] is None


def test_evaluate_a_folder_of_numbers(tmp_path, cli):
    for index, text in enumerate(["305", "4711", "90210", "628"]):
        (tmp_path / "numbers" / text).mkdir(parents=True)
        number_image(text, gap=0.3, seed=index)[0].save(tmp_path / "numbers" / text / "a.png")
    result = cli("evaluate", str(tmp_path / "numbers"), "-o", str(tmp_path / "eval"))
    assert result.returncode == 0, result.stderr
    assert "numbers: 4 images; exact 1.0000, characters 1.0000, digit count right 1.0000" in result.stdout
    evaluation = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert evaluation["text"] == {"labelled": 4, "exact": 1.0, "characters": 1.0, "count_right": 1.0}
    assert evaluation["images"] == 15 and evaluation["accuracy"] == 1.0
    assert "Character accuracy" in (tmp_path / "eval" / "evaluation.html").read_text()


def test_text_scores_count_edits_and_digit_counts():
    from batchdigits.output.scores import edit_distance, text_scores

    assert edit_distance("90210", "9021") == 1 and edit_distance("123", "321") == 2
    scores = text_scores([("90210", "90210"), ("4711", "471"), ("12 34", "1234"), ("55", None)])
    assert scores.exact == 0.5 and scores.count_right == 0.5
    assert scores.characters == round(1 - (0 + 1 + 0 + 2) / 15, 4)


def test_an_older_state_file_is_rebuilt_without_calling_it_damaged(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    number_image("42", gap=0.3)[0].save(folder / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    old = sqlite3.connect(out / ".batchdigits-state.sqlite")
    old.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                      "INSERT INTO meta VALUES ('schema', '1');"
                      "CREATE TABLE files (path BLOB PRIMARY KEY, size INTEGER, features BLOB);")
    old.commit()
    old.close()
    result = cli("scan", str(folder), "-o", str(out))
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads((out / "results.json").read_text())["items"][0]["text"] == "42"
    assert not list(out.glob("*.damaged-*"))
