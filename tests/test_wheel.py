"""The built wheel carries its templates and model, and works from a fresh virtual environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from drawing import REPO, SAMPLES


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        check=True, capture_output=True, text=True,
    )
    return next(out.glob("batchdigits-*.whl"))


def test_wheel_contains_templates_and_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("batchdigits/templates/report.html", "batchdigits/templates/report.js",
                     "batchdigits/templates/evaluation.html", "batchdigits/models/digits-svc.joblib",
                     "batchdigits/models/digits-svc.json", "batchdigits/cli.py",
                     "batchdigits/recognition/glyph.py", "batchdigits/output/report.py"):
        assert expected in names


def test_wheel_in_a_fresh_venv_scans_the_samples_from_any_folder(wheel, tmp_path):
    # The venv sees the already installed dependencies, but batchdigits only from the wheel.
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"
    # The test's own interpreter's packages come after the venv's own (a .pth file appends).
    venv_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(venv_site, "outer-site-packages.pth").write_text("\n".join(sorted(ours)) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "--force-reinstall", str(wheel)], check=True, capture_output=True, text=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    located = subprocess.run([str(python), "-c", "import batchdigits; print(batchdigits.__file__)"],
                             cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert str(environment) in located.stdout
    result = subprocess.run([str(environment / "bin" / "batchdigits"), "scan", str(SAMPLES), "-o", "out"],
                            cwd=elsewhere, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    document = json.loads((elsewhere / "out" / "results.json").read_text())
    assert document["summary"]["files"] == 28
