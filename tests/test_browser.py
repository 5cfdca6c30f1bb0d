"""The report in a real browser (Debian's Chromium driven by Playwright): loads cleanly, filters, confusion clicks."""

from __future__ import annotations

import os
import shutil

import pytest

from drawing import digit_image


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _require_browser():
    """Playwright and a Chromium executable, or a skip (a failure where CI demands the browser)."""
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if executable is None or sync_playwright is None:
        message = "browser tests need Chromium and the playwright package (`.ci/run` installs them)"
        if os.environ.get("BATCHDIGITS_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return executable, sync_playwright


@pytest.fixture(scope="module")
def labelled_report(tmp_path_factory):
    """A scanned labelled folder (two drawings per digit, one broken file, one blank page)."""
    from conftest import run_cli

    root = tmp_path_factory.mktemp("browser")
    folder = root / "labelled"
    for digit in range(10):
        for copy in range(2):
            path = folder / str(digit) / f"d{digit}_{copy}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            digit_image(digit, size=120, width=7, seed=copy + 3).save(path)
    (folder / "broken.png").write_bytes(b"not a picture")
    digit_image(0, size=120).point(lambda v: 255).save(folder / "blank.png")
    result = run_cli("scan", str(folder), "-o", str(root / "report"))
    assert result.returncode == 1, result.stderr
    return root / "report" / "report.html"


@pytest.fixture(scope="module")
def browser():
    executable, sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield instance
        instance.close()


def _open(browser, report, **context):
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, **context)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"{message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("request", lambda request: problems.append(f"request: {request.url}")
            if not request.url.startswith(("file:", "data:")) else None)
    page.goto(report.as_uri(), wait_until="load")
    return page, problems


def _visible_rows(page) -> list[dict]:
    return page.evaluate(
        "Array.from(document.querySelectorAll('#results tbody tr')).filter(r => !r.hidden)"
        ".map(r => ({status: r.dataset.status, digit: r.dataset.digit, truth: r.dataset.truth}))"
    )


def test_report_loads_without_console_errors_or_network_and_a_screenshot_is_taken(browser, labelled_report, tmp_path):
    page, problems = _open(browser, labelled_report)
    assert page.locator("#shown").inner_text() == "Showing 22 of 22"
    assert "Accuracy" in page.locator(".accuracy h2").inner_text()
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    page.close()
    assert problems == []


def test_status_and_digit_filters_hide_the_right_rows_and_keep_state_in_the_url(browser, labelled_report):
    page, problems = _open(browser, labelled_report)
    page.get_by_label("Failed").check()
    assert [row["status"] for row in _visible_rows(page)] == ["failed"]
    assert "status=failed" in page.url
    page.get_by_label("All").check()
    page.select_option("#digit-filter", "7")
    rows = _visible_rows(page)
    assert rows and all(row["digit"] == "7" for row in rows)
    assert page.locator("#shown").inner_text() == f"Showing {len(rows)} of 22"
    page.fill("#name-filter", "no such name")
    page.locator("#empty").wait_for(state="visible")  # after the filter's debounce
    reloaded, _ = _open(browser, labelled_report)
    reloaded.goto(page.url)
    reloaded.reload()
    assert reloaded.locator("#digit-filter").input_value() == "7"
    page.close()
    reloaded.close()
    assert problems == []


def test_a_confusion_matrix_click_filters_to_that_cell(browser, labelled_report):
    page, problems = _open(browser, labelled_report)
    cell = page.locator(".confusion td.diag a").first
    expected = int(cell.inner_text())
    cell.click()
    # the cell's link sets the hash; the browser fires hashchange after the click returns.
    page.wait_for_function(f"document.querySelectorAll('#results tbody tr:not([hidden])').length === {expected}",
                           timeout=5000)
    rows = _visible_rows(page)
    assert len(rows) == expected > 0
    assert all(row["truth"] == row["digit"] == "0" for row in rows)
    assert not page.locator("#cell-filter").is_hidden()
    page.locator("#cell-filter a").click()
    # "show all" goes to "#", and again hashchange comes after the click.
    page.wait_for_function("document.querySelectorAll('#results tbody tr:not([hidden])').length === 22", timeout=5000)
    assert len(_visible_rows(page)) == 22 and page.locator("#cell-filter").is_hidden()
    page.close()
    assert problems == []


def test_every_row_is_there_with_javascript_off(browser, labelled_report):
    page, _ = _open(browser, labelled_report, java_script_enabled=False)
    assert page.locator("#results tbody tr").count() == 22
    assert page.locator("#results tbody tr:visible").count() == 22
    page.close()


