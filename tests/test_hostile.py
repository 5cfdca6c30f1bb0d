"""Hostile and broken inputs: one run over every row of reliability.md's table, and a fuzz test."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchdigits.recognition.glyph import MODEL_INPUT
from batchdigits.recognition.runner import ProcessedFile, process_bytes
from drawing import digit_image
from hostile import build_hostile_corpus, encoded, tree_snapshot

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """The hostile corpus scanned once with two worker processes, as a scheduled run would."""
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "incoming"
    expected = build_hostile_corpus(folder)
    unreadable = folder / "unreadable.png"
    digit_image(2).save(unreadable)
    unreadable.chmod(0)
    before = tree_snapshot(folder)
    from conftest import run_cli

    result = run_cli("scan", str(folder), "-o", str(root / "report"), "--jobs", "2")
    after = tree_snapshot(folder)
    unreadable.chmod(0o644)
    document = json.loads((root / "report" / "results.json").read_text(encoding="utf-8"))
    html = (root / "report" / "report.html").read_text(encoding="utf-8")
    return result, expected, document, html, before, after


def test_run_over_the_hostile_corpus_finishes_with_exit_one_and_no_traceback(hostile_run):
    result, _, document, _, _, _ = hostile_run
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().count("\n") == 0  # one line saying some files failed
    assert result.stdout.strip().splitlines()[-1].startswith("file://")
    assert document["run"]["failed"] == document["summary"]["failed"] > 0


def test_every_file_gets_its_expected_result_and_junk_is_ignored(hostile_run):
    _, expected, document, _, _, _ = hostile_run
    items = {}
    for item in document["items"]:
        items.setdefault(item["path"], item)  # a multi-page file's first page
    frames = [(item["path"], item["page"], item["digit"]) for item in document["items"] if item["page"]]
    assert frames == [("animated.gif", 1, 3), ("animated.gif", 2, 8), ("multipage.tiff", 1, 4), ("multipage.tiff", 2, 1)]
    readable = set(items) - ({"unreadable.png"} if IS_ROOT else set())
    assert readable == set(expected), "junk, links, FIFOs and sockets must be ignored; nothing lost"
    wrong = []
    for path, want in expected.items():
        item = items[path]
        if item["status"] != want.status:
            wrong.append((path, item["status"], item["reason"]))
        elif want.digit is not None and item["digit"] != want.digit:
            wrong.append((path, item["digit"], item["confidence"]))
        elif want.reason is not None and want.reason not in item["reason"]:
            wrong.append((path, item["reason"]))
    assert not wrong


@pytest.mark.skipif(IS_ROOT, reason="root reads a mode-000 file anyway")
def test_unreadable_file_waits_for_a_later_run(hostile_run):
    _, _, document, _, _, _ = hostile_run
    assert "unreadable.png" not in {item["path"] for item in document["items"]}
    assert document["run"]["pending"] >= 1


def test_the_input_tree_is_unchanged(hostile_run):
    _, _, _, _, before, after = hostile_run
    assert after == before


class _Markup(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_hostile_names_never_become_markup_in_the_report(hostile_run):
    _, _, _, html, _, _ = hostile_run
    parser = _Markup()
    parser.feed(html)
    handlers = [(tag, name) for tag, attrs in parser.tags for name in attrs if name.startswith("on")]
    assert handlers == []
    sources = [attrs.get("src") or "" for tag, attrs in parser.tags if tag in ("img", "script", "iframe")]
    assert all(src == "" or src.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for src in sources)
    assert "&lt;svg onload=alert(1)&gt;.png" in html
    assert "caf\\xe9-\\xff.png" in html


# Seeds for the fuzz test: one small drawing in every allowed format.
_SEED_DIGIT = digit_image(4, size=48, width=4)
FUZZ_SEEDS = [
    encoded(_SEED_DIGIT, "PNG"),
    encoded(_SEED_DIGIT, "JPEG", quality=80),
    encoded(_SEED_DIGIT.convert("P"), "GIF"),
    encoded(_SEED_DIGIT, "BMP"),
    encoded(_SEED_DIGIT, "TIFF"),
    encoded(_SEED_DIGIT, "WEBP", quality=80),
]


@st.composite
def mutated_images(draw):
    """Bytes of a seed image with a few random byte flips, cuts, insertions or header overwrites."""
    data = bytearray(draw(st.sampled_from(FUZZ_SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "header"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[position : position + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        else:  # overwrite early bytes, where sizes, modes and offsets live
            offset = draw(st.integers(0, min(64, max(0, len(data) - 1))))
            patch = draw(st.binary(min_size=1, max_size=4))
            data[offset : offset + len(patch)] = patch
    return bytes(data)


@settings(max_examples=2500, deadline=2000, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_images())
def test_mutated_image_bytes_give_a_typed_result_and_never_crash(data):
    processed = process_bytes(data)
    assert isinstance(processed, ProcessedFile)
    assert processed.outcome in ("glyph", "no_digit", "failed")
    if processed.outcome == "glyph":
        table, inputs = processed.candidates, processed.candidate_inputs
        assert len(table) >= 1 and inputs.shape == (len(table), MODEL_INPUT)
        assert table["glyph"].min() >= 0 and table["glyph"].max() <= 16
        assert np.isfinite(inputs).all() and inputs.min() >= 0 and (table["cost"] >= 0).all()
    else:
        assert processed.reason and "\n" not in processed.reason
