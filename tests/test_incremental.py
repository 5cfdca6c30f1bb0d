"""Scheduled runs over incoming scans: incremental, never overlapping, never half-written (real subprocesses)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from batchdigits.ledger import STATE_NAME
from batchdigits.scan import LOCK_NAME
from conftest import run_cli
from drawing import digit_image


def draw(folder: Path, name: str, digit: int, *, seed: int = 1, mtime: float | None = None) -> Path:
    """Write a small drawing of `digit`; by default an hour old, as a finished scan would be."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    digit_image(digit, size=64, width=4, seed=seed).save(path)
    stamp = time.time() - 3600 if mtime is None else mtime
    os.utime(path, (stamp, stamp))
    return path


def scan(folder: Path, out: Path, *extra: str):
    """Run `batchdigits scan` and return (process, results.json as a dict or None)."""
    result = run_cli("scan", str(folder), "-o", str(out), "-j", "1", *extra)
    document = None
    if (out / "results.json").exists():
        document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return result, document


def digits_by_path(document: dict) -> dict[str, int | None]:
    return {item["path"]: item["digit"] for item in document["items"]}


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    for index in range(6):
        draw(folder, f"scan_{index}.png", index)
    return folder


def test_rerun_decodes_only_new_files(inbox, tmp_path):
    out = tmp_path / "out"
    result, first = scan(inbox, out)
    assert result.returncode == 0, result.stderr
    assert first["run"]["processed"] == 6 and first["run"]["unchanged"] == 0

    result, second = scan(inbox, out, "-q")
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
    assert (second["run"]["processed"], second["run"]["unchanged"]) == (0, 6)
    assert second["items"] == first["items"]

    draw(inbox, "later/scan_6.png", 6)
    draw(inbox, "copied-with-an-old-mtime.png", 7, mtime=946684800)  # 2000-01-01: still new to us
    _, third = scan(inbox, out)
    assert (third["run"]["processed"], third["run"]["unchanged"]) == (2, 6)
    assert digits_by_path(third)["later/scan_6.png"] == 6
    assert digits_by_path(third)["copied-with-an-old-mtime.png"] == 7
    assert third["summary"]["files"] == 8


def test_rewritten_file_is_decoded_again_once(inbox, tmp_path):
    out = tmp_path / "out"
    scan(inbox, out)
    draw(inbox, "scan_3.png", 8, mtime=time.time() - 600)  # same name, new content
    _, after = scan(inbox, out)
    assert (after["run"]["processed"], after["run"]["unchanged"]) == (1, 5)
    assert digits_by_path(after)["scan_3.png"] == 8
    _, again = scan(inbox, out)
    assert again["run"]["processed"] == 0


def test_touched_file_with_the_same_content_is_not_decoded(inbox, tmp_path):
    out = tmp_path / "out"
    scan(inbox, out)
    os.utime(inbox / "scan_2.png", (time.time() - 60, time.time() - 60))
    _, after = scan(inbox, out)
    assert (after["run"]["processed"], after["run"]["unchanged"]) == (0, 6)


def test_full_and_another_model_decode_everything(inbox, tmp_path):
    out = tmp_path / "out"
    scan(inbox, out)
    _, full = scan(inbox, out, "--full")
    assert full["run"]["processed"] == 6

    from batchdigits.recognition.model import load_model, save_model
    from batchdigits.resources import bundled_model_path

    bundled = load_model(bundled_model_path())
    bundled.estimator.variant_for_tests = 1  # same predictions, different file and hash
    other = tmp_path / "other.joblib"
    card = save_model(bundled.estimator, bundled.card, other)
    _, with_other = scan(inbox, out, "--model", str(other))
    assert with_other["run"]["processed"] == 6
    assert with_other["model"]["sha256"] == card.sha256
    _, back = scan(inbox, out)
    assert back["run"]["processed"] == 6


def test_files_that_disappeared_leave_the_report(inbox, tmp_path):
    out = tmp_path / "out"
    scan(inbox, out)
    (inbox / "scan_4.png").unlink()
    _, after = scan(inbox, out)
    assert "scan_4.png" not in digits_by_path(after)
    assert after["summary"]["files"] == 5
    assert "scan_4.png" not in (out / "report.html").read_text(encoding="utf-8")


