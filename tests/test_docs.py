"""The README documents the commands, the two set-up commands, and what CI runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from drawing import REPO, SAMPLES

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands(label: str) -> str:
    match = re.search(rf"<!-- {label} -->\s*```(?:sh|bash)?\n(.+?)\n```", README, re.S)
    assert match, f"README lacks the {label} block"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert _commands("test-command") in ci


def test_readme_install_command_scans_the_samples():
    command = _commands("install-command")
    assert "pip install ." in command and "batchdigits scan samples" in command


def test_readme_documents_every_command_and_exit_code():
    for command in ("batchdigits scan", "batchdigits watch", "batchdigits train", "batchdigits evaluate",
                    "batchdigits --version"):
        assert command in README
    for code in ("0", "1", "2", "3", "75"):
        assert re.search(rf"^\|\s*`?{code}`?\s*\|", README, re.M), f"exit code {code} undocumented"
    from batchdigits.errors import ExitCode

    assert sorted(int(code) for code in ExitCode) == [0, 1, 2, 3, 75]


def test_samples_script_draws_the_bundled_samples(tmp_path):
    from drawing import make_samples

    written = {path.relative_to(tmp_path).as_posix() for path in make_samples.make_samples(tmp_path) if path.is_file()}
    bundled = {path.relative_to(REPO / "samples").as_posix() for path in (REPO / "samples").rglob("*")
               if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts}
    assert written == bundled and len(written) >= 20


def test_readme_shows_a_cron_line_and_a_systemd_timer_that_the_cli_accepts(cli):
    cron = re.search(r"^\*/5 \* \* \* \* (batchdigits scan .*)$", README, re.M)
    assert cron and "[Timer]" in README and "[Service]" in README
    arguments = cron.group(1).split()[1:]
    help_text = cli(*arguments[:1], "--help").stdout
    assert all(option in help_text for option in arguments if option.startswith("-"))


def test_the_schema_document_names_every_field_the_scan_writes(cli, samples_dir, tmp_path):
    schema = (REPO / "docs" / "results-schema.md").read_text(encoding="utf-8")
    result = cli("scan", str(samples_dir), "-o", str(tmp_path / "out"), "-q")
    assert result.returncode in (0, 1), result.stderr
    document = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert re.search(rf"^\| `schema_version`[^|]*\| int \| {document['schema_version']} \|", schema, re.M)
    assert f"schema version {document['schema_version']};" in README
    numbers = [item for item in document["items"] if item["digits"] and len(item["digits"]) > 1]
    assert numbers, "the samples hold a number"
    fields = (set(document) | set(document["items"][0]) | set(numbers[0]["digits"][0])
              | set(document["summary"]) | set(document["run"]) | set(document["model"]))
    undocumented = sorted(name for name in fields if f"`{name}`" not in schema)
    assert undocumented == []
    header = (tmp_path / "out" / "results.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    documented = re.search(r"Columns, version 1's first and in their order: `([^`]+)`, then\s+\*2\* `([^`]+)`",
                           schema, re.S)
    assert documented and header == [column.strip() for part in documented.groups() for column in part.split(",")]


def _batchdigits_on_path(folder: Path) -> dict:
    """An environment whose `batchdigits` on PATH is this interpreter's, as after `pip install .`."""
    folder.mkdir()
    launcher = folder / "batchdigits"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m batchdigits "$@"\n')
    launcher.chmod(0o755)
    environment = {key: value for key, value in os.environ.items() if key != "BATCHDIGITS_DEBUG"}
    environment["PATH"] = f"{folder}{os.pathsep}{environment['PATH']}"
    return environment


def test_the_readme_quick_start_prints_what_it_shows(tmp_path):
    # The opening example is a shell transcript: run each `$` line and compare with the lines under it.
    transcript = re.match(r"# batchdigits\n.+?```\n(.+?)\n```", README, re.S).group(1).splitlines()
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    environment = _batchdigits_on_path(tmp_path / "bin")
    steps = []
    for line in transcript:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line.replace("/home/me", str(tmp_path)))
    assert [command.split()[0] for command, _ in steps] == ["batchdigits", "grep"]
    for command, shown in steps:
        result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=environment,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == shown, command


