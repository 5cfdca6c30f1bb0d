"""Where the bundled templates and model are: inside the installed package, or the source tree."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNDLED_MODEL_NAME = "digits-svc.joblib"


def asset_dir(name: str) -> Path:
    """The folder `templates` or `models`: packaged in the wheel, else at the top of a checkout."""
    packaged = Path(str(resources.files("batchdigits") / name))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / name


def bundled_model_path() -> Path:
    """The model file that ships with batchdigits."""
    return asset_dir("models") / BUNDLED_MODEL_NAME
