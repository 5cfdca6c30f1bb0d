"""The README documents the commands, the two set-up commands, and what CI runs."""

from __future__ import annotations

import json
import re

from drawing import REPO

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