def test_the_readme_scheduled_commands_run_quietly(tmp_path):
    # The cron line and the systemd unit's ExecStart, with the user's folders swapped for real ones.
    cron = re.search(r"^\*/5 \* \* \* \* (batchdigits scan .*)$", README, re.M).group(1)
    service = re.search(r"^ExecStart=%h/\.local/bin/(batchdigits scan .*)$", README, re.M).group(1)
    shutil.copytree(SAMPLES / "paint", tmp_path / "scans" / "paint")
    for path in (tmp_path / "scans" / "paint").iterdir():  # old enough for --min-age, wherever the clone is fresh
        os.utime(path, (path.stat().st_atime - 3600, path.stat().st_mtime - 3600))
    environment = _batchdigits_on_path(tmp_path / "bin")
    for command in (cron, service):
        command = command.replace("/srv/scans-report", str(tmp_path / "report")).replace(
            "/srv/scans", str(tmp_path / "scans"))
        result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=environment,
                                capture_output=True, text=True, timeout=600)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), command
    assert json.loads((tmp_path / "report" / "results.json").read_text())["summary"]["files"] == len(
        list((SAMPLES / "paint").iterdir()))


def test_every_option_in_the_readme_tables_is_one_the_command_accepts(cli):
    sections = re.findall(r"^### `batchdigits (\w+)[^`]*`\n(.+?)(?=^##)", README, re.S | re.M)
    assert {name for name, _ in sections} >= {"scan", "watch", "train", "evaluate"}
    for name, text in sections:
        help_text = cli(name, "--help", env={"COLUMNS": "200"}).stdout
        for cell in re.findall(r"^\| `([^`]+)` \|", text, re.M):
            for option in re.findall(r"--?[a-z][a-z-]*", cell):
                assert option in help_text, f"batchdigits {name} {option}"
        excluded = set(re.findall(r"`(--[a-z-]+)`", " ".join(re.findall(r"\(except ([^)]+)\)", text))))
        for option in re.findall(r"`(--[a-z-]+)", text):
            assert (option in help_text) != (option in excluded), f"batchdigits {name} {option}"


def test_the_readme_version_line_is_what_the_command_prints(cli):
    shown = re.search(r"Prints `(batchdigits [^`]+)`", README).group(1)
    assert cli("--version").stdout.strip() == shown


def test_the_readme_review_loop_runs_on_an_exported_corrections_file(tmp_path):
    # The scans run as shown; the training line is checked by its options (the real one takes
    # minutes) and a small model trained on the same file stands in for its output.
    from batchdigits.learning.trainer import train_model
    from drawing import digit_image

    scan_labels, train, scan_model = _commands("corrections").splitlines()
    (tmp_path / "inbox").mkdir()
    for digit in (2, 5, 8):
        digit_image(digit, size=96, width=6).save(tmp_path / "inbox" / f"d{digit}.png")
    (tmp_path / "corrections.csv").write_text("path,text\nd2.png,2\nd5.png,5\nd8.png,3\n", encoding="utf-8")
    environment = _batchdigits_on_path(tmp_path / "bin")

    def run(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", command], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=600)

    assert run(scan_labels).returncode == 0
    document = json.loads((tmp_path / "report" / "results.json").read_text())
    assert sorted(item["label"] for item in document["items"]) == ["2", "3", "5"]
    assert run(train + " --help").returncode == 0
    train_model(tmp_path / "my-model.joblib", copies=0, synthetic=0, numbers=24,
                labels=tmp_path / "corrections.csv", images=tmp_path / "inbox", jobs=2)
    assert run(scan_model).returncode == 0
    document = json.loads((tmp_path / "report" / "results.json").read_text())
    assert document["model"]["name"] == "my-model" and document["summary"]["files"] == 3
