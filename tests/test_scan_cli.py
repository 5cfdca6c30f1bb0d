"""`batchdigits scan` end to end, in real subprocesses, on the project's samples and drawn folders."""

from __future__ import annotations

import csv
import json
import re

import pytest

from drawing import digit_image

# The fields of results.json schema 1 first, in their order; schema 2 appends the rest.
CONTRACT_ITEM_FIELDS = ["path", "status", "digit", "confidence", "review", "alternatives", "reason",
                        "text", "digits", "review_reason", "label", "page"]


def expected_text(relative_path: str) -> str | None:
    """Samples are named <situation>-<digits>.<ext>; blank pages have no digit."""
    match = re.search(r"-(\d+)\.[a-z]+$", relative_path)
    return match.group(1) if match else None


def expected_digit(relative_path: str) -> int | None:
    """The digit of a one-digit sample (None for numbers and blank pages)."""
    text = expected_text(relative_path)
    return int(text) if text is not None and len(text) == 1 else None


@pytest.fixture(scope="module")
def samples_scan(tmp_path_factory, samples_dir):
    from conftest import run_cli

    out = tmp_path_factory.mktemp("report")
    result = run_cli("scan", str(samples_dir), "-o", str(out))
    return result, out


def test_scan_samples_exits_zero_and_names_the_report_last(samples_scan):
    result, out = samples_scan
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (out / "report.html").resolve().as_uri()
    assert "Traceback" not in result.stderr
    for name in ("report.html", "results.csv", "results.json"):
        assert (out / name).is_file()


def test_results_json_follows_the_contract(samples_scan):
    _, out = samples_scan
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["tool"] == {"name": "batchdigits", "version": "0.1.0"}
    assert set(document["model"]) == {"name", "sha256", "trained_on", "sklearn"}
    assert set(document["run"]) == {"started", "processed", "unchanged", "pending", "failed"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["run"]["started"])
    summary = document["summary"]
    assert set(summary) == {"files", "recognized", "review", "no_digit", "failed", "by_digit", "skipped"}
    items = document["items"]
    assert document["schema_version"] == 3
    assert summary["files"] == len(items) == 28
    assert summary["recognized"] + summary["no_digit"] + summary["failed"] == summary["files"]
    assert sum(summary["by_digit"].values()) == sum(len(item["digits"] or []) for item in items)
    for item in items:
        assert list(item) == CONTRACT_ITEM_FIELDS
        assert item["status"] in ("recognized", "no_digit", "failed")
        assert "\\" not in item["path"] and not item["path"].startswith("/")
        assert item["page"] is None and item["label"] is None  # no documents, no labels here
        if item["status"] == "recognized":
            assert item["text"] == "".join(str(digit["digit"]) for digit in item["digits"])
            assert item["reason"] is None and (item["review_reason"] is not None) == item["review"]
            for digit in item["digits"]:
                assert set(digit) == {"digit", "confidence", "alternatives", "box", "line"}
                assert digit["alternatives"][0] == {"digit": digit["digit"], "p": digit["confidence"]}
                x, y, width, height = digit["box"]
                assert x >= 0 and y >= 0 and width > 0 and height > 0
            if len(item["digits"]) == 1:  # a one-digit image keeps every field with its meaning
                assert 0 <= item["digit"] <= 9 and 0 < item["confidence"] <= 1
                assert item["text"] == str(item["digit"])
                assert item["alternatives"][0] == {"digit": item["digit"], "p": item["confidence"]}
                assert len(item["alternatives"]) == 3
                assert item["digits"][0]["alternatives"] == item["alternatives"]
            else:  # a number: the string's confidence is the product of its digits'
                assert item["digit"] is None and item["alternatives"] is None
                product = 1.0
                for digit in item["digits"]:
                    product *= digit["confidence"]
                assert abs(item["confidence"] - product) < 1e-3
        else:
            assert item["digit"] is None and item["confidence"] is None and item["alternatives"] is None
            assert item["text"] is None and item["digits"] is None and item["review"] is False
            assert item["reason"]


def test_samples_are_read_correctly(samples_scan):
    _, out = samples_scan
    items = json.loads((out / "results.json").read_text(encoding="utf-8"))["items"]
    wrong = [
        (item["path"], item["text"], item["status"])
        for item in items
        if expected_text(item["path"]) != item["text"]
        or (expected_digit(item["path"]) is not None and expected_digit(item["path"]) != item["digit"])
    ]
    assert wrong == []
    assert sum(len(item["digits"] or []) > 1 for item in items) == 4  # the numbers are read as numbers
    blanks = [item for item in items if item["path"].startswith("blank/")]
    assert blanks and all(item["status"] == "no_digit" for item in blanks)