def test_controls_are_labelled_and_reachable_by_keyboard(browser, labelled_report):
    page, _ = _open(browser, labelled_report)
    reached = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.id || document.activeElement.name || ''"))
    assert {"status", "digit-filter", "text-filter", "name-filter", "sort"} <= reached
    for control in ("#digit-filter", "#text-filter", "#name-filter", "#sort"):
        assert page.locator(control).evaluate("element => element.labels.length") == 1
    page.close()


@pytest.fixture(scope="module")
def numbers_report(tmp_path_factory):
    """A scanned folder of numbers filed under folders named with their digits, and one lone digit."""
    from conftest import run_cli
    from drawing import number_image

    root = tmp_path_factory.mktemp("numbers")
    folder = root / "numbers"
    for index, text in enumerate(["90210", "4711", "305", "88213"]):
        (folder / text).mkdir(parents=True)
        number_image(text, gap=0.3, seed=index)[0].save(folder / text / f"n{index}.png")
    (folder / "7").mkdir()
    digit_image(7, size=120, width=7).save(folder / "7" / "seven.png")
    result = run_cli("scan", str(folder), "-o", str(root / "report"))
    assert result.returncode == 0, result.stderr
    return root / "report" / "report.html"


def _visible_texts(page) -> list[str]:
    return page.evaluate("Array.from(document.querySelectorAll('#results tbody tr')).filter(r => !r.hidden)"
                         ".map(r => r.dataset.text)")


def test_numbers_show_boxes_and_digits_and_filter_and_sort_as_whole_numbers(browser, numbers_report, tmp_path):
    page, problems = _open(browser, numbers_report)
    assert page.locator(".boxed .box").count() == 5 + 4 + 3 + 5  # a box over each digit of each number
    assert page.locator(".strip li").count() == 17  # each digit's 8x8 view and confidence
    assert page.locator(".bignumber").all_inner_texts() == ["305", "4711", "88213", "90210"]  # name order
    assert "Character accuracy" in page.locator(".accuracy").inner_text()
    from playwright.sync_api import expect

    page.fill("#text-filter", "021")
    expect(page.locator("#shown")).to_have_text("Showing 1 of 5")  # after the filter's debounce
    assert _visible_texts(page) == ["90210"] and "text=021" in page.url
    page.fill("#text-filter", "")
    expect(page.locator("#shown")).to_have_text("Showing 5 of 5")
    page.select_option("#digit-filter", "1")  # a digit matches the numbers that hold it
    assert sorted(_visible_texts(page)) == ["4711", "88213", "90210"]
    page.select_option("#digit-filter", "")
    page.select_option("#sort", "number")
    assert _visible_texts(page) == ["7", "305", "4711", "88213", "90210"]
    shot = tmp_path / "numbers.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    page.close()
    assert problems == []


@pytest.fixture(scope="module")
def review_report(tmp_path_factory):
    """A scanned folder with every result flagged (--review-below 1): lone digits, a number, a
    two-page TIFF, a formula-like name and a blank page; no folder gives a known answer."""
    from conftest import run_cli
    from drawing import number_image

    root = tmp_path_factory.mktemp("review")
    folder = root / "inbox"
    folder.mkdir()
    for digit in (3, 7):
        digit_image(digit, size=120, width=7).save(folder / f"d{digit}.png")
    digit_image(5, size=120, width=7).save(folder / "=5.png")
    number_image("4711", gap=0.35, seed=2)[0].save(folder / "n4711.png")
    digit_image(1, size=120, width=7).save(folder / "doc.tif", save_all=True,
                                          append_images=[digit_image(2, size=120, width=7)])
    digit_image(0, size=120).point(lambda v: 255).save(folder / "blank.png")
    result = run_cli("scan", str(folder), "-o", str(root / "report"), "--review-below", "1")
    assert result.returncode == 0, result.stderr
    return root / "report" / "report.html"


def _current(page) -> str | None:
    return page.evaluate("(() => { const row = document.querySelector('#results tr.current');"
                         " return row ? row.dataset.path + (row.dataset.page ? '#' + row.dataset.page : '') : null; })()")


def _go_to(page, target: str) -> None:
    """Move with j (down) or k (up) until the row `target` (path, or path#page) is the current one."""
    order = page.evaluate("Array.from(document.querySelectorAll('#results tbody tr'))"
                          ".map(r => r.dataset.path + (r.dataset.page ? '#' + r.dataset.page : ''))")
    key = "j" if _current(page) is None or order.index(target) > order.index(_current(page)) else "k"
    for _ in range(len(order)):
        if _current(page) == target:
            return
        page.keyboard.press(key)
    assert _current(page) == target, f"{key} never reached {target}"


def _answers(page) -> dict[str, list[str]]:
    """Each row's answer as the page shows it: {path(#page): (row class, the answer's words)}."""
    return page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('#results tbody tr'))"
        ".filter(r => r.querySelector('.person'))"
        ".map(r => [r.dataset.path + (r.dataset.page ? '#' + r.dataset.page : ''),"
        " [r.classList.contains('corrected') ? 'corrected' : 'confirmed', r.querySelector('.person').textContent]]))")