def test_young_file_waits_for_a_later_run(inbox, tmp_path):
    out = tmp_path / "out"
    young = draw(inbox, "arriving.png", 5, mtime=time.time())
    _, first = scan(inbox, out, "--min-age", "300")
    assert first["run"]["pending"] == 1 and first["run"]["processed"] == 6
    assert "arriving.png" not in digits_by_path(first)
    os.utime(young, (time.time() - 400, time.time() - 400))
    _, second = scan(inbox, out, "--min-age", "300")
    assert (second["run"]["processed"], second["run"]["pending"]) == (1, 0)
    assert digits_by_path(second)["arriving.png"] == 5


def test_a_second_run_exits_75_at_once(inbox, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / LOCK_NAME, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run holds the output folder
        started = time.monotonic()
        result, _ = scan(inbox, out)
        elapsed = time.monotonic() - started
    assert result.returncode == 75
    assert len(result.stderr.strip().splitlines()) == 1 and "another batchdigits run" in result.stderr
    assert elapsed < 20 and not (out / "results.json").exists()


def _ledger_rows(out: Path) -> int:
    """How many scan_N files the ledger holds (read-only, as another process sees it)."""
    try:
        with sqlite3.connect(f"file:{out / STATE_NAME}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM files WHERE CAST(path AS TEXT) LIKE 'scan%'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _start_scan(folder: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "batchdigits", "scan", str(folder), "-o", str(out), "-j", "1", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_first_commit(out: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while _ledger_rows(out) == 0:
        assert process.poll() is None, "the run ended before it committed a batch"
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture
def big_inbox(tmp_path):
    folder = tmp_path / "big"
    for index in range(700):
        draw(folder, f"scan_{index}.png", index % 10, seed=index)
    return folder


def test_concurrent_runs_and_sigkill_then_a_complete_rerun(big_inbox, tmp_path):
    out = tmp_path / "out"
    small = tmp_path / "small"
    draw(small, "one.png", 1)
    # A previous report exists; a killed run must leave it whole.
    result, _ = scan(small, out)
    assert result.returncode == 0
    previous_report = (out / "report.html").read_bytes()
    previous_results = (out / "results.json").read_bytes()

    running = _start_scan(big_inbox, out)
    _wait_for_first_commit(out, running)
    second, _ = scan(big_inbox, out)
    assert second.returncode == 75  # a real second process while the first holds the lock
    os.kill(running.pid, signal.SIGKILL)
    running.wait()

    assert (out / "report.html").read_bytes() == previous_report
    assert (out / "results.json").read_bytes() == previous_results
    committed = _ledger_rows(out)
    assert 0 < committed < 700

    result, after = scan(big_inbox, out)
    assert result.returncode == 0, result.stderr
    paths = [item["path"] for item in after["items"]]
    assert len(paths) == len(set(paths)) == 700
    assert after["run"]["processed"] + after["run"]["unchanged"] == 700
    assert after["run"]["unchanged"] == committed  # nothing committed is decoded twice
    assert all(digit == int(path.split("_")[1].split(".")[0]) % 10
               for path, digit in digits_by_path(after).items() if digit is not None)


def test_missing_input_folder_exits_3_and_leaves_report_and_state(inbox, tmp_path):
    out = tmp_path / "out"
    scan(inbox, out)
    before = {name: (out / name).read_bytes() for name in ("report.html", "results.json", STATE_NAME)}
    inbox.rename(tmp_path / "unmounted")
    result, _ = scan(inbox, out)
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert {name: (out / name).read_bytes() for name in before} == before


# A real scan process, with one file made to vanish or refuse reading between listing and decoding.
_RACE = """
import os, sys
import batchdigits.recognition.runner as runner
from batchdigits.cli import main
original = runner.open_regular_file
def racing(path):
    if path.name == "gone.png":
        os.unlink(path)
    if path.name == "locked.png":
        raise PermissionError(13, "Permission denied")
    return original(path)
runner.open_regular_file = racing
sys.argv = ["batchdigits", *sys.argv[1:]]
main()
"""


def test_vanished_and_unreadable_files_are_retried_not_failed(inbox, tmp_path):
    out = tmp_path / "out"
    draw(inbox, "gone.png", 2)
    draw(inbox, "locked.png", 3)
    result = subprocess.run([sys.executable, "-c", _RACE, "scan", str(inbox), "-o", str(out), "-j", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["run"]["pending"] == 2 and document["run"]["failed"] == 0
    assert {"gone.png", "locked.png"}.isdisjoint(digits_by_path(document))

    _, later = scan(inbox, out)  # the file became readable: read now, once
    assert later["run"]["processed"] == 1
    assert digits_by_path(later)["locked.png"] == 3
    assert "gone.png" not in digits_by_path(later)


def test_failed_file_is_recorded_once_and_read_again_when_it_changes(inbox, tmp_path):
    out = tmp_path / "out"
    broken = inbox / "half-copied.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    result, first = scan(inbox, out)
    assert result.returncode == 1 and first["run"]["failed"] == 1
    result, second = scan(inbox, out)
    assert result.returncode == 0 and second["run"]["processed"] == 0
    assert second["summary"]["failed"] == 1  # still shown, not decoded again
    draw(inbox, "half-copied.png", 9, mtime=time.time() - 120)  # the copy finished
    result, third = scan(inbox, out)
    assert result.returncode == 0 and digits_by_path(third)["half-copied.png"] == 9


def test_a_damaged_state_file_is_moved_aside_and_rebuilt(inbox, tmp_path):
    out = tmp_path / "out"
    scan(inbox, out)
    (out / STATE_NAME).write_bytes(b"this is not a database" * 100)
    result, after = scan(inbox, out)
    assert result.returncode == 0
    assert "state file was damaged" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert after["run"]["processed"] == 6
    assert any(name.name.startswith(STATE_NAME + ".damaged-") for name in out.iterdir())


def test_watch_scans_until_interrupted(inbox, tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "batchdigits", "watch", str(inbox), "-o", str(out),
                                "--every", "1", "-j", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _watch_two_passes(process, inbox, out)
    finally:
        if process.poll() is None:  # a failed assertion must not leave the watcher running
            process.kill()


def _watch_two_passes(process: subprocess.Popen, inbox: Path, out: Path) -> None:
    deadline = time.monotonic() + 120
    while not (out / "results.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    draw(inbox, "arrived-later.png", 4)
    while "arrived-later.png" not in (out / "results.json").read_text(encoding="utf-8"):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    # results.json is written before the pass prints its line: wait for the line, however busy the machine.
    printed: list[str] = []

    def read_lines() -> None:
        for line in process.stdout:
            printed.append(line)

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    while sum("report.html" in line for line in printed) < 2:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    reader.join(timeout=60)
    stderr = process.stderr.read()
    assert process.returncode == 0
    assert "Traceback" not in stderr and "stopped" in stderr
    assert sum("report.html" in line for line in printed) == 2  # one line per pass that read something


_MODULES_AFTER = """
import sys
from batchdigits.cli import main
sys.argv = ["batchdigits", *sys.argv[1:]]
try:
    main()
finally:
    heavy = sorted(name for name in ("sklearn", "skimage", "scipy", "PIL", "jinja2") if name in sys.modules)
    print("imported:", ",".join(heavy), file=sys.stderr)
"""


def test_a_run_with_nothing_new_only_lists_files_and_keeps_the_report(inbox, tmp_path):
    out = tmp_path / "out"
    scan(inbox, out)
    report = out / "report.html"
    before = (report.stat().st_mtime_ns, report.read_bytes())
    result = subprocess.run([sys.executable, "-c", _MODULES_AFTER, "scan", str(inbox), "-o", str(out), "-q"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.strip() == "imported:"  # no model unpickled, no image decoded, no template rendered
    assert (report.stat().st_mtime_ns, report.read_bytes()) == before
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert (document["run"]["processed"], document["run"]["unchanged"]) == (0, 6)
    scan(inbox, out, "--review-below", "0.5")  # what the report shows changed: it is rewritten
    assert "<strong>50%</strong>" in report.read_text(encoding="utf-8")


def test_a_file_refused_unread_is_recorded_once(inbox, tmp_path):
    out = tmp_path / "out"
    huge = inbox / "huge.png"
    with open(huge, "wb") as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: past the size cap without using the disk
    result, first = scan(inbox, out)
    assert result.returncode == 1 and "too large" in {i["path"]: i for i in first["items"]}["huge.png"]["reason"]
    result, second = scan(inbox, out)
    assert result.returncode == 0 and second["run"]["processed"] == 0 and second["summary"]["failed"] == 1
