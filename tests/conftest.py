"""Shared fixtures: the bundled model, and a way to run the installed command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drawing import REPO, SAMPLES  # noqa: E402


@pytest.fixture(scope="session")
def bundled_model():
    """The model that ships with batchdigits, verified and loaded once."""
    from batchdigits.recognition.model import load_model
    from batchdigits.resources import bundled_model_path

    return load_model(bundled_model_path())


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run `python -m batchdigits ARGS` in a subprocess, as a user or cron would."""
    environment = {**os.environ, **(env or {})}
    environment.pop("BATCHDIGITS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "batchdigits", *args],
        cwd=cwd or REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    """The run_cli helper as a fixture."""
    return run_cli


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The project's own sample images."""
    return SAMPLES