def test_rows_are_confirmed_and_corrected_with_the_keyboard_kept_over_a_reload_and_exported(
        browser, review_report, tmp_path):
    from conftest import run_cli

    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.goto(review_report.as_uri())
    texts = page.evaluate("Object.fromEntries(Array.from(document.querySelectorAll('#results tbody tr'))"
                          ".map(r => [r.dataset.path + (r.dataset.page ? '#' + r.dataset.page : ''), r.dataset.text]))")
    flagged_rows = set(page.evaluate("Array.from(document.querySelectorAll('#results tbody tr[data-review=\"yes\"]'))"
                                     ".map(r => r.dataset.path + (r.dataset.page ? '#' + r.dataset.page : ''))"))
    flagged = len(flagged_rows)
    assert flagged >= 4 and "blank.png" not in flagged_rows  # nearly every result with a digit
    counter = page.locator("#review-count")
    assert counter.inner_text() == f"{flagged} of {flagged} flagged left to review · 0 reviewed, 0 of them corrected"
    assert page.locator("#export").is_disabled()

    page.keyboard.press("j")
    first = _current(page)
    page.keyboard.press("k")  # already at the top: stays
    assert _current(page) == first
    page.keyboard.press("Enter")  # confirms the model's answer and moves on
    assert _current(page) != first
    _go_to(page, "d7.png")
    page.keyboard.press("1")
    page.keyboard.press("2")
    assert "typing 12" in page.locator("#results tr.current .person").inner_text()
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")
    assert _answers(page)["d7.png"] == ["corrected", "✎ corrected to 1"]
    assert "line-through" in page.locator('#results tr[data-path="d7.png"] td.digit').evaluate(
        "cell => getComputedStyle(cell).textDecorationLine")
    page.keyboard.press("Escape")  # undoes that correction, back on its row
    assert "d7.png" not in _answers(page) and _current(page) == "d7.png"
    page.keyboard.press("9")
    page.keyboard.press("Escape")  # drops what was typed
    assert "d7.png" not in _answers(page)
    page.keyboard.press("9")
    page.keyboard.press("Enter")
    _go_to(page, "n4711.png")
    for key in "4717":
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    _go_to(page, "doc.tif#2")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowUp")
    assert _current(page) == "doc.tif#2"
    # Digits typed into a filter are the filter's, not an answer.
    page.fill("#name-filter", "")
    page.locator("#name-filter").press("5")
    page.locator("#name-filter").press("Escape")
    assert page.locator("#results .person.typing").count() == 0

    expected = {first: texts[first], "d7.png": "9", "n4711.png": "4717", "doc.tif#2": "2"}
    shown = _answers(page)
    assert {key: value[1].split()[-1] for key, value in shown.items()} == expected
    assert shown["d7.png"][0] == shown["n4711.png"][0] == "corrected"
    answered_flagged = len(flagged_rows & set(expected))
    assert counter.inner_text().startswith(f"{flagged - answered_flagged} of {flagged} flagged left to review · 4 reviewed")

    page.keyboard.press("n")  # the next flagged row without an answer
    jumped = _current(page)
    assert jumped not in expected and page.locator("#results tr.current").get_attribute("data-review") == "yes"

    page.reload()
    assert _answers(page) == shown and counter.inner_text().startswith(f"{flagged - answered_flagged} of {flagged}")
    with page.expect_download() as download:
        page.click("#export")
    assert download.value.suggested_filename == "corrections.csv"
    exported = tmp_path / "corrections.csv"
    download.value.save_as(exported)
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "path,text,page"  # a page of a document is among them
    rows = {}
    for line in lines[1:]:
        path, text, page_number = line.split(",")
        rows[path.removeprefix("'") + (f"#{page_number}" if page_number else "")] = text
        assert not path.startswith("=")  # results.csv's guard against formulas, kept
    assert rows == expected
    context.close()
    assert problems == []

    # The exported file is what --labels reads: the person's answers become the label column.
    scanned = tmp_path / "again"
    result = run_cli("scan", str(review_report.parent.parent / "inbox"), "-o", str(scanned), "--labels", str(exported))
    assert result.returncode == 0, result.stderr
    import csv
    import json

    with open(scanned / "results.csv", newline="", encoding="utf-8") as handle:
        labelled = {row["path"].removeprefix("'") + (f"#{row['page']}" if row["page"] else ""): row["label"]
                    for row in csv.DictReader(handle)}
    assert {key: label for key, label in labelled.items() if label} == expected
    items = json.loads((scanned / "results.json").read_text())["items"]
    assert {item["path"] + (f"#{item['page']}" if item["page"] else ""): item["label"] for item in items
            if item["label"] is not None} == expected
