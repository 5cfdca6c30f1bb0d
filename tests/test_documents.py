"""Scanner documents: PDF pages and multi-page TIFF frames read one result per page, the files
of a folder that are not read listed, and bad documents failing with a reason."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from PIL import Image

from batchdigits.files.documents import MAX_PAGES
from batchdigits.ledger import STATE_NAME, UNFINISHED_SIZE
from drawing import digit_image, number_image, pdf_document


def scan_items(cli, folder, out, *args):
    result = cli("scan", str(folder), "-o", str(out), *args)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return result, json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_each_pdf_page_and_tiff_frame_is_a_result(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "scans.pdf").write_bytes(pdf_document([number_image(text)[0] for text in ("90210", "4711", "306")]))
    frames = [digit_image(digit) for digit in (3, 8, 5)]
    frames[0].save(folder / "cells.tiff", save_all=True, append_images=frames[1:])
    number_image("62")[0].save(folder / "one.pdf", "PDF", resolution=150)  # Pillow's own PDF writer
    result, document = scan_items(cli, folder, tmp_path / "out")
    assert result.returncode == 0
    pages = [(item["path"], item["page"], item["text"]) for item in document["items"]]
    assert pages == [("cells.tiff", 1, "3"), ("cells.tiff", 2, "8"), ("cells.tiff", 3, "5"),
                     ("one.pdf", None, "62"),
                     ("scans.pdf", 1, "90210"), ("scans.pdf", 2, "4711"), ("scans.pdf", 3, "306")]
    assert document["schema_version"] == 3 and document["summary"]["files"] == 7
    with open(tmp_path / "out" / "results.csv", newline="", encoding="utf-8") as stream:
        rows = [(row["path"], row["page"]) for row in csv.DictReader(stream)]
    assert rows[4:] == [("scans.pdf", "1"), ("scans.pdf", "2"), ("scans.pdf", "3")]
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert 'scans.pdf <span class="page">page 2</span>' in html


def test_a_number_on_a_whole_page_is_read(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    page = Image.new("RGB", (1240, 1754), "white")  # A4 at 150 dpi
    page.paste(number_image("2718", height=50)[0], (420, 900))
    (folder / "form.pdf").write_bytes(pdf_document([page], points_per_pixel=72 / 150))
    _, document = scan_items(cli, folder, tmp_path / "out")
    item = document["items"][0]
    assert item["text"] == "2718" and item["page"] is None


def test_unchanged_documents_are_not_read_again_and_a_changed_one_is_read_whole(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    pdf = folder / "batch.pdf"
    pdf.write_bytes(pdf_document([digit_image(digit) for digit in (1, 2, 3, 4)]))
    out = tmp_path / "out"
    scan_items(cli, folder, out)
    again, document = scan_items(cli, folder, out)
    assert "0 read now" in again.stdout and len(document["items"]) == 4
    pdf.write_bytes(pdf_document([digit_image(digit) for digit in (7, 0)]))
    os.utime(pdf, ns=(pdf.stat().st_mtime_ns + 10**9,) * 2)
    changed, document = scan_items(cli, folder, out)
    assert "1 read now" in changed.stdout
    assert [(item["page"], item["text"]) for item in document["items"]] == [(1, "7"), (2, "0")]


def test_a_long_document_is_read_in_order_over_several_workers(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    digits = [index % 10 for index in range(23)]
    (folder / "long.pdf").write_bytes(pdf_document([digit_image(digit, seed=index) for index, digit in enumerate(digits)]))
    _, document = scan_items(cli, folder, tmp_path / "out", "-j", "2")
    assert [item["page"] for item in document["items"]] == list(range(1, 24))
    read = [int(item["text"]) for item in document["items"]]
    assert sum(a == b for a, b in zip(read, digits)) >= 21


def test_files_that_are_not_read_are_listed(tmp_path, cli):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    digit_image(4).save(folder / "four.png")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04 not a picture")
    (folder / "sub" / "README").write_text("about these scans")
    (folder / ".hidden.png").write_bytes(b"junk")  # hidden files are left out on purpose
    (folder / "link.png").symlink_to(folder / "four.png")
    result, document = scan_items(cli, folder, tmp_path / "out")
    assert document["skipped"] == [
        {"path": "link.png", "reason": "a symbolic link, not followed"},
        {"path": "notes.docx", "reason": "unsupported type (.docx)"},
        {"path": "sub/README", "reason": "unsupported type (no extension)"},
    ]
    assert document["summary"]["skipped"] == 3 and "3 not read" in result.stdout
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "3 files in the folder not read" in html and "unsupported type (.docx)" in html


def test_bad_documents_fail_with_a_reason_and_the_run_goes_on(tmp_path, cli):
    folder = tmp_path / "in"
    folder.mkdir()
    good = pdf_document([digit_image(6)])
    (folder / "a-encrypted.pdf").write_bytes(pdf_document([digit_image(6)], encrypted=True))
    (folder / "b-truncated.pdf").write_bytes(good[: len(good) // 3])
    (folder / "c-empty.pdf").write_bytes(pdf_document([]))
    (folder / "d-bomb.pdf").write_bytes(pdf_document([digit_image(6)], page_size=(10_000, 10_000)))
    (folder / "e-script.pdf").write_bytes(pdf_document(
        [digit_image(6)], catalog_extra="/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >>",
        page_extra="/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 90 90] "
                   "/A << /S /URI /URI (http://example.invalid/) >> >>]"))
    frame = Image.new("L", (4, 4), 255)
    frame.save(folder / "f-frames.tiff", save_all=True, append_images=[frame] * MAX_PAGES)
    (folder / "g-fine.pdf").write_bytes(good)
    result, document = scan_items(cli, folder, tmp_path / "out")
    assert result.returncode == 1
    items = {item["path"]: item for item in document["items"]}
    assert items["a-encrypted.pdf"]["reason"] == "encrypted PDF: it needs a password"
    assert "damaged or truncated PDF" in items["b-truncated.pdf"]["reason"]
    assert items["c-empty.pdf"]["reason"] == "the document has no pages"
    assert items["d-bomb.pdf"]["status"] == "failed" and "139 x 139 inches" in items["d-bomb.pdf"]["reason"]
    assert items["e-script.pdf"]["text"] == "6"  # rendered; the script is never run, the link never followed
    assert items["f-frames.tiff"]["reason"] == f"{MAX_PAGES + 1:,} pages (at most {MAX_PAGES:,} are read from one file)"
    assert items["g-fine.pdf"]["text"] == "6"


def test_labels_name_pages(tmp_path, cli):
    folder = tmp_path / "in"
    (folder / "90210").mkdir(parents=True)
    (folder / "90210" / "zips.pdf").write_bytes(pdf_document([number_image("90210")[0]] * 2))
    (folder / "mixed.pdf").write_bytes(pdf_document([digit_image(3), digit_image(8)]))
    labels = tmp_path / "labels.csv"
    labels.write_text("path,text,page\nmixed.pdf,3,1\nmixed.pdf,8,2\n", encoding="utf-8")
    _, document = scan_items(cli, folder, tmp_path / "out", "--labels", str(labels))
    assert [(item["page"], item["label"]) for item in document["items"]] == [(1, "90210"), (2, "90210"), (1, "3"), (2, "8")]


@pytest.mark.parametrize("line", ["mixed.pdf,3,0", "mixed.pdf,3,two"])
def test_a_labels_line_with_a_bad_page_names_the_line(tmp_path, cli, line):
    folder = tmp_path / "in"
    folder.mkdir()
    labels = tmp_path / "labels.csv"
    labels.write_text(f"path,text,page\n{line}\n", encoding="utf-8")
    result = cli("scan", str(folder), "-o", str(tmp_path / "out"), "--labels", str(labels))
    assert result.returncode == 2 and "line 2" in result.stderr and "Traceback" not in result.stderr


# A real scan process (-j 1: every task in this process) whose reading of a long document's later
# pages is cut short: the process dies there, or the file changes under it.
_CUT_SHORT = """
import os, sys
import batchdigits.recognition.runner as runner
import batchdigits.scan as scan
from batchdigits.cli import main
scan.CLASSIFY_BATCH = 4  # commit the first pages before the others are read
original = runner.process_file
def process_file(path, known_sha256=None, whole_only=False, pages=None, known_version=None):
    if pages is not None and pages[0] >= 16:
        if os.environ["CUT"] == "die":
            os._exit(9)
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    return original(path, known_sha256, whole_only, pages, known_version)
runner.process_file = process_file
sys.argv = ["batchdigits", *sys.argv[1:]]
main()
"""


def long_document(tmp_path, pages=23):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "long.pdf").write_bytes(pdf_document([digit_image(index % 10, seed=index) for index in range(pages)]))
    return folder


def cut_short(folder, out, how):
    return subprocess.run([sys.executable, "-c", _CUT_SHORT, "scan", str(folder), "-o", str(out), "-j", "1"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "CUT": how})


def test_a_run_that_dies_inside_a_long_document_reads_it_whole_next_time(tmp_path, cli):
    folder, out = long_document(tmp_path), tmp_path / "out"
    assert cut_short(folder, out, "die").returncode == 9
    with sqlite3.connect(out / STATE_NAME) as db:
        recorded = db.execute("SELECT page, size FROM files").fetchall()
    assert recorded and all(size == UNFINISHED_SIZE for _, size in recorded)  # the first pages, marked
    result, document = scan_items(cli, folder, out)
    assert "1 read now" in result.stdout
    assert [item["page"] for item in document["items"]] == list(range(1, 24))
    again, _ = scan_items(cli, folder, out)
    assert "0 read now" in again.stdout


def test_a_document_that_changes_while_its_pages_are_read_is_left_for_the_next_run(tmp_path, cli):
    folder, out = long_document(tmp_path), tmp_path / "out"
    result = cut_short(folder, out, "change")
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["run"]["pending"] == 1 and document["items"] == []  # no mix of two versions
    later, document = scan_items(cli, folder, out)
    assert "1 read now" in later.stdout
    assert [item["page"] for item in document["items"]] == list(range(1, 24))
