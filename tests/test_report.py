"""The report: a view-model rendered by templates; data is escaped and nothing can run from a file."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import numpy as np

from batchdigits.recognition.reading import DigitRead, Reading
from batchdigits.output.report import build_view, render_report
from batchdigits.output.results import ItemResult, RunCounts, csv_safe, recognized_item, results_csv, summarise

HOSTILE = [
    "<svg onload=alert(1)>.png",
    '"><img src=x onerror=alert(1)>.png',
    "a'b.png",
    "ünïcödé-数字.png",
    "=cmd|' /C calc'!A0.png",
]
MODEL = {"name": "digits-svc", "sha256": "ab" * 32, "trained_on": "load_digits", "sklearn": "1.9.1"}


def lone_digit(digit=7, p=0.82):
    """The reading of a picture of one digit (alternatives as a classifier would give them)."""
    alternatives = ((digit, p), (0 if digit else 1, 0.02), (1 if digit else 2, 0.02))
    read = DigitRead(digit, p, alternatives, (0, 0, 10, 10), 0, tuple(int(v) for v in np.arange(64) % 17))
    return Reading(digits=(read,), text=str(digit), confidence=p)


def items_for(paths):
    items = [recognized_item(path, lone_digit(), 0.9, None) for path in paths]
    items.append(ItemResult(path="blank.png", status="no_digit", reason="no ink found: the image is blank or uniform"))
    items.append(ItemResult(path="<b>bad</b>.png", status="failed", reason="corrupt <script>"))
    return items


class Collector(HTMLParser):
    """Collects tags, attributes and text of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def rendered(items):
    summary = summarise(items)
    view = build_view(items, summary, RunCounts(started="2026-11-20T10:00:00Z", processed=len(items)), MODEL, 0.9, "Digits in x")
    return view, render_report(view)


def test_hostile_names_are_shown_literally_and_never_become_markup():
    view, html = rendered(items_for(HOSTILE))
    page = Collector()
    page.feed(html)
    tags = [tag for tag, _ in page.tags]
    assert tags.count("svg") == 1  # the per-digit chart, never one from a file name
    assert not {"iframe", "object", "embed"} & set(tags)
    assert all(not name.startswith("on") for _, attrs in page.tags for name in attrs)
    text = "".join(page.text)
    for name in HOSTILE:
        assert name in text
    assert "corrupt <script>" in text
    assert tags.count("script") == 1


def test_every_item_is_a_row_with_its_status():
    items = items_for(HOSTILE)
    _, html = rendered(items)
    page = Collector()
    page.feed(html)
    rows = [attrs for tag, attrs in page.tags if tag == "tr" and "data-status" in attrs]
    assert [row["data-status"] for row in rows] == [item.status for item in items]
    assert sum(1 for row in rows if row["data-review"] == "yes") == 5  # 0.82 < 0.9


def test_content_security_policy_admits_only_our_script_and_no_network():
    view, html = rendered(items_for(["a.png"]))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'none'" in policy and "img-src data:" in policy
    digest = base64.b64encode(hashlib.sha256(str(view.script).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    script = re.search(r"<script>(.*)</script>", html, re.S).group(1)
    assert script == str(view.script)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "http://" not in html.replace("http-equiv", "") and "https://" not in html


def test_summary_counts_and_review_threshold_are_shown():
    view, html = rendered(items_for(["a.png", "b.png"]))
    assert view.summary.files == 4 and view.summary.recognized == 2 and view.summary.review == 2
    assert view.summary.no_digit == 1 and view.summary.failed == 1
    assert "below <strong>90%</strong>" in html
    assert "7 (82%) · 0 (2%) · 1 (2%)" in html


def test_csv_neutralises_formulas():
    assert csv_safe("=1+1") == "'=1+1"
    assert csv_safe("+x") == "'+x" and csv_safe("-x") == "'-x" and csv_safe("@x") == "'@x"
    assert csv_safe("plain.png") == "plain.png" and csv_safe(None) == "" and csv_safe(7) == "7"
    text = results_csv(items_for(HOSTILE))
    assert "\n'=cmd|" in text


def test_known_digits_give_accuracy_a_confusion_matrix_and_wrong_marks():
    from dataclasses import replace

    from batchdigits.files.labels import item_label

    items = items_for(["7/a.png", "7/b.png", "1/c.png"])  # every drawing reads as 7
    truths = [item_label(item.path, {"blank.png": "4"}) for item in items]
    assert truths == ["7", "7", "1", "4", None]
    items = [replace(item, label=truth) for item, truth in zip(items, truths)]
    view = build_view(items, summarise(items), RunCounts(started="t"), MODEL, 0.9, "x")
    assert (view.accuracy.labelled, view.accuracy.correct, view.accuracy.percent) == (4, 2, 50.0)
    assert view.accuracy.matrix[1][7].count == 1 and view.accuracy.matrix[4][10].predicted == "none"
    assert [row.wrong for row in view.rows] == [False, False, True, True, False]
    html = render_report(view)
    assert 'href="#truth=1&amp;predicted=7"' in html and "Accuracy 50.0%" in html
    assert html.count('class="wrongmark"') == 2


def test_labels_file_is_read_and_a_bad_line_is_a_usage_error(tmp_path):
    import pytest

    from batchdigits.errors import ExitCode
    from batchdigits.files.labels import LabelsFileError, read_labels_file

    good = tmp_path / "labels.csv"
    good.write_text("path,text\nscan_1.png,3\n\"a,b.png\",0\nzip.png,02134\n", encoding="utf-8")
    assert read_labels_file(good) == {"scan_1.png": "3", "a,b.png": "0", "zip.png": "02134"}
    bad = tmp_path / "bad.csv"
    bad.write_text("scan_1.png,3\nscan_2.png,1x\n", encoding="utf-8")
    with pytest.raises(LabelsFileError, match="line 2") as caught:
        read_labels_file(bad)
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_report_past_the_page_budget_splits_into_linked_pages():
    from batchdigits.output.report import build_views, page_name

    items = items_for([f"scan_{n}.png" for n in range(5)])  # 7 rows
    views = build_views(items, summarise(items), RunCounts(started="t"), MODEL, 0.9, "x", page_rows=3)
    assert [len(view.rows) for view in views] == [3, 3, 1]
    assert [row.index for view in views for row in view.rows] == list(range(7))
    assert all(view.summary.files == 7 for view in views)
    assert [page.href for page in views[1].pages] == ["report.html", "report-2.html", "report-3.html"]
    assert [page.current for page in views[1].pages] == [False, True, False]
    assert page_name(1) == "report.html"
    assert 'href="report-3.html"' in render_report(views[0])


def test_chart_counts_stay_short_enough_to_fit_above_a_bar():
    from batchdigits.output.report import DigitBar

    assert [DigitBar(0, count, 0, 0).label for count in (7, 999, 1667, 25000)] == ["7", "999", "1.7k", "25k"]


def test_the_glyph_picture_is_a_png_of_the_eight_by_eight_glyph_ink_dark():
    import io

    from PIL import Image

    from batchdigits.output.report import glyph_png

    glyph = tuple(range(17)) + (16,) * 23 + (0,) * 24  # every level, then solid ink, then paper
    picture = Image.open(io.BytesIO(glyph_png(glyph)))
    assert picture.format == "PNG" and picture.mode == "L" and picture.size == (8, 8)
    pixels = np.asarray(picture).ravel()
    assert pixels[0] == 255 and pixels[16] == 0 and pixels[63] == 255  # paper white, full ink black
    assert np.all(np.diff(pixels[:17].astype(int)) < 0)  # more ink, darker