def test_results_csv_has_one_row_per_item(samples_scan):
    _, out = samples_scan
    with open(out / "results.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [row["path"] for row in rows] == [item["path"] for item in document["items"]]
    assert list(rows[0]) == ["path", "status", "digit", "confidence", "review", "alt1_digit", "alt1_p",
                             "alt2_digit", "alt2_p", "alt3_digit", "alt3_p", "reason",
                             "text", "review_reason", "label", "page"]
    assert [row["text"] for row in rows] == [item["text"] or "" for item in document["items"]]


def test_paths_are_naturally_sorted_and_relative(tmp_path, cli):
    folder = tmp_path / "in"
    (folder / "batch").mkdir(parents=True)
    for index in (10, 2, 1):
        digit_image(index % 10, size=80, width=5).save(folder / "batch" / f"scan_{index}.png")
    result = cli("scan", str(folder), "-o", str(tmp_path / "out"), "-q")
    assert result.returncode == 0 and result.stdout == ""
    items = json.loads((tmp_path / "out" / "results.json").read_text())["items"]
    assert [item["path"] for item in items] == ["batch/scan_1.png", "batch/scan_2.png", "batch/scan_10.png"]


def test_no_recursive_reads_only_the_top_folder(tmp_path, cli):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    digit_image(1, size=80, width=5).save(folder / "top-1.png")
    digit_image(7, size=80, width=5).save(folder / "sub" / "deep-7.png")
    result = cli("scan", str(folder), "-o", str(tmp_path / "out"), "--no-recursive")
    assert result.returncode == 0, result.stderr
    items = json.loads((tmp_path / "out" / "results.json").read_text())["items"]
    assert [item["path"] for item in items] == ["top-1.png"]


def test_a_broken_file_fails_alone_and_exits_one(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    digit_image(4, size=100, width=6).save(folder / "good-4.png")
    (folder / "broken.png").write_bytes(b"this is text, not a picture")
    (folder / "empty.jpg").write_bytes(b"")
    result = cli("scan", str(folder), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    by_path = {item["path"]: item for item in document["items"]}
    assert by_path["good-4.png"]["digit"] == 4
    assert by_path["broken.png"]["status"] == "failed" and "not an image" in by_path["broken.png"]["reason"]
    assert by_path["empty.jpg"]["status"] == "failed" and "empty" in by_path["empty.jpg"]["reason"]
    assert document["run"]["failed"] == 2


def test_missing_input_folder_is_fatal_and_leaves_the_report(tmp_path, cli):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("previous report")
    result = cli("scan", str(tmp_path / "nowhere"), "-o", str(out))
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "input folder not found" in result.stderr
    assert (out / "report.html").read_text() == "previous report"


def test_output_inside_input_is_refused(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    digit_image(2, size=80).save(folder / "a-2.png")
    result = cli("scan", str(folder), "-o", str(folder / "report"))
    assert result.returncode == 2
    assert "inside the input folder" in result.stderr
    assert not (folder / "report").exists()


def test_default_output_folder_is_in_the_working_directory(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    digit_image(6, size=80, width=5).save(folder / "a-6.png")
    work = tmp_path / "work"
    work.mkdir()
    result = cli("scan", str(folder), cwd=work)
    assert result.returncode == 0, result.stderr
    assert (work / "batchdigits-report" / "report.html").is_file()


def test_inputs_are_never_modified(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    digit_image(9, size=90).save(folder / "nine-9.png")
    (folder / "bad.gif").write_bytes(b"GIF89a broken")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    cli("scan", str(folder), "-o", str(tmp_path / "out"))
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    assert before == after


def test_usage_errors_exit_two(cli):
    assert cli("scan").returncode == 2
    assert cli("scan", ".", "--review-below", "2").returncode == 2
    assert cli("frobnicate").returncode == 2


def test_version_and_module_entry_point(cli):
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == "batchdigits 0.1.0"


@pytest.mark.parametrize("command", ["scan", "train", "evaluate"])
def test_every_command_has_help(command, cli):
    result = cli(command, "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout and len(result.stdout) > 200


@pytest.mark.parametrize("command", ["scan", "watch", "evaluate"])
def test_help_states_the_review_threshold_that_is_used(command, cli):
    from batchdigits.scan import DEFAULT_REVIEW_BELOW

    help_text = " ".join(cli(command, "--help").stdout.split())
    assert f"[default: {DEFAULT_REVIEW_BELOW}]" in help_text


def test_hostile_file_names_are_classified_and_escaped(tmp_path, cli):
    import os

    folder = tmp_path / "in"
    folder.mkdir()
    image = digit_image(3, size=100, width=6)
    names = ["<svg onload=alert(1)>.png", '"><img src=x onerror=alert(1)>.png', "a'b.png",
             "ünïcödé-数字.png", "new\nline.png", "=cmd.png"]
    for name in names:
        image.save(folder / name)
    image.save(os.fsdecode(os.fsencode(str(folder)) + b"/caf\xe9.png"), format="PNG")
    result = cli("scan", str(folder), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    items = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["items"]
    assert sorted(item["path"] for item in items) == sorted(names + ["caf\\xe9.png"])
    assert all(item["digit"] == 3 for item in items)
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<svg onload" not in html and "<img src=x" not in html
    assert "&lt;svg onload=alert(1)&gt;.png" in html


def test_labels_file_adds_accuracy_and_a_bad_one_exits_two(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    digit_image(4, size=100, width=6).save(folder / "scan_1.png")
    digit_image(7, size=100, width=6).save(folder / "scan_2.png")
    labels = tmp_path / "labels.csv"
    labels.write_text("scan_1.png,4\nscan_2.png,1\n", encoding="utf-8")
    result = cli("scan", str(folder), "-o", str(tmp_path / "out"), "--labels", str(labels))
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Accuracy 50.0%" in html and "the known digit is 1" in html
    labels.write_text("path,digit\nscan_1.png,four\n", encoding="utf-8")
    result = cli("scan", str(folder), "-o", str(tmp_path / "out"), "--labels", str(labels))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
