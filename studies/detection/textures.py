"""The realistic arm's photographs: textures cut from photographs that the held-out look never shows.

``write_textures(folder)`` (default ``runs/detection_textures`` in the checkout) writes PNG textures
cut from photographs that come with the installed packages (no download): the two views of
scikit-image's stereo motorcycle, matplotlib's portrait sample, and pybullet_data's photographs of a
wooden table top, a metal tray, grass, a motor and a wheel. Each photograph is cut as the held-out
textures are (``studies.heldout.textures.crops``: the whole and its four quadrants, central squares)
and resized to ``size`` x ``size`` px. None of them is one of the held-out photographs
(``studies.heldout.textures.PHOTOS``), so the realistic arm trains on photographs and is scored on
others. ``studies/detection/realistic.yaml`` names the folder in ``textures.folders`` (relative to the
working folder: studies run from the repository root). Writing is idempotent: files that exist are kept.

``python -m studies.detection.textures [FOLDER] [--size PX]`` writes them (to preview the arm first).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pybullet_data

from dr_sim.errors import ConfigError
from dr_sim.extras import require
from studies.heldout.textures import texture_command, write_photo_textures

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "runs" / "detection_textures"
#: pybullet_data's photographs (paths inside it): name -> file.
PYBULLET_PHOTOS = {
    "wood": "table/table.png",
    "tray": "tray/tray.jpg",
    "lawn": "roboschool/models_outdoor/stadium/stadium_grass.jpg",
    "motor": "quadruped/t-motor.jpg",
    "wheel": "racecar/meshes/wheel.jpg",
}


def _read(path: str | Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB; one ``ConfigError`` when it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ConfigError(f"photograph {str(path)!r} cannot be read; reinstall the package that ships it")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _motorcycle(view: int) -> np.ndarray:
    data = require("skimage.data", "the realistic arm's photographs")
    return np.ascontiguousarray(data.stereo_motorcycle()[view][..., :3].astype(np.uint8))


def _portrait() -> np.ndarray:
    cbook = require("matplotlib.cbook", "the realistic arm's photographs")
    return _read(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def photos() -> dict[str, Callable[[], np.ndarray]]:
    """Name -> loader of each training photograph ((H, W, 3) uint8 RGB)."""
    loaders: dict[str, Callable[[], np.ndarray]] = {
        "motorcycle_left": lambda: _motorcycle(0),
        "motorcycle_right": lambda: _motorcycle(1),
        "portrait": _portrait,
    }
    root = Path(pybullet_data.getDataPath())
    for name, file in PYBULLET_PHOTOS.items():
        loaders[name] = partial(_read, root / file)
    return loaders


def write_textures(folder: str | Path = DEFAULT_FOLDER, size: int = 128) -> list[Path]:
    """Write the training textures (``size`` px squares, PNG) into ``folder``; returns their paths."""
    return write_photo_textures(photos(), folder, size)


def main(argv: list[str] | None = None) -> int:
    """``python -m studies.detection.textures [FOLDER] [--size PX]``: write the textures, print how many."""
    return texture_command(
        argv, "studies.detection.textures", write_textures, DEFAULT_FOLDER, "training photo textures"
    )


if __name__ == "__main__":
    sys.exit(main())
